"""Which preset a state dict belongs to, the network its shapes describe, and a strict check before loading."""

from __future__ import annotations

import re
from dataclasses import replace

import torch
from torch import Tensor

from ..errors import CheckpointError, ConfigError
from ..models import VmambaIR, VmambaIRConfig, get_preset

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
    if any(k.endswith(".attn.conv_cin.weight") for k in sd):  # encoder_level1.0 in the authors' file
        return "sisr"
    if "tail.1.weight" in sd:
        return "realsr"
    return None


_STAGE = re.compile(r"^(encoder_level[123]|latent|decoder_level[123]|refinement)\.(\d+)\.")
_DEPTHS = ("encoder_level1", "encoder_level2", "encoder_level3", "latent")
"""Stages whose block counts are ``num_blocks``; the decoders mirror them (the strict check holds them to it)."""
_BLOCK_KEYS = ("norm1.body.weight", "attn.A_logs", "attn.dtc_projs_weight", "ffn.project_out.weight")
"""What a block's sizes are read from (blocks missing one are left to the strict check)."""


def config_from_state_dict(sd: dict[str, Tensor]) -> VmambaIRConfig | None:
    """The network a VmambaIR state dict describes, read from its tensor shapes (None: no preset's keys).

    Widths from ``patch_embed`` and the head, depths from the highest block index of each stage, and per
    block the state size (``A_logs``), the channel scan (``conv_cin``), its dt rank (``dtc_projs_weight``)
    and the EFFN width (``project_out``). What no tensor holds (``fusion``) is the preset the keys show
    (:func:`detect_preset`), and so is every value the shapes leave open. Shapes that do not form a
    config give None: the caller's strict check then names what is wrong.
    """
    family = detect_preset(sd)
    if family is None:
        return None
    base = get_preset(family)
    try:
        cfg = _read_shapes(sd, base)
    except (KeyError, IndexError, ConfigError):
        return None
    return base if cfg == base else replace(cfg, name=f"{family}-custom")


def _read_shapes(sd: dict[str, Tensor], base: VmambaIRConfig) -> VmambaIRConfig:
    depth: dict[str, int] = {}
    found: dict[str, None] = {}  # block prefixes in file order
    for key in sd:
        if m := _STAGE.match(key):
            depth[m[1]] = max(depth.get(m[1], 0), int(m[2]) + 1)
            found[m[0]] = None
    blocks = [p for p in found if all(p + k in sd for k in _BLOCK_KEYS)]
    widths = [(int(sd[p + "norm1.body.weight"].shape[0]), p) for p in blocks]
    embed = sd["patch_embed.proj.weight"].shape
    restore = "output.weight" in sd
    conv = any(p + "attn.conv_cin.weight" in sd for p in blocks)
    fields: dict[str, object] = {
        "dim": int(embed[0]), "in_channels": int(embed[1]),
        "num_blocks": tuple(depth.get(stage, 0) for stage in _DEPTHS),
        "num_refinement_blocks": depth.get("refinement", 0),
        "head": "restore" if restore else "sr", "scale": 1 if restore else 4,
        "out_channels": int(sd["output.weight" if restore else "tail.1.weight"].shape[0]),
    }
    if widths:  # without blocks the scans hold no tensors: the preset's values stand
        first = widths[0][1]
        fields["d_state"] = int(sd[first + "attn.A_logs"].shape[1])
        fields["channel_scan"] = "conv" if conv else "mamba"
        fields["channel_inner"] = int(sd[first + "attn.conv_cin.weight"].shape[0]) if conv else 1
        hidden = [(c, int(sd[p + "ffn.project_out.weight"].shape[1])) for c, p in widths]
        fields["ffn_expansion_factor"] = _ffn_factor(hidden, base.ffn_expansion_factor)
        ranks = [(c, int(sd[p + "attn.dtc_projs_weight"].shape[2])) for c, p in widths]
        fields["channel_dt_rank"] = _channel_dt_rank(ranks, base.channel_dt_rank)
    return replace(base, **fields)  # type: ignore[arg-type]


def _ffn_factor(hidden: list[tuple[int, int]], preset: float) -> float:
    """A factor f with int(C * f) == hidden for every block: the preset's if it fits, else the shortest decimal."""
    if all(int(c * preset) == h for c, h in hidden):
        return preset
    lo, hi = max(h / c for c, h in hidden), min((h + 1) / c for c, h in hidden)
    for digits in range(1, 8):
        f = round((lo + hi) / 2, digits)
        if all(int(c * f) == h for c, h in hidden):
            return f
    return lo  # no factor fits every level: the strict check names the blocks that differ


def _channel_dt_rank(ranks: list[tuple[int, int]], preset: int | None) -> int | None:
    """The channel scan's dt rank: the preset's, None (each block's planar rank) or one fixed value."""
    for candidate in (preset, None, ranks[0][1]):
        if all(r == (VmambaIRConfig.dt_rank(c) if candidate is None else candidate) for c, r in ranks):
            return candidate
    return ranks[0][1]


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
