"""`restore` and `eval` run official Real-ESRGAN generator files beside VmambaIR; bad ones fail in one line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.evaluate.benchmarks import ENV_DATA_ROOT

from ..weights.test_realesrgan import compact_reference, compact_state_dict
from .test_eval import _ref

runner = CliRunner()


@pytest.fixture(autouse=True)
def _no_lpips_weights(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("VMAMBAIR_LPIPS_BACKBONE", "VMAMBAIR_LPIPS_HEADS", ENV_DATA_ROOT):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


def _compact_file(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    sd = compact_state_dict(seed=3)
    path = tmp_path / "realesr-general-x4v3.pth"
    torch.save({"params": sd}, path)
    return path, sd


def _image(path: Path, h: int, w: int, seed: int) -> np.ndarray:
    """A smooth random RGB image (uint8), written as PNG (cv2 writes BGR)."""
    rng = np.random.default_rng(seed)
    small = rng.uniform(0, 255, (h // 4 + 1, w // 4 + 1, 3)).astype(np.float32)
    rgb = np.clip(cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).round().astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rgb[..., ::-1])
    return rgb


def _reference_output(sd: dict[str, torch.Tensor], rgb: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():  # sides are multiples of 8: the padding of the whole-image path is not involved
        y = compact_reference(sd, x).clamp(0, 1)[0].permute(1, 2, 0).numpy().astype(np.float64)
    return np.floor(y * 255 + 0.5).astype(np.uint8)


def test_restore_runs_a_compact_file_as_realsr(tmp_path: Path) -> None:
    weights, sd = _compact_file(tmp_path)
    rgb = _image(tmp_path / "in" / "a.png", 16, 24, seed=0)
    r = runner.invoke(app, ["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", str(weights),
                            "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "realsr" in r.stderr and "Real-ESRGAN SRVGGNetCompact x4 (2 convs, 8 feat)" in r.stderr
    out = cv2.imread(str(tmp_path / "out" / "a.png"), cv2.IMREAD_COLOR)[..., ::-1]
    assert out.shape == (64, 96, 3)
    diff = np.abs(out.astype(int) - _reference_output(sd, rgb).astype(int))
    assert diff.max() <= 1  # rounding of float32 noise at .5 boundaries only


@pytest.mark.parametrize("kind", ["truncated", "unknown"])
def test_restore_refuses_a_bad_file_in_one_line_and_writes_nothing(tmp_path: Path, kind: str) -> None:
    weights, _ = _compact_file(tmp_path)
    if kind == "truncated":
        weights.write_bytes(weights.read_bytes()[:-200])
    else:
        torch.save({"params": {"features.0.weight": torch.zeros(2, 3, 3, 3)}}, weights)
    _image(tmp_path / "in" / "a.png", 8, 8, seed=1)
    r = runner.invoke(app, ["restore", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", str(weights)])
    text = r.stderr.strip()
    assert r.exit_code == 1 and len(text.splitlines()) == 1 and "Traceback" not in r.output, r.output
    want = "truncated or corrupt" if kind == "truncated" else "holds 1 tensors under 'params': features.0.weight (2, 3, 3, 3)"
    assert want in text and not (tmp_path / "out").exists()


def test_eval_scores_a_compact_file_in_the_same_table(tmp_path: Path) -> None:
    weights, sd = _compact_file(tmp_path)
    pairs = {name: (_image(tmp_path / "lq" / f"{name}.png", 16, 16, seed=k),
                    _image(tmp_path / "gt" / f"{name}.png", 64, 64, seed=10 + k)) for k, name in enumerate("ab")}
    args = ["eval", "--lq", str(tmp_path / "lq"), "--gt", str(tmp_path / "gt"), "--model", "realesrgan",
            "--weights", str(weights), "--device", "cpu"]
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["model"] == "Real-ESRGAN SRVGGNetCompact [realesr-general-x4v3.pth]"
    assert res["mean"]["seconds"] == pytest.approx(np.mean([i["seconds"] for i in res["images"]]))
    for img in res["images"]:
        lq, gt = pairs[img["image"]]
        p, s = _ref(_reference_output(sd, lq), gt, crop=4)
        assert img["psnr"] == pytest.approx(p, abs=5e-3) and img["ssim"] == pytest.approx(s, abs=1e-4)
    table = runner.invoke(app, args, env={"COLUMNS": "160"}).stdout
    row = next(line for line in table.splitlines() if res["model"] in line)
    assert "s/image" in table and f"{res['mean']['psnr']:.2f}" in row
    assert re.search(r"│\s+\d+\.\d{3} │$", row.rstrip())  # time per image, last column


def test_eval_model_realesrgan_needs_a_real_esrgan_file(tmp_path: Path) -> None:
    _image(tmp_path / "gt" / "a.png", 32, 32, seed=2)
    base = ["eval", "--gt", str(tmp_path / "gt"), "--model", "realesrgan"]
    r = runner.invoke(app, base)
    assert r.exit_code == 2 and "needs --weights" in r.stderr and "Traceback" not in r.output  # a usage error
    r = runner.invoke(app, [*base, "--weights", "realsr-lite"])
    assert r.exit_code == 2 and "holds VmambaIR weights; use --model vmambair" in r.stderr, r.output
