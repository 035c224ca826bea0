"""Weights code: safe reading/writing, preset detection, and :func:`load`, the one way to load a network.

Not to be confused with the repository folder ``weights/``, installed as the data package
``vmambair_weights``: that one holds the registry (``registry.json``) and the bundled ``*.safetensors``
files, and no code; ``registry`` here reads it.
"""

from __future__ import annotations

from .detect import check_state_dict, config_from_state_dict, detect_preset, expected_shapes
from .formats import META_PRESET, META_TASK, LoadedWeights, read_weights, write_safetensors
from .loader import LoadedModel, WeightsSource, load, load_into
from .metadata import META_CONFIG, check_file_task, config_from_metadata, network_metadata
from .realesrgan import PeerNetwork, read_peer
from .resolve import (
    DEFAULT_TASK, ResolvedWeights, cache_status, convert_checkpoint, entry_status, infer_task, resolve_named,
    resolve_weights,
)

__all__ = [
    "LoadedModel", "WeightsSource", "check_file_task", "config_from_state_dict", "load",
    "META_CONFIG", "PeerNetwork", "config_from_metadata", "network_metadata", "read_peer",
    "DEFAULT_TASK", "ResolvedWeights", "cache_status", "convert_checkpoint", "entry_status", "infer_task", "resolve_named",
    "resolve_weights",
    "LoadedWeights", "META_PRESET", "META_TASK", "check_state_dict", "detect_preset", "expected_shapes",
    "load_into", "read_weights", "write_safetensors",
]
