"""`vmambair eval`: printed baselines, per-image CSV/JSON, the network path, errors and exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.evaluate.benchmarks import ENV_DATA_ROOT
from vmambair_core.models import build_model, tiny_config
from vmambair_core.weights import network_metadata, write_safetensors

runner = CliRunner()
SET5 = ("baby", "bird", "butterfly", "head", "woman")


@pytest.fixture(autouse=True)
def _no_lpips_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Whatever the machine has cached, these runs see no LPIPS weights."""
    for var in ("VMAMBAIR_LPIPS_BACKBONE", "VMAMBAIR_LPIPS_HEADS", ENV_DATA_ROOT):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


def _y(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr luma, rounded (written out independently of the package)."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return np.floor(16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0 + 0.5)


def _ref(out_rgb: np.ndarray, gt_rgb: np.ndarray, crop: int = 0) -> tuple[float, float]:
    a, b = _y(out_rgb), _y(gt_rgb)
    if crop:
        a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
    return (float(peak_signal_noise_ratio(b, a, data_range=255)),
            float(structural_similarity(b, a, data_range=255, gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False)))


def _rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]


def test_set5_bicubic_json_csv_and_saved_images(data_dir: Path, tmp_path: Path) -> None:
    out_csv, saved = tmp_path / "rows.csv", tmp_path / "saved"
    r = runner.invoke(app, ["eval", "--bench", "Set5", "--model", "bicubic", "--data-root", str(data_dir / "sr"),
                            "--json", "--csv", str(out_csv), "--save-images", str(saved)])
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert abs(res["mean"]["psnr"] - 28.42) <= 0.01 and abs(res["mean"]["ssim"] - 0.8104) <= 0.0005
    assert res["convention"] == {"channel": "y", "y_mode": "matlab", "crop_border": 4, "text": "Y (matlab), crop 4"}
    assert res["model"] == "bicubic" and res["images_scored"] == 5 and res["lq"].startswith("LR = MATLAB bicubic")
    assert [p["method"] for p in res["published"]] == ["bicubic"] and res["published"][0]["psnr"] == 28.42
    assert [i["image"] for i in res["images"]] == list(SET5)
    rows = list(csv.DictReader(out_csv.open()))
    assert [row["image"] for row in rows] == list(SET5)
    for row, img in zip(rows, res["images"], strict=True):
        assert float(row["psnr"]) == img["psnr"] and float(row["ssim"]) == img["ssim"]
        assert (row["benchmark"], row["y_mode"], row["crop_border"], row["lpips"]) == ("Set5", "matlab", "4", "")
    assert sorted(p.name for p in (saved / "Set5").iterdir()) == [f"{n}.png" for n in SET5]
    baby = _rgb(saved / "Set5" / "baby.png")
    assert _ref(baby, _rgb(data_dir / "sr/Set5/HR/baby.png"), 4)[0] == pytest.approx(res["images"][0]["psnr"], abs=5e-3)


def test_human_table_and_basicsr_mode_named(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_DATA_ROOT, str(data_dir))  # the env var, and sets found below sr/
    r = runner.invoke(app, ["eval", "-b", "set5", "--model", "bicubic", "--y-mode", "basicsr"])
    assert r.exit_code == 0, r.output
    assert "28.43" in r.stdout and "Y (basicsr), crop 4" in r.stdout and "bicubic (literature)" in r.stdout


@pytest.mark.slow
def test_bsd100_bicubic_baseline(data_dir: Path) -> None:
    r = runner.invoke(app, ["eval", "--bench", "B100", "--model", "bicubic", "--data-root", str(data_dir), "--json"])
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["benchmark"] == "BSD100" and res["images_scored"] == 100
    assert abs(res["mean"]["psnr"] - 25.96) <= 0.01 and abs(res["mean"]["ssim"] - 0.6675) <= 0.0005


