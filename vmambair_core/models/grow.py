"""Deepen a trained network without changing what it computes: more blocks per level, new ones identity.

Every block is pre-norm residual (``x + OSS(LN(x))``, then ``x + EFFN(LN(x))``), so a block whose two
output projections (``attn.out_conv`` and ``ffn.project_out``) are zero adds nothing: the deeper network
starts as the trained one, and training grows the new blocks from there (the zero-initialised output
trick of ControlNet and of ReZero-style residual init). The trained blocks keep their places (block i
of a level stays block i); the new ones come after them. Used to give a compact model capacity
without starting over (see the realsr model card).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from ..errors import ConfigError
from .config import VmambaIRConfig
from .vmambair import VmambaIR

#: The last layer of each residual branch of a block: zero here makes the block the identity.
ZEROED = ("attn.out_conv.weight", "attn.out_conv.bias", "ffn.project_out.weight")


def grown_config(cfg: VmambaIRConfig, num_blocks: tuple[int, int, int, int], refinement: int) -> VmambaIRConfig:
    """``cfg`` with more blocks per level; refuses fewer blocks anywhere (that would drop trained ones)."""
    fewer = any(n < o for n, o in zip(num_blocks, cfg.num_blocks)) or refinement < cfg.num_refinement_blocks
    if len(num_blocks) != 4 or fewer:
        raise ConfigError(f"growing needs at least the trained blocks {list(cfg.num_blocks)} + "
                          f"{cfg.num_refinement_blocks} refinement, got {list(num_blocks)} + {refinement}")
    return replace(cfg, num_blocks=tuple(num_blocks), num_refinement_blocks=refinement)


def grow(net: VmambaIR, cfg: VmambaIRConfig, *, seed: int = 0) -> VmambaIR:
    """A ``cfg`` network (more blocks than ``net``) that computes exactly what ``net`` computes.

    The new blocks get the usual random initialisation (seeded), then zero output projections, so their
    other weights are ready to learn once the gradient reaches them through the zeroed layers.
    """
    grown_config(net.config, cfg.num_blocks, cfg.num_refinement_blocks)  # the checks
    same = replace(net.config, num_blocks=cfg.num_blocks, num_refinement_blocks=cfg.num_refinement_blocks,
                   name=cfg.name)
    if same != cfg:
        raise ConfigError("growing changes only the block counts; widths and every other setting must match")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        bigger = VmambaIR(cfg).to(next(net.parameters()).dtype)
    trained = net.state_dict()
    state = bigger.state_dict()
    for key in state:
        if key in trained:
            state[key] = trained[key].detach().clone()
        elif key.endswith(ZEROED):
            state[key] = torch.zeros_like(state[key])
    missing = sorted(set(trained) - set(state))
    if missing:  # cannot happen for a grown config; a guard against a renamed key
        raise ConfigError(f"growing would drop trained weights: {missing[:3]}")
    bigger.load_state_dict(state)
    return bigger


__all__ = ["ZEROED", "grow", "grown_config"]
