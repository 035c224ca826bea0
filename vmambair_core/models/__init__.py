"""The VmambaIR network and its presets."""

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


__all__ = [
    "PRESETS", "PRESET_NAMES", "PRESET_PARAMS", "PresetName", "VmambaIR", "VmambaIRConfig", "OSSBlock",
    "build_model", "get_preset", "tiny_config",
]
