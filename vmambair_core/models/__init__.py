"""The VmambaIR network and its presets."""

from dataclasses import replace

import torch

from .config import (
    PRESET_NAMES,
    PRESET_PARAMS,
    PRESETS,
    PresetName,
    VmambaIRConfig,
    get_preset,
    tiny_config,
)
from .vmambair import OSSBlock, VmambaIR


def build_model(preset: str | VmambaIRConfig = "realsr", *, scan_backend: str = "auto") -> VmambaIR:
    """A preset's network with the authors' random initialisation (no weights loaded)."""
    cfg = preset if isinstance(preset, VmambaIRConfig) else get_preset(preset)
    return VmambaIR(cfg).set_scan_backend(scan_backend)


def parameter_count(cfg: VmambaIRConfig) -> int:
    """Parameters of the network ``cfg`` builds, counted on the meta device (no memory, no init)."""
    with torch.device("meta"):
        net = VmambaIR(cfg)
    return sum(p.numel() for p in net.parameters())


def estimated_parameter_count(cfg: VmambaIRConfig) -> int:
    """:func:`parameter_count` from six one-block networks: its cost does not grow with the block counts.

    Blocks of one level are alike, so each adds what a single one adds; the result is exact.
    """
    none = replace(cfg, num_blocks=(0, 0, 0, 0), num_refinement_blocks=0)
    base = parameter_count(none)
    total = base
    for level, count in enumerate(cfg.num_blocks):
        if count:
            one = replace(none, num_blocks=tuple(int(i == level) for i in range(4)))  # type: ignore[arg-type]
            total += count * (parameter_count(one) - base)
    if cfg.num_refinement_blocks:
        total += cfg.num_refinement_blocks * (parameter_count(replace(none, num_refinement_blocks=1)) - base)
    return total


__all__ = [
    "PRESETS", "PRESET_NAMES", "PRESET_PARAMS", "PresetName", "VmambaIR", "VmambaIRConfig", "OSSBlock",
    "build_model", "estimated_parameter_count", "get_preset", "parameter_count", "tiny_config",
]
