"""Gaussian and Poisson noise of the Real-ESRGAN degradation, per image in a batch.

Semantics follow BasicSR's ``*_noise_pt`` functions: sigma is on the 0..255 scale; Poisson
noise counts the distinct 8-bit levels of each image, rounds that count up to a power of two
``v`` and draws ``Poisson(v * x) / v - x`` (so its variance is ``x / v`` before ``scale``);
grey noise uses one draw for all channels (for Poisson, of the ITU-R 601 luma). Images whose
grey flag is off get independent colour noise. One deviation: BasicSR draws one grey Gaussian
pattern for the whole batch; here each image gets its own.
"""

from __future__ import annotations

import torch
from torch import Tensor

from vmambair_core.data.degrade.config import StageConfig

_LUMA = (0.2989, 0.587, 0.114)  # torchvision's rgb_to_grayscale weights, as BasicSR uses


def _per_image(value: Tensor | float, img: Tensor) -> Tensor:
    return torch.as_tensor(value, device=img.device, dtype=img.dtype).expand(img.shape[0]).reshape(-1, 1, 1, 1)


def gaussian_noise(img: Tensor, sigma: Tensor | float, gray: Tensor | bool, generator: torch.Generator) -> Tensor:
    """Noise (B, C, H, W) with per-image std ``sigma / 255``; grey images share it across channels."""
    b, c, h, w = img.shape
    s = _per_image(sigma, img) / 255.0
    gray_mask = torch.as_tensor(gray, device=img.device).expand(b).reshape(-1, 1, 1, 1)
    noise = torch.randn(img.shape, generator=generator, device=generator.device, dtype=img.dtype) * s
    if bool(gray_mask.any()):
        gray_noise = torch.randn((b, 1, h, w), generator=generator, device=generator.device, dtype=img.dtype) * s
        noise = torch.where(gray_mask, gray_noise.expand(b, c, h, w), noise)
    return noise


def _shot_noise(x: Tensor, generator: torch.Generator) -> Tensor:
    """Poisson noise of 8-bit-rounded ``x`` with the level count rounded up to a power of two."""
    b = x.shape[0]
    x = torch.clamp((x * 255.0).round(), 0, 255) / 255.0
    levels = (x * 255.0).round().long().reshape(b, -1)
    present = torch.zeros(b, 256, device=x.device, dtype=x.dtype).scatter_(1, levels, 1.0)
    count = present.sum(dim=1)
    vals = torch.exp2(torch.ceil(torch.log2(count))).reshape(-1, 1, 1, 1)
    return torch.poisson(x * vals, generator=generator) / vals - x


def poisson_noise(img: Tensor, scale: Tensor | float, gray: Tensor | bool, generator: torch.Generator) -> Tensor:
    """Shot noise (B, C, H, W) times per-image ``scale``; grey images use the noise of their luma."""
    b, c, h, w = img.shape
    gray_mask = torch.as_tensor(gray, device=img.device).expand(b).reshape(-1, 1, 1, 1)
    noise = _shot_noise(img, generator)
    if bool(gray_mask.any()):
        luma = torch.tensor(_LUMA, device=img.device, dtype=img.dtype).reshape(1, 3, 1, 1)
        gray_img = (img * luma).sum(dim=1, keepdim=True)
        noise = torch.where(gray_mask, _shot_noise(gray_img, generator).expand(b, c, h, w), noise)
    return noise * _per_image(scale, img)


def random_noise(img: Tensor, stage: StageConfig, generator: torch.Generator) -> Tensor:
    """Add Gaussian (prob ``gaussian_noise_prob``, one choice per batch as Real-ESRGAN) or Poisson
    noise with per-image strength and grey flag, then clip to [0, 1]."""
    g = generator
    b = img.shape[0]
    gray = torch.rand(b, generator=g, device=g.device) < stage.gray_noise_prob
    if float(torch.rand((), generator=g, device=g.device)) < stage.gaussian_noise_prob:
        lo, hi = stage.noise_range
        sigma = lo + (hi - lo) * torch.rand(b, generator=g, device=g.device)
        noise = gaussian_noise(img, sigma, gray, g)
    else:
        lo, hi = stage.poisson_scale_range
        scale = lo + (hi - lo) * torch.rand(b, generator=g, device=g.device)
        noise = poisson_noise(img, scale, gray, g)
    return torch.clamp(img + noise, 0.0, 1.0)