def test_rain100h_identity_per_image_and_mean(data_dir: Path, tmp_path: Path) -> None:
    out_csv = tmp_path / "rain.csv"
    r = runner.invoke(app, ["eval", "--bench", "Rain100H", "--model", "identity", "--data-root",
                            str(data_dir / "derain"), "--limit", "3", "--json", "--csv", str(out_csv)])
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["limited"] and res["images_in_set"] == 100 and res["convention"]["crop_border"] == 0
    folder = data_dir / "derain/Rain100H_test"
    refs = [_ref(_rgb(folder / "rain" / i["lq"]), _rgb(folder / "norain" / i["gt"])) for i in res["images"]]
    for img, (p, s) in zip(res["images"], refs, strict=True):
        assert img["psnr"] == pytest.approx(p, abs=5e-3) and img["ssim"] == pytest.approx(s, abs=1e-4)
    assert res["mean"]["psnr"] == pytest.approx(np.mean([p for p, _ in refs]), abs=5e-3)
    assert res["mean"]["ssim"] == pytest.approx(np.mean([s for _, s in refs]), abs=1e-4)
    assert {p["method"] for p in res["published"]} >= {"VmambaIR", "Restormer", "DerainNet"}
    assert res["lpips"]["metric"] is None and "LPIPS off" in res["lpips"]["note"]
    assert [row["image"] for row in csv.DictReader(out_csv.open())] == ["1", "2", "3"]


def _tiny_derain_set(folder: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(1)
    pairs = {}
    for name in ("a", "b"):
        clean = cv2.resize(rng.integers(0, 256, (3, 3, 3)).astype(np.uint8), (24, 24), interpolation=cv2.INTER_CUBIC)
        rainy = np.clip(clean.astype(int) + rng.integers(-40, 40, clean.shape), 0, 255).astype(np.uint8)
        pairs[name] = (rainy, clean)
        for sub, img in (("input", rainy), ("target", clean)):
            (folder / sub).mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(folder / sub / f"{name}.png"), img[..., ::-1])
    return pairs


def _tiny_args(
    tmp_path: Path, *, with_config: bool = False
) -> tuple[list[str], dict[str, tuple[np.ndarray, np.ndarray]], torch.nn.Module]:
    """A tiny derain set and network; ``with_config``: the file carries its config, as a training export does."""
    pairs = _tiny_derain_set(tmp_path / "set")
    torch.manual_seed(0)
    cfg = tiny_config("derain")
    net = build_model(cfg).eval()
    meta = network_metadata(cfg, "derain") if with_config else None
    weights = write_safetensors(net.state_dict(), tmp_path / "tiny.safetensors", meta)
    args = ["eval", "--lq", str(tmp_path / "set/input"), "--gt", str(tmp_path / "set/target"), "--task", "derain",
            "--weights", str(weights), "--device", "cpu", "--json"]
    return args, pairs, net


def test_real_preset_refuses_a_tiny_checkpoint(tmp_path: Path) -> None:
    """The CLI is honest: a file without a config is for the task's full network."""
    args, _, _ = _tiny_args(tmp_path)
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and "derain" in r.output and "Traceback" not in r.output


def test_network_path_with_a_tiny_model(tmp_path: Path) -> None:
    """A small network goes through the public path: its weights file says what it is."""
    args, pairs, net = _tiny_args(tmp_path, with_config=True)
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["model"].startswith("vmambair derain-tiny") and res["convention"]["crop_border"] == 0
    assert [i["image"] for i in res["images"]] == ["a", "b"]
    for img in res["images"]:
        rainy, clean = pairs[img["image"]]
        with torch.no_grad():  # 24x24: a multiple of 8, so no padding is involved
            y = net(torch.from_numpy(rainy.copy()).permute(2, 0, 1)[None].float() / 255).clamp(0, 1)
        out = np.floor(y[0].permute(1, 2, 0).numpy().astype(np.float64) * 255 + 0.5).astype(np.uint8)
        p, s = _ref(out, clean)
        assert img["psnr"] == pytest.approx(p, abs=5e-3) and img["ssim"] == pytest.approx(s, abs=1e-4)


