"""The light degradation most phone and web photos have: slight blur, x4 down, light noise, JPEG.

Real-ESRGAN's second-order model (``degrade_realesrgan``) is built for the worst photos; a model
trained only on it over-smooths pictures that needed little. ``degrade_mild`` is the other end,
one pass per image (every choice drawn per image)::

    isotropic Gaussian blur (sigma in blur_sigma; a 21-px kernel)
      -> x4 down (area or bicubic, antialiased)
      -> Gaussian noise (sigma in noise_range on 0..255; grey with gray_noise_prob)
      -> JPEG (quality in jpeg_range) -> 8-bit

It makes the ``BSD100-mild`` benchmark (one image at a time, per-image seeds) and, mixed into the
realsr training batches with probability ``prob`` per image, the mild part of a training mix.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from vmambair_core.data.degrade.config import _check_prob, _check_range
from vmambair_core.data.degrade.jpeg import jpeg_compress
from vmambair_core.data.degrade.kernels import GAUSSIAN, blur_kernels, filter2d
from vmambair_core.data.degrade.noise import gaussian_noise
from vmambair_core.errors import InputError

__all__ = ["MildConfig", "MILD_DOWN_MODES", "degrade_mild"]

#: Down-sampling filters drawn with equal probability (what cameras' and browsers' resizers use).
MILD_DOWN_MODES: tuple[str, ...] = ("area", "bicubic")
_KERNEL = 21


@dataclass(frozen=True)
class MildConfig:
    """Ranges of the mild degradation; ``prob`` is its share of a training batch (unused by benchmarks)."""

    blur_sigma: tuple[float, float] = (0.3, 1.5)
    noise_range: tuple[float, float] = (0.0, 6.0)
    gray_noise_prob: float = 0.4
    jpeg_range: tuple[float, float] = (70.0, 95.0)
    prob: float = 0.0

    def __post_init__(self) -> None:
        _check_range("mild.blur_sigma", self.blur_sigma, 0.05, 5.0)
        _check_range("mild.noise_range", self.noise_range, 0.0, 255.0)
        _check_range("mild.jpeg_range", self.jpeg_range, 1.0, 100.0)
        _check_prob("mild.gray_noise_prob", self.gray_noise_prob)
        _check_prob("mild.prob", self.prob)


def _uniform(n: int, rng: tuple[float, float], g: torch.Generator) -> Tensor:
    return rng[0] + (rng[1] - rng[0]) * torch.rand(n, generator=g, device=g.device)


@torch.no_grad()
def degrade_mild(hr: Tensor, cfg: MildConfig, generator: torch.Generator, scale: int = 4) -> Tensor:
    """The LQ batch (B, 3, H/scale, W/scale), 8-bit valued in [0, 1], of a float HR batch in [0, 1].

    Deterministic for a given generator state (on ``hr``'s device). H and W must be multiples of
    ``scale`` and at least the blur kernel's reach (11 px).
    """
    if hr.ndim != 4 or hr.shape[1] != 3 or not hr.is_floating_point():
        raise InputError(f"expected a float (B, 3, H, W) HR batch in [0, 1], got {tuple(hr.shape)} {hr.dtype}")
    b, _, h, w = hr.shape
    if h % scale or w % scale or min(h, w) <= _KERNEL // 2:
        raise InputError(f"HR size {h}x{w} must be a multiple of {scale} and larger than {_KERNEL // 2} px")
    g = generator
    sigma = _uniform(b, cfg.blur_sigma, g)
    zeros = torch.zeros(b, device=g.device)
    family = torch.full((b,), GAUSSIAN, device=g.device, dtype=torch.long)
    size = torch.full((b,), _KERNEL, device=g.device, dtype=torch.long)
    kernel = blur_kernels(family, size, sigma, sigma, zeros, zeros, zeros, pad=_KERNEL).to(hr.dtype)
    modes = torch.randint(len(MILD_DOWN_MODES), (b,), generator=g, device=g.device).tolist()
    noise_sigma = _uniform(b, cfg.noise_range, g)
    gray = torch.rand(b, generator=g, device=g.device) < cfg.gray_noise_prob
    quality = _uniform(b, cfg.jpeg_range, g)

    blurred = filter2d(hr, kernel.to(hr.device))
    size_lq = (h // scale, w // scale)
    lq = torch.cat([
        F.interpolate(blurred[i : i + 1], size=size_lq, mode=MILD_DOWN_MODES[m],
                      **({"antialias": True, "align_corners": False} if m else {}))
        for i, m in enumerate(modes)
    ])
    lq = torch.clamp(lq + gaussian_noise(lq, noise_sigma.to(lq.device), gray.to(lq.device), g), 0.0, 1.0)
    lq = jpeg_compress(lq, quality.to(lq.device))
    return torch.clamp((lq * 255.0).round(), 0, 255) / 255.0
