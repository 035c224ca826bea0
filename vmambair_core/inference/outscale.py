"""Any final scale (``--outscale``): the network runs at its own scale, then its output is resized.

Real-ESRGAN's ``-s`` works the same way, and its users ask for it more than for anything else: a x4
network is the best way to get a x2 or x3.5 result, by shrinking its output with an area filter
(which averages, so no aliasing) or enlarging it with Lanczos.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import ConfigError


def check_outscale(factor: float | None) -> float | None:
    """None (keep the network's scale) or a finite factor > 0."""
    if factor is not None and not (math.isfinite(factor) and factor > 0):
        raise ConfigError(f"--outscale must be a number > 0, got {factor}")
    return factor


def outscale_size(height: int, width: int, factor: float) -> tuple[int, int]:
    """(height, width) of a ``height`` x ``width`` input scaled by ``factor`` (rounded, at least 1 pixel)."""
    return max(1, round(height * factor)), max(1, round(width * factor))


def resize_planes(planes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize float (H, W) or (H, W, C) samples in [0, 1] to ``size`` = (height, width), clipped to [0, 1].

    Area averaging when the image gets smaller, Lanczos (8x8 taps) when it gets larger; Lanczos
    rings a little past the range at hard edges, hence the clip.
    """
    height, width = size
    shrinking = height * width < planes.shape[0] * planes.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LANCZOS4
    resized = cv2.resize(np.ascontiguousarray(planes, dtype=np.float32), (width, height), interpolation=interpolation)
    return np.clip(resized.reshape((height, width, *planes.shape[2:])), 0.0, 1.0)
