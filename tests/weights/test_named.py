"""Named weights (``--weights NAME``): registry entries built here from a tiny exported network.

The registry location is swapped through ``VMAMBAIR_WEIGHTS_REGISTRY``; everything else is the real
path: the CLI resolves the name, checks the task and the SHA-256, rebuilds the network from the file's
own metadata and restores a real image.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.errors import CheckpointError, ConfigError, WeightsNotFoundError
from vmambair_core.models import build_model, tiny_config
from vmambair_core.weights import network_metadata, resolve_weights, write_safetensors
from vmambair_core.weights.registry import REGISTRY_ENV, is_weights_name, read_registry, sha256_of

runner = CliRunner()
CFG = tiny_config("sisr", dim=4, blocks=1)


def _entry(file: Path | None, **extra: object) -> dict[str, object]:
    entry: dict[str, object] = {"task": "sisr", "bundled": None, "sha256": None, "licence": "MIT",
                                "training_command": "vmambair train ...", "parameters": 1234}
    if file is not None:
        entry.update(bundled=file.name, sha256=sha256_of(file), network={"preset": "sisr", "dim": 4,
                     "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1, "name": "sisr-tiny"})
    entry.update(extra)
    return entry


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """``tiny-lite`` (published, the sisr default), ``other-lite`` (pending) in a temporary registry."""
    torch.manual_seed(0)
    net = build_model(CFG).eval()
    folder = tmp_path / "weights"
    fp16 = {k: v.half() for k, v in net.state_dict().items()}
    file = write_safetensors(fp16, folder / "tiny-lite.safetensors", network_metadata(CFG, "sisr"))
    reg = {"version": 2, "defaults": {"sisr": "tiny-lite", "realsr": "other-lite", "derain": None},
           "weights": {"tiny-lite": _entry(file, metrics=[{"benchmark": "Set5", "psnr": 30.1, "ssim": 0.85,
                                                           "baseline_psnr": 28.42}]),
                       "other-lite": _entry(None, task="realsr")}}
    (folder / "registry.json").write_text(json.dumps(reg))
    monkeypatch.setenv(REGISTRY_ENV, str(folder / "registry.json"))
    return {"file": file, "net": net, "folder": folder, "raw": reg}


def _crop(data_dir: Path, folder: Path, size: int = 16) -> Path:
    img = cv2.imread(str(data_dir / "sr/Set5/LR_bicubic_x4/butterflyx4.png"), cv2.IMREAD_COLOR)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "crop.png"
    assert cv2.imwrite(str(path), img[10 : 10 + size, 20 : 20 + size])
    return path


def _one_line_error(result) -> str:  # noqa: ANN001
    text = result.stderr.strip()
    assert len(text.splitlines()) == 1 and text.startswith("Error: "), result.output
    return text


def test_names_are_told_apart_from_files_and_hub_refs() -> None:
    assert is_weights_name("sisr-lite") and is_weights_name("realsr_lite.v2")
    for spec in ("sisr-lite.safetensors", "net_g.pth", "org/repo/file.safetensors", "./sisr-lite", "Sisr-Lite", ""):
        assert not is_weights_name(spec), spec


def test_named_entry_loads_by_name_and_restores(registry: dict, data_dir: Path, tmp_path: Path) -> None:
    lq = _crop(data_dir, tmp_path / "in")
    r = runner.invoke(app, ["restore", str(lq), "-o", str(tmp_path / "out"), "-t", "sisr", "-w", "tiny-lite",
                            "--device", "cpu"])
    assert r.exit_code == 0, r.output
    first = r.stderr.strip().splitlines()[0]
    assert "weights tiny-lite" in first and "SHA-256 verified" in r.stderr, first
    out = cv2.cvtColor(cv2.imread(str(tmp_path / "out/crop.png")), cv2.COLOR_BGR2RGB)
    # The same network run directly (fp16-stored weights, fp32 compute) on the same pixels.
    x = torch.from_numpy(cv2.cvtColor(cv2.imread(str(lq)), cv2.COLOR_BGR2RGB)).permute(2, 0, 1)[None].float() / 255
    ref_net = build_model(CFG).eval()
    ref_net.load_state_dict({k: v.half().float() for k, v in registry["net"].state_dict().items()})
    with torch.no_grad():
        ref = (ref_net(x)[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255).round()
    assert out.shape == (64, 64, 3)
    assert np.abs(out.astype(np.float64) - ref).max() <= 1  # rounding of float results may differ by one level


def test_default_by_task_and_json_names_the_entry(registry: dict, data_dir: Path, tmp_path: Path) -> None:
    lq = _crop(data_dir, tmp_path / "in")
    r = runner.invoke(app, ["restore", str(lq), "-o", str(tmp_path / "out"), "-t", "sisr", "--json", "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["weights"] == "tiny-lite [bundled] (SHA-256 verified)"
    assert resolve_weights("sisr").name == "tiny-lite"
    r = runner.invoke(app, ["restore", str(lq), "-o", str(tmp_path / "out2"), "-t", "sisr", "--device", "cpu"])
    first = r.stderr.strip().splitlines()[0]
    assert "weights tiny-lite [bundled] (SHA-256 verified)" in first and first.count("bundled") == 1, first
    # The library path with the entry's own declared network config loads the same file.
    from vmambair_core.weights import load

    assert load("tiny-lite", read_registry().lookup("tiny-lite").network_config()).config == CFG


def test_sha256_mismatch_refused_by_name(registry: dict, data_dir: Path, tmp_path: Path) -> None:
    file: Path = registry["file"]
    data = bytearray(file.read_bytes())
    data[-1] ^= 0x01
    file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 mismatch"):
        resolve_weights("sisr", "tiny-lite")
    r = runner.invoke(app, ["restore", str(_crop(data_dir, tmp_path / "in")), "-o", str(tmp_path / "out"), "-t", "sisr",
                            "-w", "tiny-lite"])
    assert r.exit_code == 1 and "SHA-256 mismatch" in _one_line_error(r)
    assert not (tmp_path / "out").exists()


def test_unknown_name_lists_known_ones(registry: dict, data_dir: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["restore", str(_crop(data_dir, tmp_path / "in")), "-o", str(tmp_path / "out"), "-t", "sisr",
                            "-w", "sisr-huge"])
    line = _one_line_error(r)
    assert r.exit_code == 1 and "unknown weights name 'sisr-huge'" in line
    assert "known: tiny-lite, other-lite" in line


def test_pending_entries_and_wrong_task(registry: dict) -> None:
    # A default that is registered but has no file yet: today's "nothing published" message.
    with pytest.raises(WeightsNotFoundError, match="no default weights are published for task 'realsr'"):
        resolve_weights("realsr")
    with pytest.raises(WeightsNotFoundError, match="'other-lite' are registered but not published yet"):
        resolve_weights("realsr", "other-lite")
    with pytest.raises(CheckpointError, match="'tiny-lite' are sisr weights, not realsr; use --task sisr"):
        resolve_weights("realsr", "tiny-lite")


def test_registry_is_checked_when_read(registry: dict, tmp_path: Path) -> None:
    raw = registry["raw"]
    path = registry["folder"] / "registry.json"
    assert read_registry().lookup("tiny-lite").network_config() == CFG
    bad_cases = [
        ({**raw, "defaults": {"sisr": "missing-lite"}}, "not an entry"),
        ({**raw, "defaults": {"derain": "tiny-lite"}}, "a sisr entry"),
        ({**raw, "weights": {"x-lite": {"task": "sisr", "sha256": "0" * 64}}, "defaults": {}}, "sha256 without a file"),
        ({**raw, "weights": {"x-lite": {"task": "sisr", "color": 1}}, "defaults": {}}, "unknown field"),
        ({**raw, "weights": {"x-lite": {"task": "sisr", "network": {"dim": 3}}}, "defaults": {}}, "bad network config"),
        ({**raw, "weights": {"X.pth": {"task": "sisr"}}, "defaults": {}}, "a name is"),
    ]
    for doc, message in bad_cases:
        path.write_text(json.dumps(doc))
        with pytest.raises(ConfigError, match=message):
            read_registry()


def test_weights_list_shows_entries_defaults_and_metrics(registry: dict) -> None:
    r = runner.invoke(app, ["weights", "list", "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["tiny-lite"]["default"] and rows["tiny-lite"]["status"] == "bundled"
    assert rows["tiny-lite"]["metrics"][0]["psnr"] == 30.1 and rows["tiny-lite"]["parameters"] == 1234
    assert rows["other-lite"]["status"] == "pending"
    assert rows[None]["task"] == "derain" and rows[None]["status"] == "unpublished"
    r = runner.invoke(app, ["weights", "list"], env={"COLUMNS": "200"})
    assert r.exit_code == 0 and "Set5 30.10/0.8500 (bicubic 28.42)" in r.stdout and "pending" in r.stdout


def test_eval_first_line_names_the_weights(registry: dict, data_dir: Path, tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    hr = cv2.imread(str(data_dir / "sr/Set5/HR/bird.png"), cv2.IMREAD_COLOR)
    assert cv2.imwrite(str(gt / "bird.png"), hr[:32, :32])
    r = runner.invoke(app, ["eval", "--gt", str(gt), "-t", "sisr", "-w", "tiny-lite", "--device", "cpu", "--no-lpips"])
    assert r.exit_code == 0, r.output
    first = r.stderr.strip().splitlines()[0]
    assert "tiny-lite [bundled]" in first and first.count("bundled") == 1, first
    r = runner.invoke(app, ["eval", "--gt", str(gt), "-t", "sisr", "--device", "cpu", "--no-lpips", "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)["results"][0]
    assert result["weights"] == "tiny-lite [bundled] (SHA-256 verified)"
    assert result["model"] == "vmambair tiny-lite"  # the weights' name, not the network's (sisr-tiny)
    r = runner.invoke(app, ["eval", "--gt", str(gt), "-t", "sisr", "-w", "tiny-lite", "--device", "cpu", "--no-lpips",
                            "--json"])
    assert json.loads(r.stdout)["results"][0]["model"] == "vmambair tiny-lite"


def test_restore_without_task_takes_it_from_the_weights(registry: dict, data_dir: Path, tmp_path: Path) -> None:
    """`vmambair restore photos/ -o out/` needs no --task: a name or an export declares it; else realsr."""
    from vmambair_core.weights import DEFAULT_TASK, infer_task

    lq = _crop(data_dir, tmp_path / "in")
    r = runner.invoke(app, ["restore", str(lq), "-o", str(tmp_path / "a"), "-w", "tiny-lite", "--device", "cpu",
                            "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["task"] == "sisr"
    r = runner.invoke(app, ["restore", str(lq), "-o", str(tmp_path / "b"), "-w", str(registry["file"]),
                            "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert r.stderr.strip().splitlines()[0].startswith("sisr (the task stored in tiny-lite.safetensors) x4")
    assert cv2.imread(str(tmp_path / "b/crop.png")).shape == (64, 64, 3)
    assert infer_task(None) == (DEFAULT_TASK, "the default task") and DEFAULT_TASK == "realsr"
    assert infer_task("other-lite")[0] == "realsr"
    assert infer_task(str(tmp_path / "missing.safetensors"))[0] == "realsr"  # loading then says file not found
    # No --task and no --weights: realsr's default, which is pending here -> the one-line refusal.
    r = runner.invoke(app, ["restore", str(lq), "-o", str(tmp_path / "c")])
    assert r.exit_code == 1 and "no default weights are published for task 'realsr'" in _one_line_error(r)
    assert _one_line_error(r).endswith("hf://OWNER/REPO/FILE[@REVISION]")  # rich must not eat the brackets
