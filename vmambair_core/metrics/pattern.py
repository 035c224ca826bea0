"""Fixed-pattern amplitude: how strongly an x``s`` output repeats a grid of period ``s`` (no reference).

Sub-pixel convolution (pixel shuffle) and GAN training can leave a faint checkerboard whose period is
the upscaling factor. NIQE rewards such periodic texture, so it is measured on its own: the output's Y
(MATLAB ``rgb2ycbcr`` luma, unrounded) is high-passed (minus a Gaussian blur, sigma 2), averaged over
each of the ``s x s`` sub-pixel phases (pixel ``(i, j)`` belongs to phase ``(i mod s, j mod s)``), and
the amplitude is the largest absolute deviation of a phase mean from the mean of the phase means, in
grey levels of Y (0..255). Image content averages out over the phases; a pattern tied to the pixel grid
does not. A grey pattern of amplitude ``a`` added to R, G and B reads ``219/255 * a`` on Y.

For orientation (RealSRSet, x4): bicubic 0.01, Real-ESRGAN x4plus 0.14; a visible checkerboard 3 or
more. **Lower is better.**
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from vmambair_core.errors import InputError
from vmambair_core.metrics.color import rgb_to_y

__all__ = ["PATTERN_SIGMA", "fixed_pattern_amplitude", "period_means", "phase_means"]

PATTERN_SIGMA = 2.0
"""Gaussian sigma of the high-pass: removes image content far below the grid's frequency."""


def _luma(img: np.ndarray) -> np.ndarray:
    """Float64 Y in grey levels: uint8 RGB through MATLAB Y (unrounded); a 2-D array is already Y/grey."""
    if img.ndim == 3 and img.shape[2] == 3:
        return rgb_to_y(img, "basicsr")  # float Y: no rounding noise on top of a sub-grey-level pattern
    if img.ndim == 2 and (img.dtype == np.uint8 or np.issubdtype(img.dtype, np.floating)):
        y = img.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise InputError("pattern amplitude: image contains NaN or infinite values.")
        return y
    raise InputError(
        f"pattern amplitude takes a uint8 HxWx3 RGB image or an HxW luma/grey image, got {img.shape} {img.dtype}."
    )


def period_means(high: Any, scale: int) -> Any:
    """(..., s, s): the mean of each sub-pixel phase over the last two axes, cropped to whole periods.

    Pixel ``(i, j)`` belongs to phase ``(i mod s, j mod s)``. The one home of that grouping: it takes a
    numpy array (this metric) or a torch tensor (the training penalty ``train.losses.phase_deviation``,
    differentiable) and does the same reshape and mean on either.
    """
    h, w = (high.shape[-2] // scale) * scale, (high.shape[-1] // scale) * scale
    high = high[..., :h, :w]
    return high.reshape(*high.shape[:-2], h // scale, scale, w // scale, scale).mean(axis=(-4, -2))


def phase_means(img: np.ndarray, scale: int, *, sigma: float = PATTERN_SIGMA) -> np.ndarray:
    """(scale, scale) means of the high-passed Y over each sub-pixel phase (cropped to whole periods)."""
    if not isinstance(scale, int) or scale < 2:
        raise InputError(f"pattern amplitude needs a period of at least 2 pixels, got {scale!r}.")
    if not sigma > 0:
        raise InputError(f"pattern amplitude: sigma must be positive, got {sigma!r}.")
    y = _luma(img)
    h, w = (y.shape[0] // scale) * scale, (y.shape[1] // scale) * scale
    if h == 0 or w == 0:
        raise InputError(f"pattern amplitude: a {y.shape[1]}x{y.shape[0]} image holds no whole {scale}x{scale} period.")
    high = y - cv2.GaussianBlur(y, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
    return period_means(high, scale)


def fixed_pattern_amplitude(img: np.ndarray, scale: int, *, sigma: float = PATTERN_SIGMA) -> float:
    """Largest |phase mean - mean of phase means| of the high-passed Y, in grey levels. Lower is better."""
    means = phase_means(img, scale, sigma=sigma)
    return float(np.max(np.abs(means - means.mean())))
