"""Our network equals a literal transcription of the authors' forward (tests/models/authors_reference.py)."""

from __future__ import annotations

import pytest
import torch

from vmambair_core.models import build_model, tiny_config

from . import authors_reference as ref


@pytest.mark.parametrize("preset", ["realsr", "sisr", "derain"])
def test_tiny_preset_matches_authors_transcription_float64(preset: str) -> None:
    torch.manual_seed(0)
    cfg = tiny_config(preset, dim=8, blocks=1)
    net = build_model(cfg).double().eval()
    # Move LayerNorm affine params away from 1/0 so a skipped norm cannot pass unnoticed.
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith(("body.weight", "body.bias")):
                p.add_(0.1 * torch.randn_like(p))
    sd = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.rand(1, 3, 19, 13, dtype=torch.float64)  # odd size: exercises the reflect padding
    with torch.no_grad():
        ours = net(x)
        theirs = ref.reference_restore(sd, x, cfg.fusion)
    assert ours.shape == theirs.shape
    err = (ours - theirs).abs().max().item() / theirs.abs().max().item()
    print(f"{preset}: max rel err {err:.2e}")
    assert err < 1e-10


def test_fusion_and_channel_scan_matter() -> None:
    """The transcription is sensitive to the fusion rule, so the equivalence test can fail."""
    torch.manual_seed(1)
    cfg = tiny_config("sisr", dim=8, blocks=1)
    net = build_model(cfg).double().eval()
    sd = net.state_dict()
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        gate = ref.reference_restore(sd, x, "gate")
        add = ref.reference_restore(sd, x, "add")
    assert (gate - add).abs().max() > 1e-6
