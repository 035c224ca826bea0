"""What a weights file says about itself: its task and, for non-preset networks, its full config.

``vmambair.preset`` is the network config's name (``sisr``, or ``sisr-tiny`` for a toy model),
``vmambair.task`` the task it restores, ``vmambair.config`` the whole ``VmambaIRConfig`` as JSON so
trained variants rebuild exactly. The authors' ``.pth`` files carry none of this.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Literal

from ..errors import CheckpointError, ConfigError
from ..models import VmambaIRConfig, estimated_parameter_count, get_preset
from .formats import META_PRESET, META_TASK, LoadedWeights

META_CONFIG = "vmambair.config"


def network_metadata(cfg: VmambaIRConfig, task: str) -> dict[str, str]:
    return {META_PRESET: cfg.name, META_TASK: task, META_CONFIG: json.dumps(dataclasses.asdict(cfg), sort_keys=True)}


def config_from_metadata(meta: Mapping[str, str]) -> VmambaIRConfig:
    """The network config a file was trained with: ``vmambair.config`` JSON, else its preset name."""
    raw = meta.get(META_CONFIG)
    if raw is None:
        preset = meta.get(META_PRESET) or meta.get(META_TASK)
        if not preset:
            raise CheckpointError("the weights carry no vmambair.config or vmambair.preset metadata; pass --task")
        return get_preset(preset)
    try:
        fields = json.loads(raw)
        fields["num_blocks"] = tuple(fields["num_blocks"])
        return VmambaIRConfig(**fields)
    except (ValueError, TypeError, KeyError, ConfigError) as exc:
        raise CheckpointError(f"unreadable vmambair.config metadata: {exc}") from None


def check_file_task(weights: LoadedWeights, asked: str | VmambaIRConfig) -> None:
    """Rule 4 of :mod:`.loader`: refuse a file whose metadata names another task (for a config: another network)."""
    meta = weights.metadata
    if isinstance(asked, VmambaIRConfig):
        said, fits = meta.get(META_PRESET), asked.name
    else:
        said, fits = meta.get(META_TASK) or meta.get(META_PRESET), asked
    if said and said != fits:
        raise CheckpointError(
            f"{weights.source} holds '{said}' weights (file metadata) but task '{fits}' was asked for; "
            f"use --task {said} or other weights"
        )


_READ_FROM = {
    "metadata": ("its vmambair.config metadata describes", "the metadata does not belong to these weights"),
    "shapes": ("its tensor names describe", "a block index is out of all proportion (a damaged or crafted file)"),
}


def check_config_fits(
    cfg: VmambaIRConfig, weights: LoadedWeights, read_from: Literal["metadata", "shapes"] = "metadata"
) -> VmambaIRConfig:
    """Refuse a config read from a file describing a network larger than the file's own tensors.

    The budget is what the file holds: a tampered ``vmambair.config`` (``dim: 4096`` on a small file), or
    a key ``encoder_level1.999999999.*``, would otherwise allocate a network of billions of parameters
    before the strict key check.
    """
    held = sum(t.numel() for t in weights.state_dict.values())
    needed = estimated_parameter_count(cfg)
    if needed > held:
        said, why = _READ_FROM[read_from]
        raise CheckpointError(
            f"{weights.source}: {said} a network of {needed:,} parameters but the file holds {held:,} values; {why}"
        )
    return cfg
