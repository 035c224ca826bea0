"""vmambair core: the VmambaIR network, its scans, weights, data, metrics, training and inference.

Public API::

    from vmambair_core import build_model, load
    net = build_model("realsr")                          # random init, the authors' preset
    model = load("weights.safetensors", "realsr")        # strict load, eval mode: model.net, .config, .task
    model = load("net_g.pth")                            # task and size told from the file itself
"""

from __future__ import annotations

import os as _os

# Transparent huge pages for PyTorch's large CPU tensors (>= 2 MB): a fresh 100 MB tensor then costs
# 50 page faults instead of 25,000 (measured on the 2-core VM: 46 -> 12 ms to allocate and fill; the
# realsr forward at 256x256 LQ 18.4 -> 14.9 s). PyTorch reads the variable once, when it loads, so it
# is set here, before the first torch import, unless the user set it (0 turns it off). No effect where
# THP is disabled or torch was imported before vmambair_core.
_os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

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
from .weights import LoadedModel, load

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError", "CheckpointError", "ConfigError", "InputError", "LoadedModel", "PRESETS", "PRESET_NAMES",
    "PRESET_PARAMS", "VmambaIR", "VmambaIRConfig", "VmambairError", "WeightsNotFoundError", "__version__",
    "build_model", "get_preset", "load", "selective_scan",
]
