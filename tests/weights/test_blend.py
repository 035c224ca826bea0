"""Network interpolation (``--strength``): endpoints, the mean, refusals, the registry partner, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.errors import CheckpointError, ConfigError
from vmambair_core.models import build_model, tiny_config
from vmambair_core.weights import network_metadata, read_weights, write_safetensors
from vmambair_core.weights.blend import blend, blend_for
from vmambair_core.weights.registry import REGISTRY_ENV, sha256_of

runner = CliRunner()
CFG = tiny_config("realsr", dim=4, blocks=1)


def _export(folder: Path, name: str, seed: int, cfg=CFG) -> Path:  # noqa: ANN001
    torch.manual_seed(seed)
    net = build_model(cfg)
    return write_safetensors(net.state_dict(), folder / f"{name}.safetensors", network_metadata(cfg, "realsr"))


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """``soft`` and ``sharp`` (same tiny network, other seeds) in a registry where sharp's partner is soft."""
    folder = tmp_path / "weights"
    soft, sharp = _export(folder, "soft", 0), _export(folder, "sharp", 1)
    network = {"preset": "realsr", "dim": 4, "num_blocks": [1, 1, 1, 1], "num_refinement_blocks": 1,
               "name": "realsr-tiny"}

    def entry(f: Path, **extra: object) -> dict[str, object]:
        return {"task": "realsr", "bundled": f.name, "sha256": sha256_of(f), "network": network, **extra}

    reg = {"version": 2, "defaults": {"realsr": "sharp"},
           "weights": {"soft": entry(soft), "sharp": entry(sharp, partner="soft")}}
    (folder / "registry.json").write_text(json.dumps(reg))
    monkeypatch.setenv(REGISTRY_ENV, str(folder / "registry.json"))
    return soft, sharp


def test_endpoints_and_the_mean(pair: tuple[Path, Path]) -> None:
    a, b = read_weights(pair[0]), read_weights(pair[1])
    for s, expect in ((0.0, a.state_dict), (1.0, b.state_dict)):
        out = blend(a, b, s).state_dict
        assert all(torch.equal(out[k], expect[k].float()) for k in expect)  # lerp's endpoints are exact
    mid = blend(a, b, 0.5).state_dict
    for k in a.state_dict:
        assert torch.allclose(mid[k], (a.state_dict[k] + b.state_dict[k]) / 2, atol=1e-7)
    assert any(not torch.allclose(mid[k], a.state_dict[k]) for k in a.state_dict)


def test_other_configurations_and_bad_strengths_are_refused(pair: tuple[Path, Path], tmp_path: Path) -> None:
    wide = read_weights(_export(tmp_path, "wide", 0, tiny_config("realsr", dim=8, blocks=1)))
    with pytest.raises(CheckpointError, match="same configuration"):
        blend(read_weights(pair[0]), wide, 0.5)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match=r"\[0, 1\]"):
            blend(read_weights(pair[0]), read_weights(pair[1]), bad)


def test_the_registry_partner_is_the_default_other_end(pair: tuple[Path, Path]) -> None:
    soft, sharp = (read_weights(p) for p in pair)
    for spec in (None, "sharp"):
        out = blend_for("realsr", spec, 0.25)
        assert not isinstance(out, (str, type(None)))
        for k in soft.state_dict:
            assert torch.allclose(out.state_dict[k], 0.75 * soft.state_dict[k] + 0.25 * sharp.state_dict[k], atol=1e-6)
    assert blend_for("realsr", "sharp", None) == "sharp"  # no --strength: the weights as given
    with pytest.raises(ConfigError, match="no partner"):
        blend_for("realsr", "soft", 0.5)
    with pytest.raises(ConfigError, match="needs --strength"):
        blend_for("realsr", "sharp", None, partner="soft")


def test_restore_with_strength_runs_the_blend(pair: tuple[Path, Path], data_dir: Path, tmp_path: Path) -> None:
    img = cv2.imread(str(data_dir / "sr/Set5/LR_bicubic_x4/butterflyx4.png"), cv2.IMREAD_COLOR)[:16, :16]
    src = tmp_path / "in" / "x.png"
    src.parent.mkdir()
    cv2.imwrite(str(src), img)
    outs = {}
    for s in ("0", "1", "0.5"):
        r = runner.invoke(app, ["restore", str(src), "-o", str(tmp_path / f"o{s}"), "--strength", s, "--device", "cpu"])
        assert r.exit_code == 0, r.output
        outs[s] = cv2.imread(str(tmp_path / f"o{s}" / "x.png")).astype(np.int16)
    r = runner.invoke(app, ["restore", str(src), "-o", str(tmp_path / "soft"), "-w", "soft", "--device", "cpu"])
    assert r.exit_code == 0
    assert np.abs(outs["0"] - cv2.imread(str(tmp_path / "soft" / "x.png")).astype(np.int16)).max() <= 1
    assert np.abs(outs["0.5"] - outs["0"]).max() > 1 and np.abs(outs["0.5"] - outs["1"]).max() > 1
    bad = runner.invoke(app, ["restore", str(src), "-o", str(tmp_path / "bad"), "-w", "soft", "--strength", "0.5"])
    assert bad.exit_code != 0 and "no partner" in bad.stderr and not (tmp_path / "bad").exists()


def test_eval_scores_the_blend(pair: tuple[Path, Path], data_dir: Path, tmp_path: Path) -> None:
    """eval --strength 0 scores the partner exactly; 0.5 scores something else; the label names both files."""
    def run(*extra: str) -> dict:
        r = runner.invoke(app, ["eval", "--bench", "Set5", "--data-root", str(data_dir), "-t", "realsr", "--limit", "1",
                                "--no-lpips", "--json", "--device", "cpu", *extra])
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)["results"][0]

    zero, soft, half = run("--strength", "0"), run("-w", "soft"), run("--strength", "0.5")
    assert abs(zero["mean"]["psnr"] - soft["mean"]["psnr"]) < 1e-3
    assert abs(half["mean"]["psnr"] - soft["mean"]["psnr"]) > 1e-3
    assert "soft.safetensors x 0.5 + sharp.safetensors x 0.5" in half["model"]
