"""Plain building blocks of the VmambaIR U-Net (Restormer layout): norm, EFFN, resizers, heads.

Module and parameter names follow the authors' checkpoints (``body.weight``, ``project_in`` ...),
so their state dicts load strictly; the Python class names say what each piece does.
"""

from __future__ import annotations

import math

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class _AffineParams(nn.Module):
    """Holds a per-channel scale and shift; exists so the keys read ``<norm>.body.weight/bias``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))


class ChannelLayerNorm(nn.Module):
    """LayerNorm over the channel axis of a (B, C, H, W) map, computed channels-first.

    Equals the authors' "WithBias" LayerNorm (reshape to (B, HW, C), biased variance, eps 1e-5)
    without the two layout copies. Statistics and normalisation run in float32 whatever the input
    (as ``F.layer_norm`` does under autocast): a bf16 variance loses the small differences a
    restoration network's features carry. The result has the input's dtype.
    """

    def __init__(self, channels: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.body = _AffineParams(channels)
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        # At least float32 (float64 stays float64). Only reductions and element-wise ops follow:
        # autocast leaves them in their inputs' dtype.
        xf = x.to(torch.promote_types(x.dtype, torch.float32))
        centred, var = channel_moments(xf)
        w = self.body.weight.to(xf.dtype)[:, None, None]
        b = self.body.bias.to(xf.dtype)[:, None, None]
        return (centred * torch.rsqrt(var + self.eps) * w + b).to(x.dtype)


def channel_moments(x: Tensor) -> tuple[Tensor, Tensor]:
    """(x - mean, biased variance) over dim 1 of (B, C, H, W), both with C kept as 1 in the stats.

    On the CPU ``torch.var_mean`` over the strided channel axis runs ~7x slower (forward and
    backward ~4x, measured at 16x32x24x24, one thread) than two plain passes, which reduce
    vectorised along the contiguous pixels; the two-pass form also keeps the accuracy of a
    centred variance (no E[x^2] - E[x]^2 cancellation). CUDA keeps the fused one-kernel version.
    """
    if x.is_cuda:
        var, mean = torch.var_mean(x, dim=1, keepdim=True, correction=0)
        return x - mean, var
    centred = x - x.mean(dim=1, keepdim=True)
    return centred, centred.square().mean(dim=1, keepdim=True)


class GatedDconvFFN(nn.Module):
    """EFFN (Restormer's GDFN): 1x1 -> 3x3 depthwise -> GELU(x1) * x2 -> 1x1, no biases."""

    def __init__(self, channels: int, expansion: float = 2.66) -> None:
        super().__init__()
        hidden = int(channels * expansion)
        self.project_in = nn.Conv2d(channels, 2 * hidden, 1, bias=False)
        self.dwconv = nn.Conv2d(2 * hidden, 2 * hidden, 3, padding=1, groups=2 * hidden, bias=False)
        self.project_out = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        if banded_on_cpu(x):
            return in_row_bands(self.local, x, halo=1)
        return self.local(x)

    def local(self, x: Tensor) -> Tensor:
        """The EFFN on a whole map or on a band with one row of context (the 3x3 depthwise conv)."""
        x1, x2 = self.dwconv(self.project_in(x)).chunk(2, dim=1)
        return self.project_out(F.gelu(x1) * x2)


BAND_PIXELS = 4096
"""Pixels (batch x rows x width) per band of ``in_row_bands``: the EFFN's hidden maps are 5.3x the
block's width, so for a 96-channel block one band's hidden map is ~8 MB, not the 134 MB of a whole
256x256 map. Measured (2 threads, realsr preset at 256x256): the EFFN's depthwise conv took 21 ns per
element on the whole map vs 1.6 at 64x64; the forward's cost per output pixel was 2x that at 64x64."""


def banded_on_cpu(x: Tensor) -> bool:
    """Whether local layers run in row bands: CPU inference (training maps are small patches)."""
    return x.device.type == "cpu" and not torch.is_grad_enabled()


def in_row_bands(fn: Callable[[Tensor], Tensor], x: Tensor, *, halo: int, scale: int = 1) -> Tensor:
    """``fn(x)`` for a local ``fn`` (each output row depends on input rows within ``halo``), in bands.

    ``scale``: ``fn`` maps H rows to ``scale * H`` rows (the x4 SR tail).

    Splits (B, C, H, W) into horizontal bands of about ``BAND_PIXELS`` pixels, runs ``fn`` on each
    band with ``halo`` extra rows of context on either side (zero padding only at the image's own
    top and bottom, as in the whole-map call) and keeps the band's rows: the same values as the
    whole-map call up to float rounding, with intermediates small enough to stay in cache.
    """
    b, _, h, w = x.shape
    rows = max(1, BAND_PIXELS // max(1, b * w))
    if rows >= h:
        return fn(x)
    out: Tensor | None = None
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        top, bottom = max(0, r0 - halo), min(h, r1 + halo)
        band = fn(x[:, :, top:bottom])[:, :, (r0 - top) * scale: (r1 - top) * scale]
        if out is None:
            out = band.new_empty((b, band.shape[1], h * scale, band.shape[3]))
        out[:, :, r0 * scale: r1 * scale] = band
    assert out is not None
    return out


class PatchEmbed(nn.Module):
    """3x3 conv from image channels to the level-1 width (key ``patch_embed.proj``)."""

    def __init__(self, in_channels: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_channels, dim, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(x)


class Downsample(nn.Module):
    """Halve H, W and double C: 3x3 conv C -> C/2, then pixel-unshuffle by 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels // 2, 3, padding=1, bias=False), nn.PixelUnshuffle(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class Upsample(nn.Module):
    """Double H, W and halve C: 3x3 conv C -> 2C, then pixel-shuffle by 2."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(channels, channels * 2, 3, padding=1, bias=False), nn.PixelShuffle(2))

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)


class SRTail(nn.Sequential):
    """The x4 tail (see ``sr_tail``); on CPU inference it runs in row bands (halo 2 LQ rows covers the
    three 3x3 convs at 1x, 2x and 4x), so its 4x-resolution maps (400 MB at 256x256 LQ) stay small."""

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        if banded_on_cpu(x):
            return in_row_bands(super().forward, x, halo=2, scale=4)
        return super().forward(x)


@torch.no_grad()
def icnr_(conv: nn.Conv2d, upscale: int = 2) -> nn.Conv2d:
    """ICNR (Aitken et al. 2017): make a conv feeding ``PixelShuffle(upscale)`` start as a conv followed by
    nearest-neighbour upsampling, so a new x4 tail begins free of the sub-pixel checkerboard.

    Every group of ``upscale**2`` output channels that the shuffle spreads over one output pixel's
    neighbours gets the same (freshly Kaiming-initialised) kernel and bias.
    """
    r2 = upscale * upscale
    out = conv.out_channels
    if out % r2:
        raise ValueError(f"ICNR needs out_channels divisible by {r2}, got {out}")
    sub = torch.empty(out // r2, *conv.weight.shape[1:], dtype=conv.weight.dtype, device=conv.weight.device)
    nn.init.kaiming_uniform_(sub, a=math.sqrt(5))  # nn.Conv2d's own default initialisation
    conv.weight.copy_(sub.repeat_interleave(r2, dim=0))
    if conv.bias is not None:
        conv.bias.copy_(conv.bias[::r2].repeat_interleave(r2))
    return conv


def icnr_sr_tail_(tail: nn.Sequential) -> nn.Sequential:
    """ICNR-initialise both sub-pixel convs of an ``sr_tail`` (for new models; checkpoints overwrite it)."""
    for conv in (tail[0][0], tail[0][2]):
        icnr_(conv, 2)
    return tail


def sr_tail(channels: int, out_channels: int) -> nn.Sequential:
    """x4 tail: [conv C->4C, shuffle 2, conv C->4C, shuffle 2] then conv C->out (all 3x3 with bias).

    Laid out as the authors' ``Sequential(Upsampler, conv)`` so keys read ``tail.0.0``, ``tail.0.2``,
    ``tail.1``.
    """
    upsampler = nn.Sequential(
        nn.Conv2d(channels, 4 * channels, 3, padding=1),
        nn.PixelShuffle(2),
        nn.Conv2d(channels, 4 * channels, 3, padding=1),
        nn.PixelShuffle(2),
    )
    return SRTail(upsampler, nn.Conv2d(channels, out_channels, 3, padding=1))
