"""CLI translation: `info`, `--version`, `weights convert/list` exit codes and output."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core import build_model
from vmambair_core.scan import availability
from vmambair_core.scan.availability import cpu_backend
from vmambair_core.weights import read_weights

runner = CliRunner()


def test_version() -> None:
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.startswith("vmambair ")


def test_info_json_lists_presets_with_exact_counts() -> None:
    r = runner.invoke(app, ["info", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    counts = {p["task"]: p["parameters"] for p in data["presets"]}
    assert counts == {"realsr": 10_497_813, "sisr": 12_028_273, "derain": 28_709_875}
    assert data["auto"]["cpu"] == cpu_backend()[0]
    assert data["backends"]["cpu"]["reference"] is None
    assert data["backends"]["cpu"]["numba"] == cpu_backend()[1]  # None, or the one-line reason for the fallback


def test_info_names_why_auto_falls_back_to_the_reference_on_cpu(monkeypatch) -> None:
    monkeypatch.setattr(availability, "cpu_backend", lambda: ("reference", "numba is not installed (pip install numba)"))
    r = runner.invoke(app, ["info"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "numba is not installed" in r.output


def test_info_human_table() -> None:
    r = runner.invoke(app, ["info"])
    assert r.exit_code == 0
    for text in ("10,497,813", "12,028,273", "28,709,875", "auto picks"):
        assert text in r.output


def test_weights_convert_and_errors(tmp_path: Path) -> None:
    net = build_model("realsr")
    torch.save({"params_ema": {f"module.{k}": v for k, v in net.state_dict().items()}}, tmp_path / "a.pth")
    out = tmp_path / "a.safetensors"
    r = runner.invoke(app, ["weights", "convert", str(tmp_path / "a.pth"), "-o", str(out), "--task", "realsr", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["sha256"] and read_weights(out).metadata["vmambair.preset"] == "realsr"
    r = runner.invoke(app, ["weights", "convert", str(tmp_path / "a.pth"), "-o", str(out), "--task", "realsr"])
    assert r.exit_code == 1 and "--overwrite" in r.output
    r = runner.invoke(app, ["weights", "convert", str(tmp_path / "a.pth"), "-o", str(tmp_path / "b.safetensors"), "--task", "derain"])
    assert r.exit_code == 1 and "does not match preset 'derain'" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "b.safetensors").exists()


def test_weights_list() -> None:
    r = runner.invoke(app, ["weights", "list", "--json"])
    assert r.exit_code == 0
    assert {row["task"] for row in json.loads(r.output)} == {"realsr", "sisr", "derain"}


def test_json_mode_errors_are_json_on_stdout(tmp_path: Path, monkeypatch) -> None:
    """Scripts using --json get a JSON error document, not only a message on stderr."""
    reg = tmp_path / "registry.json"
    reg.write_text(json.dumps({"version": 2, "defaults": {"realsr": None}}))
    monkeypatch.setenv("VMAMBAIR_WEIGHTS_REGISTRY", str(reg))
    img = tmp_path / "a.png"
    import cv2
    import numpy as np

    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    r = runner.invoke(app, ["restore", str(img), "-o", str(tmp_path / "out"), "-t", "realsr", "--json"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert doc["exit_code"] == 1 and "no default weights are published" in doc["error"]
    r = runner.invoke(app, ["weights", "convert", str(tmp_path / "missing.pth"), "-o", str(tmp_path / "x.safetensors"),
                            "--task", "realsr", "--json"])
    assert r.exit_code == 1 and "not found" in json.loads(r.stdout)["error"]
