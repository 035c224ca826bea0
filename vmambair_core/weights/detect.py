"""Which preset a state dict belongs to, and a strict check of keys and shapes before loading."""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import CheckpointError
from ..models import VmambaIR, VmambaIRConfig

_SHOWN = 5


VMAMBAIR_PREFIXES: tuple[str, ...] = ("patch_embed.", "encoder_level", "decoder_level", "latent.", "refinement.")
"""Top-level module names only VmambaIR has: a file with any of them is VmambaIR's, even if damaged."""


def looks_like_vmambair(sd: dict[str, Tensor]) -> bool:
    """True where some key belongs to VmambaIR's modules (then its errors name the preset's keys)."""
    return any(k.startswith(VMAMBAIR_PREFIXES) for k in sd)


def detect_preset(sd: dict[str, Tensor]) -> str | None:
    """Tell the authors' three networks apart by their distinctive keys (None if not VmambaIR at all)."""
    if "patch_embed.proj.weight" not in sd:
        return None
    if "output.weight" in sd:
        return "derain"
    if "encoder_level1.0.attn.conv_cin.weight" in sd:
        return "sisr"
    if "tail.1.weight" in sd:
        return "realsr"
    return None


def expected_shapes(cfg: VmambaIRConfig) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the network a config builds (on the meta device: no memory, no init cost)."""
    with torch.device("meta"):
        net = VmambaIR(cfg)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def mismatch_summary(sd: dict[str, Tensor], want: dict[str, tuple[int, ...]]) -> str | None:
    """The first missing/unexpected/mis-shaped keys of ``sd`` against ``want`` in one line (None: they match)."""
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    wrong = [f"{k} {tuple(sd[k].shape)} != {want[k]}" for k in want if k in sd and tuple(sd[k].shape) != want[k]]
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:_SHOWN])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:_SHOWN])})")
    if wrong:
        parts.append(f"{len(wrong)} with other shapes (e.g. {'; '.join(wrong[:_SHOWN])})")
    return "; ".join(parts) or None


def check_state_dict(
    sd: dict[str, Tensor], cfg: VmambaIRConfig, source: str = "checkpoint", net: VmambaIR | None = None
) -> None:
    """Raise ``CheckpointError`` naming the preset and the first missing/unexpected/mis-shaped keys.

    Every tensor must be floating point: integer or bool "weights" would load (``load_state_dict`` casts)
    and restore to a flat image. ``net``: the network ``cfg`` already built, if any; its shapes are used
    instead of a meta-device build, whose first use imports ``torch._dynamo`` (about a second of every
    CLI start).
    """
    not_float = [f"{k} ({v.dtype})" for k, v in sd.items() if not v.is_floating_point()]
    if not_float:
        raise CheckpointError(f"{source}: {len(not_float)} tensor(s) are not floating point (e.g. "
                              f"{', '.join(not_float[:_SHOWN])}); weights must be float16, bfloat16, float32 or float64")
    want = expected_shapes(cfg) if net is None else {k: tuple(v.shape) for k, v in net.state_dict().items()}
    problems = mismatch_summary(sd, want)
    if problems is None:
        return
    guess = detect_preset(sd)
    hint = ""
    if guess and guess != cfg.name:
        hint = f"; it looks like a '{guess}' checkpoint (use --task {guess})"
    elif guess is None:
        hint = "; it does not look like a VmambaIR checkpoint"
    raise CheckpointError(f"{source} does not match preset '{cfg.name}': {problems}{hint}")
