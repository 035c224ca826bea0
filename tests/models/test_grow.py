"""Growing a network: the deeper one computes what the trained one computed, and can still learn."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from vmambair_core.errors import ConfigError
from vmambair_core.models import build_model, tiny_config
from vmambair_core.models.grow import ZEROED, grow, grown_config


@pytest.mark.parametrize("preset", ["realsr", "sisr", "derain"])
def test_the_grown_network_computes_the_same(preset: str) -> None:
    torch.manual_seed(0)
    small = build_model(tiny_config(preset, dim=8)).double().eval()
    for p in small.parameters():  # trained-looking weights: nothing zero by accident
        p.data.add_(0.05 * torch.randn_like(p))
    cfg = grown_config(small.config, (2, 1, 2, 1), 2)
    big = grow(small, cfg).eval()
    assert big.config == cfg and sum(p.numel() for p in big.parameters()) > sum(p.numel() for p in small.parameters())
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(big(x), small(x), rtol=0, atol=1e-12)
    # the trained blocks keep their places; the new ones are the ones zeroed
    trained = small.state_dict()
    for key, value in big.state_dict().items():
        if key in trained:
            assert torch.equal(value, trained[key]), key
        elif key.endswith(ZEROED):
            assert not value.any(), key


def test_the_new_blocks_learn() -> None:
    """Zero outputs block nothing: one step moves the new blocks' output projections."""
    torch.manual_seed(0)
    small = build_model(tiny_config("realsr", dim=8))
    big = grow(small, grown_config(small.config, (2, 1, 1, 1), 1))
    x, target = torch.rand(1, 3, 16, 16), torch.rand(1, 3, 64, 64)
    (big(x) - target).abs().mean().backward()
    grad = big.encoder_level1[1].attn.out_conv.weight.grad
    assert grad is not None and grad.abs().sum() > 0


def test_growing_refuses_what_would_drop_or_change_weights() -> None:
    small = build_model(tiny_config("realsr", dim=8, blocks=2))
    with pytest.raises(ConfigError, match="at least the trained blocks"):
        grown_config(small.config, (1, 2, 2, 2), 2)
    with pytest.raises(ConfigError, match="only the block counts"):
        grow(small, replace(grown_config(small.config, (2, 2, 2, 3), 2), dim=16))
