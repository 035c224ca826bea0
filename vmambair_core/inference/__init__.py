"""Inference: whole-image and tiled runs of a network, with device, precision and OOM handling."""

from .engine import PRECISIONS, Precision, Restorer, autocast_for, resolve_device, resolve_precision
from .tiling import DeviceMemoryError, run_padded, run_tiled, run_with_oom_backoff

__all__ = [
    "DeviceMemoryError", "PRECISIONS", "Precision", "Restorer", "autocast_for", "resolve_device",
    "resolve_precision", "run_padded", "run_tiled", "run_with_oom_backoff",
]
