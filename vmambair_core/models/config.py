"""Typed presets of the VmambaIR network: the only place the three tasks differ.

Values are those of the authors' option files and arch classes (``docs/architecture.md`` §1),
which the released checkpoints were trained with; where the paper's text differs, the code wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from ..errors import ConfigError
from ..tasks import TASKS as PRESET_NAMES
from ..tasks import Task as PresetName  # noqa: F401 - re-exported by vmambair_core.models

ChannelScan = Literal["mamba", "conv"]
"""``mamba``: realsr's 1-channel scan with Mamba (S4D) init; ``conv``: sisr/derain's 1->k->1 conv-wrapped scan."""

Fusion = Literal["gate", "add"]
"""How the channel-scan output c joins y: ``gate`` y*c + y (SR presets), ``add`` y + c (derain)."""

Head = Literal["sr", "restore"]
"""``sr``: conv+pixel-shuffle x4 tail plus nearest-upsampled input; ``restore``: one conv plus the input."""


@dataclass(frozen=True)
class VmambaIRConfig:
    """Hyper-parameters of one VmambaIR network.

    Args:
        dim: level-1 width C; levels 2-4 use 2C, 4C, 8C. Decoder level 1 and refinement run at 2C.
        num_blocks: OSS blocks per level (encoder L1, L2, L3, latent); decoders mirror L1-L3.
        num_refinement_blocks: blocks after decoder level 1.
        ffn_expansion_factor: EFFN hidden width = int(C * factor).
        d_state: N, state size of every scan.
        head: output head (see ``Head``).
        scale: upscaling factor of the ``sr`` head (the upsampler itself is hard-coded x4, as in the
            authors' code, so only 4 is valid there; 1 for ``restore``).
        channel_scan: channel-scan design (see ``ChannelScan``).
        channel_inner: channels of the channel scan (1 for ``mamba``, 4 for ``conv``).
        channel_dt_rank: dt rank of the channel scan; None = the block's planar dt rank.
        fusion: see ``Fusion``.
        in_channels / out_channels: image channels.
    """

    dim: int = 48
    num_blocks: tuple[int, int, int, int] = (6, 2, 2, 1)
    num_refinement_blocks: int = 6
    ffn_expansion_factor: float = 2.66
    d_state: int = 16
    head: Head = "sr"
    scale: int = 4
    channel_scan: ChannelScan = "mamba"
    channel_inner: int = 1
    channel_dt_rank: int | None = None
    fusion: Fusion = "gate"
    in_channels: int = 3
    out_channels: int = 3
    name: str = field(default="custom", compare=False)

    def __post_init__(self) -> None:
        # Configs also come from files (weights metadata, run configs): check types, not only ranges.
        for name, least in (("dim", 1), ("num_refinement_blocks", 0), ("d_state", 1), ("scale", 1),
                            ("channel_inner", 1), ("in_channels", 1), ("out_channels", 1)):
            _check_int(name, getattr(self, name), least)
        if self.channel_dt_rank is not None:
            _check_int("channel_dt_rank", self.channel_dt_rank, 1)
        if self.dim % 2:
            raise ConfigError(f"dim must be a positive even number, got {self.dim}")
        if (not isinstance(self.num_blocks, tuple) or len(self.num_blocks) != 4
                or any(not _is_int(n) or n < 0 for n in self.num_blocks)):
            raise ConfigError(f"num_blocks needs four non-negative counts, got {self.num_blocks}")
        factor = self.ffn_expansion_factor
        if not isinstance(factor, (int, float)) or isinstance(factor, bool) or not math.isfinite(factor) \
                or int(self.dim * factor) < 1:
            raise ConfigError(f"ffn_expansion_factor must be a positive number giving at least one hidden channel, "
                              f"got {factor!r}")
        if self.head not in get_args(Head):
            raise ConfigError(f"head must be one of {get_args(Head)}, got {self.head!r}")
        if self.head == "sr" and self.scale != 4:
            raise ConfigError("the SR tail is x4 (as in the authors' code); scale must be 4")
        if self.head == "restore" and self.scale != 1:
            raise ConfigError("a 'restore' head keeps the size; scale must be 1")
        if self.channel_scan not in get_args(ChannelScan):
            raise ConfigError(f"channel_scan must be one of {get_args(ChannelScan)}, got {self.channel_scan!r}")
        if self.channel_scan == "mamba" and self.channel_inner != 1:
            raise ConfigError("the 'mamba' channel scan has exactly one channel (channel_inner=1)")
        if self.fusion not in get_args(Fusion):
            raise ConfigError(f"fusion must be one of {get_args(Fusion)}, got {self.fusion!r}")

    @property
    def size_multiple(self) -> int:
        """Inputs must be a multiple of this (three pixel-unshuffles); callers pad (reflect) and crop."""
        return 8

    def level_dims(self) -> tuple[int, int, int, int]:
        return (self.dim, 2 * self.dim, 4 * self.dim, 8 * self.dim)

    @staticmethod
    def dt_rank(channels: int) -> int:
        """Planar dt rank R = ceil(C / 16) (Mamba's "auto")."""
        return math.ceil(channels / 16)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int(name: str, value: object, least: int) -> None:
    if not _is_int(value) or value < least:  # type: ignore[operator]
        raise ConfigError(f"{name} must be an integer of at least {least}, got {value!r}")


PRESETS: dict[str, VmambaIRConfig] = {
    "realsr": VmambaIRConfig(
        num_blocks=(6, 2, 2, 1), num_refinement_blocks=6, head="sr", scale=4,
        channel_scan="mamba", channel_inner=1, channel_dt_rank=None, fusion="gate", name="realsr",
    ),
    "sisr": VmambaIRConfig(
        num_blocks=(15, 1, 1, 1), num_refinement_blocks=15, head="sr", scale=4,
        channel_scan="conv", channel_inner=4, channel_dt_rank=6, fusion="gate", name="sisr",
    ),
    "derain": VmambaIRConfig(
        num_blocks=(3, 5, 7, 9), num_refinement_blocks=2, head="restore", scale=1,
        channel_scan="conv", channel_inner=4, channel_dt_rank=6, fusion="add", name="derain",
    ),
}
"""The authors' three networks; parameter counts 10,497,813 / 12,028,273 / 28,709,875."""

PRESET_PARAMS: dict[str, int] = {"realsr": 10_497_813, "sisr": 12_028_273, "derain": 28_709_875}

TASK_DESCRIPTIONS: dict[str, str] = {
    "realsr": "real-world x4 super-resolution (Real-ESRGAN degradations)",
    "sisr": "bicubic x4 super-resolution (the authors' recipe: L1, then a GAN stage)",
    "derain": "rain-streak removal (same size)",
}


def get_preset(name: str) -> VmambaIRConfig:
    """Preset by task name, with a clear error listing the valid ones."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown task/preset {name!r}; choose one of {', '.join(PRESET_NAMES)}") from None


def tiny_config(preset: str = "realsr", dim: int = 8, blocks: int = 1) -> VmambaIRConfig:
    """A preset's design at toy width/depth, for fast tests and training smoke runs."""
    return replace(
        get_preset(preset), dim=dim, num_blocks=(blocks,) * 4, num_refinement_blocks=blocks,
        name=f"{preset}-tiny",
    )
