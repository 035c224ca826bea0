"""Synthetic rain streaks, for derain training when no paired data is at hand.

An approximation, not the process behind the benchmarks: Rain100H/L (Yang et al. 2017) and
the sets merged into Rain13K were rendered with other tools (Photoshop-style streak layers,
physically based renderers, each with its own density, blur and tone) and have not been
reproduced here; a model trained on these streaks will not match numbers trained on Rain13K.

Per image and layer (like the classic Photoshop recipe)::

    seeds   = sparse uniform noise (a fraction ``density`` of pixels lit, brightness in (0, 1])
    seeds   = Gaussian blur of width ``thickness`` (round drops)
    streaks = motion blur: a line of ``length`` px at ``angle`` degrees (0 = vertical; positive
              leans the streak's lower end to the right, i.e. wind blowing right)
    layer   = clamp(streaks * length * gain - threshold, 0, 1)

Layers of one image share the angle up to ``angle_jitter`` and are merged by screen blending;
the grey streak layer R is blended onto the image I by ``screen``, 1 - (1 - I)(1 - R), or
``add``, clamp(I + R, 0, 1). Seeds are drawn on a margin around the image so streaks enter
from outside the frame instead of thinning at the borders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from vmambair_core.device import same_device
from vmambair_core.errors import ConfigError, InputError

BlendMode = Literal["screen", "add"]


@dataclass(frozen=True)
class RainConfig:
    """Ranges drawn per image (per layer for density, length, thickness and gain)."""

    layers: tuple[int, int] = (1, 3)
    density: tuple[float, float] = (0.002, 0.02)
    length: tuple[float, float] = (10.0, 40.0)
    angle: tuple[float, float] = (-30.0, 30.0)
    angle_jitter: float = 3.0
    thickness: tuple[float, float] = (0.4, 1.2)
    gain: tuple[float, float] = (0.5, 1.0)
    """Brightness of a streak relative to its seed."""
    threshold: float = 0.05
    """Subtracted before clipping: removes the faint haze of overlapping blur tails."""
    blend: BlendMode = "screen"

    def __post_init__(self) -> None:
        lo, hi = self.layers
        if not 1 <= lo <= hi:
            raise ConfigError(f"layers must satisfy 1 <= min <= max, got {self.layers!r}")
        checks = {
            "density": (self.density, 0.0, 1.0),
            "length": (self.length, 1.0, 512.0),
            "angle": (self.angle, -90.0, 90.0),
            "thickness": (self.thickness, 0.0, 10.0),
            "gain": (self.gain, 0.0, 10.0),
        }
        for name, (rng, low, high) in checks.items():
            if not low <= rng[0] <= rng[1] <= high:
                raise ConfigError(f"{name} must satisfy {low} <= min <= max <= {high}, got {rng!r}")
        if self.angle_jitter < 0 or not 0 <= self.threshold < 1:
            raise ConfigError("angle_jitter must be >= 0 and threshold in [0, 1)")
        if self.blend not in ("screen", "add"):
            raise ConfigError(f"blend must be 'screen' or 'add', got {self.blend!r}")


def line_kernels(length: Tensor, angle_deg: Tensor, size: int) -> Tensor:
    """Antialiased line kernels (N, size, size) summing to 1, one per (length, angle) pair.

    The line passes through the centre along (sin a, cos a) in (x right, y down) coordinates;
    weights fall off linearly to 0 at one pixel from the line and half a pixel past its ends.
    """
    half = size // 2
    ax = torch.arange(-half, half + 1, device=length.device, dtype=length.dtype)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    a = torch.deg2rad(angle_deg).reshape(-1, 1, 1)
    along = xx * torch.sin(a) + yy * torch.cos(a)
    across = xx * torch.cos(a) - yy * torch.sin(a)
    ends = torch.clamp(length.reshape(-1, 1, 1) / 2 + 0.5 - along.abs(), 0.0, 1.0)
    kernel = torch.clamp(1.0 - across.abs(), min=0.0) * ends
    return kernel / kernel.sum(dim=(1, 2), keepdim=True)


def _gaussian_kernels(sigma: Tensor, size: int) -> Tensor:
    half = size // 2
    ax = torch.arange(-half, half + 1, device=sigma.device, dtype=sigma.dtype)
    r2 = (ax[None, :] ** 2 + ax[:, None] ** 2).unsqueeze(0)
    kernel = torch.exp(-r2 / (2 * sigma.clamp(min=1e-3).reshape(-1, 1, 1) ** 2))
    return kernel / kernel.sum(dim=(1, 2), keepdim=True)


def _uniform(shape: tuple[int, ...], rng: tuple[float, float], g: torch.Generator) -> Tensor:
    return rng[0] + (rng[1] - rng[0]) * torch.rand(shape, generator=g, device=g.device)


def _conv_valid(x: Tensor, kernels: Tensor) -> Tensor:
    """Per-map 'valid' correlation: x (N, H, W), kernels (N, k, k) -> (N, H-k+1, W-k+1)."""
    n = x.shape[0]
    return F.conv2d(x.unsqueeze(0), kernels.unsqueeze(1), groups=n).squeeze(0)


def rain_streaks(
    batch: int, height: int, width: int, cfg: RainConfig, generator: torch.Generator
) -> Tensor:
    """Grey rain layers (B, 1, H, W) in [0, 1] on ``generator.device``."""
    g = generator
    n_max = cfg.layers[1]
    count = torch.randint(cfg.layers[0], n_max + 1, (batch, 1), generator=g, device=g.device)
    active = (torch.arange(n_max, device=g.device)[None, :] < count).reshape(-1)  # (B * L,)
    angle = _uniform((batch, 1), cfg.angle, g) + cfg.angle_jitter * (
        2 * torch.rand((batch, n_max), generator=g, device=g.device) - 1
    )
    angle = angle.reshape(-1)
    length = _uniform((batch * n_max,), cfg.length, g)
    density = _uniform((batch * n_max, 1, 1), cfg.density, g)
    thickness = _uniform((batch * n_max,), cfg.thickness, g)
    gain = _uniform((batch * n_max, 1, 1), cfg.gain, g)

    line_size = 2 * math.ceil(cfg.length[1] / 2 + 1) + 1
    blur_size = 2 * math.ceil(3 * max(cfg.thickness[1], 0.1)) + 1
    margin = line_size // 2 + blur_size // 2
    noise = torch.rand((batch * n_max, height + 2 * margin, width + 2 * margin), generator=g, device=g.device)
    # Lit pixels: the top `density` fraction, rescaled to (0, 1].
    seeds = torch.clamp((noise - (1 - density)) / density, min=0.0)
    seeds = _conv_valid(seeds, _gaussian_kernels(thickness, blur_size))
    streaks = _conv_valid(seeds, line_kernels(length, angle, line_size))
    layers = torch.clamp(streaks * length.reshape(-1, 1, 1) * gain - cfg.threshold, 0.0, 1.0)
    layers = layers * active.reshape(-1, 1, 1)
    layers = layers.reshape(batch, n_max, height, width)
    # Screen-merge the layers of each image: 1 - prod(1 - layer).
    return 1.0 - torch.prod(1.0 - layers, dim=1, keepdim=True)


def blend_rain(clean: Tensor, streaks: Tensor, mode: BlendMode = "screen") -> Tensor:
    """Put grey streaks (B, 1, H, W) onto images (B, C, H, W) in [0, 1]."""
    if mode == "screen":
        return 1.0 - (1.0 - clean) * (1.0 - streaks)
    if mode == "add":
        return torch.clamp(clean + streaks, 0.0, 1.0)
    raise ConfigError(f"blend must be 'screen' or 'add', got {mode!r}")


def add_rain(clean: Tensor, cfg: RainConfig, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Rainy images and their streak layers from a clean batch (B, C, H, W) in [0, 1].

    Returns ``(rainy (B, C, H, W), streaks (B, 1, H, W))``; deterministic for a generator state,
    which must live on ``clean``'s device.
    """
    if clean.ndim != 4 or not clean.is_floating_point():
        raise InputError(f"expected a float (B, C, H, W) batch in [0, 1], got {tuple(clean.shape)} {clean.dtype}")
    if not same_device(generator.device, clean.device):
        raise InputError(
            f"generator is on {generator.device} but the images on {clean.device}: "
            f"use torch.Generator(device={str(clean.device)!r})"
        )
    b, _, h, w = clean.shape
    streaks = rain_streaks(b, h, w, cfg, generator).to(clean.dtype)
    return blend_rain(clean, streaks, cfg.blend), streaks
