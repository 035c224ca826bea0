"""PSNR and SSIM exactly as SR/deraining papers compute them (BasicSR / MATLAB conventions).

Both images are quantised to uint8 first (a saved PNG is what gets scored), optionally
reduced to MATLAB BT.601 luma, cropped by ``crop_border`` pixels on every side, then:

* PSNR = 10 log10(255^2 / MSE) in float64 over all remaining pixels and channels
  (``inf`` for identical images);
* SSIM = Wang et al. 2004 (``ssim_index.m``): 11x11 Gaussian window with sigma 1.5,
  K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering (no padding), mean of the SSIM map,
  then the mean over channels for RGB.

Single-channel (HxW or HxWx1) images are scored as they are whatever ``channel`` says,
as BasicSR does for greyscale benchmark images (Set14 ``bridge``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from vmambair_core.errors import InputError
from vmambair_core.metrics.color import Y_MODES, YMode, rgb_to_y, to_uint8

__all__ = ["Channel", "prepare_pair", "psnr", "ssim", "ssim_window"]

Channel = Literal["y", "rgb"]
CHANNELS: tuple[Channel, ...] = ("y", "rgb")

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
PEAK = 255.0


def _as_hwc(img: np.ndarray, name: str) -> np.ndarray:
    if img.ndim == 2:
        return img[..., None]
    if img.ndim == 3 and img.shape[2] in (1, 3):
        return img
    raise InputError(f"{name} must be HxW, HxWx1 or HxWx3 (RGB), got shape {img.shape}.")


def prepare_pair(
    img: np.ndarray,
    ref: np.ndarray,
    *,
    crop_border: int = 0,
    channel: Channel = "y",
    y_mode: YMode = "matlab",
    float_range: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Quantise, convert and crop both images; returns float64 HxWxC arrays (C = 1 or 3)."""
    if not isinstance(img, np.ndarray) or not isinstance(ref, np.ndarray):
        raise InputError("metrics take numpy arrays (HxW or HxWx3 RGB); convert tensors first.")
    if img.shape != ref.shape:
        raise InputError(f"image and reference shapes differ: {img.shape} vs {ref.shape}.")
    if channel not in CHANNELS:
        raise InputError(f"unknown channel {channel!r}; expected one of {CHANNELS}.")
    if y_mode not in Y_MODES:
        raise InputError(f"unknown y_mode {y_mode!r}; expected one of {Y_MODES}.")
    if not isinstance(crop_border, int) or crop_border < 0:
        raise InputError(f"crop_border must be a non-negative integer, got {crop_border!r}.")
    a = _as_hwc(to_uint8(img, float_range), "image")
    b = _as_hwc(to_uint8(ref, float_range), "reference")
    h, w = a.shape[:2]
    if 2 * crop_border >= min(h, w):
        raise InputError(f"crop_border={crop_border} leaves nothing of a {h}x{w} image.")
    if channel == "y" and a.shape[2] == 3:
        fa, fb = rgb_to_y(a, y_mode)[..., None], rgb_to_y(b, y_mode)[..., None]
    else:
        fa, fb = a.astype(np.float64), b.astype(np.float64)
    if crop_border:
        fa = fa[crop_border:-crop_border, crop_border:-crop_border]
        fb = fb[crop_border:-crop_border, crop_border:-crop_border]
    return fa, fb


def psnr(
    img: np.ndarray,
    ref: np.ndarray,
    *,
    crop_border: int = 0,
    channel: Channel = "y",
    y_mode: YMode = "matlab",
    float_range: float | None = None,
) -> float:
    """PSNR in dB of ``img`` against ``ref`` (uint8, or float with ``float_range``), RGB channel order.

    ``channel="y"`` scores MATLAB BT.601 luma (``y_mode`` picks rounded "matlab" or float
    "basicsr" Y); ``"rgb"`` scores all three channels. ``inf`` when the images are equal.
    """
    a, b = prepare_pair(img, ref, crop_border=crop_border, channel=channel, y_mode=y_mode, float_range=float_range)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0:
        return float("inf")
    return float(10.0 * np.log10(PEAK * PEAK / mse))


def ssim_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian; its outer product is MATLAB's ``fspecial('gaussian', size, sigma)``."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """2-D 'valid' correlation of HxW ``x`` with the separable window ``outer(g, g)``."""
    rows = sliding_window_view(x, g.size, axis=0) @ g  # (H-k+1, W)
    return sliding_window_view(rows, g.size, axis=1) @ g  # (H-k+1, W-k+1)


def _ssim_plane(a: np.ndarray, b: np.ndarray, g: np.ndarray) -> float:
    c1 = (SSIM_K1 * PEAK) ** 2
    c2 = (SSIM_K2 * PEAK) ** 2
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a * mu_a
    var_b = _filter_valid(b * b, g) - mu_b * mu_b
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    num = (2.0 * mu_a * mu_b + c1) * (2.0 * cov + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def ssim(
    img: np.ndarray,
    ref: np.ndarray,
    *,
    crop_border: int = 0,
    channel: Channel = "y",
    y_mode: YMode = "matlab",
    float_range: float | None = None,
) -> float:
    """Mean SSIM (Wang et al., 'valid' 11x11 Gaussian window) of ``img`` against ``ref``; same inputs as ``psnr``."""
    a, b = prepare_pair(img, ref, crop_border=crop_border, channel=channel, y_mode=y_mode, float_range=float_range)
    if min(a.shape[:2]) < SSIM_WINDOW:
        raise InputError(f"SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels after cropping, got {a.shape[:2]}.")
    g = ssim_window()
    return float(np.mean([_ssim_plane(a[..., c], b[..., c], g) for c in range(a.shape[2])]))
