"""vmambair core: the VmambaIR network, its scans, weights, data, metrics, training and inference.

Public API::

    from vmambair_core import build_model, load_model
    net = build_model("realsr")                     # random init, the authors' preset
    net = load_model("realsr", "weights.safetensors")  # strict load, eval mode
"""

from __future__ import annotations

from .errors import (
    BackendUnavailableError,
    CheckpointError,
    ConfigError,
    InputError,
    VmambairError,
    WeightsNotFoundError,
)
from .models import PRESET_NAMES, PRESET_PARAMS, PRESETS, VmambaIR, VmambaIRConfig, build_model, get_preset
from .scan import selective_scan
from .weights import load_model

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError", "CheckpointError", "ConfigError", "InputError", "PRESETS", "PRESET_NAMES",
    "PRESET_PARAMS", "VmambaIR", "VmambaIRConfig", "VmambairError", "WeightsNotFoundError", "__version__",
    "build_model", "get_preset", "load_model", "selective_scan",
]
