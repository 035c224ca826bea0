"""Real-ESRGAN second-order degradation (the realsr training data), batched on the device.

``degrade_realesrgan`` reproduces Real-ESRGAN's ``feed_data`` plus the kernels its dataset
draws, as one pure function of (HR batch, config, generator)::

    stage 1: blur k1 -> random resize -> Gaussian/Poisson noise -> JPEG
    stage 2: blur k2 (prob 0.8) -> random resize to (H/s, W/s) * r -> noise -> JPEG
    final  : 50/50 [resize to (H/s, W/s) + sinc] then JPEG, or JPEG then [resize + sinc]
    LQ     : clamp(round(255 x)) / 255

Batch-wide choices (resize direction, scale and mode, Gaussian vs Poisson, second blur, final
order) are drawn once per call like Real-ESRGAN; kernels, noise strengths, grey flags and JPEG
qualities per image. No USM sharpening (VmambaIR trains on the plain GT). The training-pair
queue of Real-ESRGAN (size 180) belongs to the training loop, not here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from vmambair_core.data.degrade.config import (
    KERNEL_KINDS,
    RESIZE_MODES,
    BlurConfig,
    DegradationConfig,
    StageConfig,
)
from vmambair_core.data.degrade.jpeg import jpeg_compress
from vmambair_core.data.degrade.kernels import filter2d, sample_blur_kernels, sample_final_sinc
from vmambair_core.data.degrade.noise import random_noise
from vmambair_core.device import same_device
from vmambair_core.errors import InputError

__all__ = [
    "KERNEL_KINDS",
    "BlurConfig",
    "DegradationConfig",
    "StageConfig",
    "degrade_realesrgan",
    "paired_random_crop",
    "realesrgan_pair",
]


def _rand(g: torch.Generator) -> float:
    return float(torch.rand((), generator=g, device=g.device))


def _random_scale(stage: StageConfig, g: torch.Generator) -> float:
    """Up / down / keep with ``resize_prob``; up in [1, max], down in [min, 1]."""
    weights = torch.tensor(stage.resize_prob, dtype=torch.float64, device=g.device)
    direction = int(torch.multinomial(weights, 1, generator=g))
    lo, hi = stage.resize_range
    u = _rand(g)
    return (1.0 + (hi - 1.0) * u, lo + (1.0 - lo) * u, 1.0)[direction]


def _random_mode(g: torch.Generator) -> str:
    return RESIZE_MODES[int(torch.randint(len(RESIZE_MODES), (), generator=g, device=g.device))]


def _resize(x: Tensor, mode: str, *, size: tuple[int, int] | None = None, scale: float | None = None) -> Tensor:
    # Real-ESRGAN calls F.interpolate without align_corners/antialias; bicubic may overshoot [0, 1]
    # and is clipped by the following noise step.
    return F.interpolate(x, size=size, scale_factor=scale, mode=mode)


def _jpeg(x: Tensor, stage: StageConfig, g: torch.Generator) -> Tensor:
    lo, hi = stage.jpeg_range
    quality = lo + (hi - lo) * torch.rand(x.shape[0], generator=g, device=g.device)
    return jpeg_compress(torch.clamp(x, 0.0, 1.0), quality)


def _check_inputs(hr: Tensor, cfg: DegradationConfig, generator: torch.Generator) -> None:
    if hr.ndim != 4 or hr.shape[1] != 3 or not hr.is_floating_point():
        raise InputError(f"expected a float (B, 3, H, W) HR batch in [0, 1], got {tuple(hr.shape)} {hr.dtype}")
    h, w = hr.shape[-2:]
    if h % cfg.scale or w % cfg.scale:
        raise InputError(f"HR size {h}x{w} must be a multiple of scale {cfg.scale}: crop it first")
    if min(h, w) < cfg.min_hr_size():
        raise InputError(
            f"HR size {h}x{w} is below {cfg.min_hr_size()} px, the least for which the blurs' reflect "
            f"padding fits after the smallest resize ({cfg.first.resize_range[0]})"
        )
    if not same_device(generator.device, hr.device):
        raise InputError(
            f"generator is on {generator.device} but the HR batch on {hr.device}: "
            f"use torch.Generator(device={str(hr.device)!r})"
        )


@torch.no_grad()
def degrade_realesrgan(hr: Tensor, cfg: DegradationConfig, generator: torch.Generator) -> Tensor:
    """Synthesize the LQ batch (B, 3, H/s, W/s), 8-bit valued in [0, 1], from HR (B, 3, H, W).

    Deterministic for a given generator state; ``generator`` must live on ``hr``'s device.
    Not differentiable (8-bit rounding), so it runs without autograd like ``feed_data``.
    """
    _check_inputs(hr, cfg, generator)
    g = generator
    b = hr.shape[0]
    h, w = hr.shape[-2:]
    lq_size = (h // cfg.scale, w // cfg.scale)
    pad = cfg.kernel_pad
    kernel1 = sample_blur_kernels(b, cfg.first.blur, cfg.kernel_sizes, g, pad).to(hr.dtype)
    kernel2 = sample_blur_kernels(b, cfg.second.blur, cfg.kernel_sizes, g, pad).to(hr.dtype)
    sinc = sample_final_sinc(b, cfg.final_sinc_prob, cfg.kernel_sizes, g, pad).to(hr.dtype)

    # Stage 1.
    out = filter2d(hr, kernel1) if _rand(g) < cfg.first.blur_prob else hr
    out = _resize(out, _random_mode(g), scale=_random_scale(cfg.first, g))
    out = random_noise(out, cfg.first, g)
    out = _jpeg(out, cfg.first, g)

    # Stage 2.
    if _rand(g) < cfg.second.blur_prob:
        out = filter2d(out, kernel2)
    r = _random_scale(cfg.second, g)
    out = _resize(out, _random_mode(g), size=(max(1, int(lq_size[0] * r)), max(1, int(lq_size[1] * r))))
    out = random_noise(out, cfg.second, g)

    # Final resize + sinc and JPEG, in a random order.
    if _rand(g) < cfg.sinc_first_prob:
        out = filter2d(_resize(out, _random_mode(g), size=lq_size), sinc)
        out = _jpeg(out, cfg.second, g)
    else:
        out = _jpeg(out, cfg.second, g)
        out = filter2d(_resize(out, _random_mode(g), size=lq_size), sinc)
    return torch.clamp((out * 255.0).round(), 0, 255) / 255.0


def paired_random_crop(
    hr: Tensor, lq: Tensor, gt_size: int, scale: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Crop a ``gt_size`` HR patch and the matching ``gt_size / scale`` LQ patch.

    One offset for the whole batch (BasicSR's ``paired_random_crop`` on tensors), drawn on the
    LQ grid so both crops stay aligned.
    """
    lq_size = gt_size // scale
    h, w = lq.shape[-2:]
    if gt_size % scale or hr.shape[-2:] != (h * scale, w * scale):
        raise InputError(
            f"HR {tuple(hr.shape[-2:])} must be {scale}x LQ {(h, w)} and gt_size {gt_size} a multiple of {scale}"
        )
    if h < lq_size or w < lq_size:
        raise InputError(f"LQ {h}x{w} is smaller than the patch {lq_size}x{lq_size}")
    top = int(torch.randint(h - lq_size + 1, (), generator=generator, device=generator.device))
    left = int(torch.randint(w - lq_size + 1, (), generator=generator, device=generator.device))
    lq_patch = lq[..., top : top + lq_size, left : left + lq_size]
    hr_patch = hr[..., top * scale : (top + lq_size) * scale, left * scale : (left + lq_size) * scale]
    return hr_patch, lq_patch


def realesrgan_pair(hr: Tensor, cfg: DegradationConfig, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Degrade an HR batch and crop the aligned (gt_size, gt_size / scale) training pair."""
    lq = degrade_realesrgan(hr, cfg, generator)
    return paired_random_crop(hr, lq, cfg.gt_size, cfg.scale, generator)
