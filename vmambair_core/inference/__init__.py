"""Inference: whole-image and tiled runs of a network, with OOM handling (devices and precisions: ``device``)."""

from .engine import Restorer, TileOptions
from .tiling import DeviceMemoryError, run_padded, run_tiled, run_with_oom_backoff

__all__ = ["DeviceMemoryError", "Restorer", "TileOptions", "run_padded", "run_tiled", "run_with_oom_backoff"]
