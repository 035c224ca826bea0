"""Weights files that lie: non-float tensors, and network metadata that is malformed or far too large."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vmambair_core.errors import CheckpointError
from vmambair_core.weights import load

from .attacks import cli, one_line_error, png, retyped_weights, tampered_config


@pytest.mark.parametrize("dtype", [torch.bool, torch.int8, torch.int64])
def test_non_float_weights_are_refused_in_one_line(tmp_path: Path, dtype: torch.dtype) -> None:
    weights = retyped_weights(tmp_path / "w.safetensors", dtype)
    with pytest.raises(CheckpointError, match=f"not floating point .*{dtype}"):
        load(weights, "sisr")
    image = png(tmp_path / "in" / "a.png")
    result = cli("restore", image, "-o", tmp_path / "out", "-t", "sisr", "-w", weights)
    assert "not floating point" in one_line_error(result)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fields", [
    {"d_state": -1}, {"d_state": 2.5}, {"d_state": "16"}, {"ffn_expansion_factor": -2.66},
    {"ffn_expansion_factor": "2.66"}, {"ffn_expansion_factor": float("nan")}, {"channel_inner": 0},
    {"channel_inner": 1.5}, {"dim": 3}, {"dim": True}, {"num_blocks": [1, 1, -1, 1]}, {"num_blocks": 5},
    {"num_refinement_blocks": 0.5}, {"channel_dt_rank": 0}, {"in_channels": -3}, {"head": "sr", "scale": 2},
])
def test_malformed_config_metadata_is_one_line(tmp_path: Path, fields: dict) -> None:
    weights = tampered_config(tmp_path / "w.safetensors", **fields)
    with pytest.raises(CheckpointError, match="unreadable vmambair.config metadata"):
        load(weights, "sisr")
    result = cli("restore", png(tmp_path / "a.png"), "-o", tmp_path / "out", "-t", "sisr", "-w", weights)
    assert "vmambair.config" in one_line_error(result)


@pytest.mark.parametrize("fields", [{"dim": 4096}, {"num_blocks": [10**9, 0, 0, 0]}, {"dim": 2 * 10**6}])
def test_config_metadata_larger_than_the_file_is_refused_before_building(
    tmp_path: Path, fields: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vmambair_core.weights.loader as loader

    weights = tampered_config(tmp_path / "w.safetensors", **fields)
    monkeypatch.setattr(loader, "build_model", lambda *a, **k: pytest.fail("built a network"))
    with pytest.raises(CheckpointError, match="describes a network of .* parameters but the file holds [0-9,]+ values"):
        load(weights, "sisr")
