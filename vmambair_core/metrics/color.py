"""Colour conversions used by the SR/deraining metrics: uint8 quantisation and MATLAB's BT.601 Y.

Published PSNR/SSIM are computed on MATLAB ``rgb2ycbcr`` luma (studio range 16-235), not on
OpenCV's full-range YCrCb nor YIQ (pyiqa's default is 1.32 dB lower). Two variants exist:

* ``"matlab"``: ``rgb2ycbcr`` on uint8 input returns uint8, so Y is rounded to integers
  (what MATLAB evaluation scripts, e.g. Restormer's deraining one, compute);
* ``"basicsr"``: BasicSR's ``to_y_channel`` keeps Y as float.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np

from vmambair_core.errors import InputError

__all__ = ["YMode", "YCBCR_MATRIX", "YCBCR_OFFSET", "rgb2ycbcr", "rgb_to_y", "to_uint8"]

YMode = Literal["matlab", "basicsr"]
Y_MODES: tuple[YMode, ...] = ("matlab", "basicsr")

# MATLAB rgb2ycbcr: rows give Y, Cb, Cr for R, G, B in [0, 1]; offsets in 0..255 units.
YCBCR_MATRIX = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ],
    dtype=np.float64,
)
YCBCR_OFFSET = np.array([16.0, 128.0, 128.0], dtype=np.float64)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """MATLAB's ``round`` for non-negative values (numpy's ``round`` is half-to-even)."""
    return np.floor(x + 0.5)


def to_uint8(img: np.ndarray, float_range: float | None = None) -> np.ndarray:
    """Quantise an image to uint8 as a saved PNG would be; uint8 passes through unchanged.

    Float images need ``float_range`` (1.0 for [0, 1] tensors, 255.0 for [0, 255]): the
    range is not guessed. Values are scaled to 0..255, rounded half away from zero
    (MATLAB's ``im2uint8``) and clipped.
    """
    if img.dtype == np.uint8:
        return img
    if not np.issubdtype(img.dtype, np.floating):
        raise InputError(f"expected a uint8 or float image, got dtype {img.dtype}.")
    if float_range is None:
        raise InputError(
            f"a {img.dtype} image needs float_range: 1.0 if its values are in [0, 1], 255.0 if in [0, 255]."
        )
    if not float_range > 0:
        raise InputError(f"float_range must be positive, got {float_range!r}.")
    if not np.all(np.isfinite(img)):
        raise InputError("image contains NaN or infinite values.")
    scaled = img.astype(np.float64) * (255.0 / float_range)
    return np.clip(_round_half_away(scaled), 0, 255).astype(np.uint8)


def _check_rgb(img: np.ndarray) -> None:
    if img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"expected an HxWx3 RGB image, got shape {img.shape}.")
    if img.dtype != np.uint8:
        raise InputError(f"expected a uint8 image (quantise with to_uint8 first), got {img.dtype}.")


def rgb2ycbcr(img: np.ndarray, mode: YMode = "matlab") -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` of a uint8 HxWx3 **RGB** image, as float64 HxWx3 (Y, Cb, Cr) in 0..255 units.

    ``mode="matlab"`` rounds (half away from zero) like MATLAB's uint8 output; ``"basicsr"`` keeps floats.
    """
    _check_rgb(img)
    if mode not in Y_MODES:
        raise InputError(f"unknown Y mode {mode!r}; expected one of {Y_MODES}.")
    return np.stack([_channel(img, row, mode) for row in range(3)], axis=-1)


def rgb_to_y(img: np.ndarray, mode: YMode = "matlab") -> np.ndarray:
    """Luma of a uint8 HxWx3 **RGB** image (float64 HxW, 16-235): the channel SR papers score."""
    _check_rgb(img)
    if mode not in Y_MODES:
        raise InputError(f"unknown Y mode {mode!r}; expected one of {Y_MODES}.")
    return _channel(img, 0, mode)


def _channel(img: np.ndarray, row: int, mode: YMode) -> np.ndarray:
    """One output channel, evaluated in the order each reference implementation uses.

    The two orders differ by ~1e-14, which decides the rounding of the 194 RGB colours whose
    exact Y is a half-integer; "matlab" follows ``rgb2ycbcr``'s ``imlincomb(T1,R,T2,G,T3,B,offset)``
    with ``T = origT / 255``, "basicsr" its ``dot(img / 255, coeffs) + offset``.
    """
    if mode == "basicsr":
        return (img.astype(np.float64) / 255.0) @ YCBCR_MATRIX[row] + YCBCR_OFFSET[row]
    # The products t[c] * value are looked up from 256-entry tables instead of computed per pixel:
    # the same float64 values summed in the same order (bit-identical on all 2^24 colours), 3x faster.
    lut = _matlab_terms(row)
    lin = lut[0][img[..., 0]] + lut[1][img[..., 1]] + lut[2][img[..., 2]] + YCBCR_OFFSET[row]
    return np.clip(_round_half_away(lin), 0, 255)


@lru_cache(maxsize=3)
def _matlab_terms(row: int) -> np.ndarray:
    """(3, 256) float64: ``T[row, c] / 255 * v`` for every uint8 value ``v`` of channel ``c``."""
    t = YCBCR_MATRIX[row] * (1.0 / 255.0)
    terms = t[:, None] * np.arange(256, dtype=np.float64)[None, :]
    terms.setflags(write=False)
    return terms