def test_scores_in_fp32_unless_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The published numbers are fp32: eval must not switch to bf16 on a GPU by itself."""
    import vmambair_core.evaluate.session as session  # noqa: PLC0415

    asked: list[str] = []
    real = session.load_network_predictor

    def spy(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        asked.append(kwargs["precision"])
        return real(*args, **kwargs)

    monkeypatch.setattr(session, "load_network_predictor", spy)
    args, _, _ = _tiny_args(tmp_path, with_config=True)
    assert runner.invoke(app, args).exit_code == 0
    assert runner.invoke(app, [*args, "--precision", "bf16"]).exit_code == 0
    assert asked == ["fp32", "bf16"]


def test_missing_and_incomplete_sets(tmp_path: Path, data_dir: Path) -> None:
    r = runner.invoke(app, ["eval", "--bench", "Set5,Urban100,Rain100L", "--model", "bicubic",
                            "--data-root", str(data_dir)])
    assert r.exit_code == 1
    assert "Urban100 not found" in r.output and "Rain100L not found" in r.output and "Traceback" not in r.output
    hr = tmp_path / "Set5" / "HR"
    hr.mkdir(parents=True)
    for n in SET5[:3]:
        (hr / f"{n}.png").symlink_to(data_dir / "sr/Set5/HR" / f"{n}.png")
    r = runner.invoke(app, ["eval", "--bench", "Set5", "--model", "bicubic", "--data-root", str(tmp_path)])
    assert r.exit_code == 1 and "expected 5 images, found 3" in r.output and "missing: head, woman" in r.output
    r = runner.invoke(app, ["eval", "--bench", "Set5", "--model", "bicubic"])
    assert r.exit_code == 2 and "--data-root" in r.output and ENV_DATA_ROOT in r.output  # a usage error


def test_lpips_skipped_with_a_note_never_failing(data_dir: Path) -> None:
    r = runner.invoke(app, ["eval", "--bench", "Set14", "--model", "bicubic", "--data-root", str(data_dir / "sr"),
                            "--limit", "1", "--json"])
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["mean"]["lpips"] is None and res["lpips"]["note"].startswith("LPIPS skipped")
    assert "--lpips-weights" in res["lpips"]["note"] and "LPIPS skipped" in r.stderr
    assert res["mean"]["psnr"] is not None and [p["method"] for p in res["published"]][-1] == "bicubic"


def test_failed_images_exit_3_and_are_listed(tmp_path: Path, data_dir: Path) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    (gt / "bird.png").symlink_to(data_dir / "sr/Set5/HR/bird.png")
    (gt / "zzz.png").write_bytes(b"\x89PNG\r\n\x1a\ntruncated")
    r = runner.invoke(app, ["eval", "--gt", str(gt), "--model", "bicubic", "--json"])
    assert r.exit_code == 3
    (res,) = json.loads(r.stdout)["results"]
    assert res["images_scored"] == 1 and res["images"][1]["error"] and "zzz.png" in r.stderr


def test_usage_errors() -> None:
    r = runner.invoke(app, ["eval", "--model", "bicubic"])
    assert r.exit_code == 2 and "either --bench" in r.output
    r = runner.invoke(app, ["eval", "--bench", "Set5", "--model", "identity", "--data-root", "."])
    assert r.exit_code == 1
    r = runner.invoke(app, ["eval", "--bench", "Set5", "--model", "nope"])
    assert r.exit_code == 2


def test_trained_export_evaluates_by_task_name(data_dir: Path, tmp_path: Path) -> None:
    """A `vmambair train` export of a smaller network needs no seam: its metadata rebuilds it."""
    from vmambair_core.weights import network_metadata

    cfg = tiny_config("sisr", dim=8, blocks=1)
    w = write_safetensors(build_model(cfg).state_dict(), tmp_path / "mine.safetensors", network_metadata(cfg, "sisr"))
    r = runner.invoke(app, ["eval", "--bench", "Set5", "--data-root", str(data_dir / "sr"), "--task", "sisr",
                            "--weights", str(w), "--limit", "1", "--json", "--no-lpips"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["results"][0]["images_scored"] == 1 and doc["results"][0]["mean"]["psnr"] > 0
