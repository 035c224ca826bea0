"""What a weights file says about itself: its task and, for non-preset networks, its full config.

``vmambair.preset`` is the network config's name (``sisr``, or ``sisr-tiny`` for a toy model),
``vmambair.task`` the task it restores, ``vmambair.config`` the whole ``VmambaIRConfig`` as JSON so
trained variants rebuild exactly. The authors' ``.pth`` files carry none of this.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

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


def config_for_task(task: str, weights: LoadedWeights) -> VmambaIRConfig:
    """The network to build for ``task`` and these weights.

    Files that name another task are refused; files that carry their own config (trained with
    ``vmambair train``, possibly a smaller variant) rebuild it; everything else gets the preset.
    """
    file_task = weights.metadata.get(META_TASK) or weights.metadata.get(META_PRESET)
    if file_task and file_task != task:
        raise CheckpointError(
            f"{weights.source} holds '{file_task}' weights (file metadata) but task '{task}' was asked for; "
            f"use --task {file_task} or other weights"
        )
    if META_CONFIG in weights.metadata:
        return check_config_fits(config_from_metadata(weights.metadata), weights)
    return get_preset(task)


def check_config_fits(cfg: VmambaIRConfig, weights: LoadedWeights) -> VmambaIRConfig:
    """Refuse metadata describing a network larger than the file's own tensors, before any network is built.

    The budget is what the file holds: a tampered ``vmambair.config`` (``dim: 4096`` on a small file)
    would otherwise allocate a network of tens of billions of parameters before the strict key check.
    """
    held = sum(t.numel() for t in weights.state_dict.values())
    needed = estimated_parameter_count(cfg)
    if needed > held:
        raise CheckpointError(
            f"{weights.source}: its vmambair.config metadata describes a network of {needed:,} parameters but the "
            f"file holds {held:,} values; the metadata does not belong to these weights"
        )
    return cfg
