"""Batched JPEG encode-decode simulation with a per-image quality (Real-ESRGAN's ``DiffJPEG``).

Per image: RGB -> JFIF YCbCr on 0..255, 2x2 chroma averaging (4:2:0), 8x8 orthonormal DCT of
``x - 128``, quantisation ``round(c / (T * f))`` by the standard Annex K tables ``T`` scaled by
``f = 50 / q`` below quality 50 and ``(200 - 2 q) / 100`` from 50 on, dequantisation, inverse
DCT, nearest chroma upsampling, back to RGB, clamp, /255. No entropy coding (it is lossless),
hard rounding (``DiffJPEG(differentiable=False)``), output left in float like DiffJPEG.

Deviations from DiffJPEG, all towards real encoders: the tables are used in their standard
orientation (DiffJPEG transposes them), images are padded to a multiple of 16 by edge
replication (DiffJPEG pads zeros, which darkens partial blocks on the bottom/right edge) and
quantisation steps are at least 1 (only matters above quality 95).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from vmambair_core.errors import InputError

# ITU-T T.81 Annex K.1 / K.2, row = vertical frequency.
_LUMA_TABLE = (
    (16, 11, 10, 16, 24, 40, 51, 61),
    (12, 12, 14, 19, 26, 58, 60, 55),
    (14, 13, 16, 24, 40, 57, 69, 56),
    (14, 17, 22, 29, 51, 87, 80, 62),
    (18, 22, 37, 56, 68, 109, 103, 77),
    (24, 35, 55, 64, 81, 104, 113, 92),
    (49, 64, 78, 87, 103, 121, 120, 101),
    (72, 92, 95, 98, 112, 100, 103, 99),
)
_CHROMA_TABLE = (
    (17, 18, 24, 47, 99, 99, 99, 99),
    (18, 21, 26, 66, 99, 99, 99, 99),
    (24, 26, 56, 99, 99, 99, 99, 99),
    (47, 66, 99, 99, 99, 99, 99, 99),
) + ((99,) * 8,) * 4

_RGB_TO_YCBCR = (
    (0.299, 0.587, 0.114),
    (-0.168736, -0.331264, 0.5),
    (0.5, -0.418688, -0.081312),
)
_YCBCR_TO_RGB = (
    (1.0, 0.0, 1.402),
    (1.0, -0.344136, -0.714136),
    (1.0, 1.772, 0.0),
)


def quality_to_factor(quality: Tensor) -> Tensor:
    """Quantisation-table multiplier of a JPEG quality (the IJG scaling, without integer rounding)."""
    return torch.where(quality < 50, 50.0 / quality, (200.0 - 2.0 * quality) / 100.0)


def _dct_matrix(device: torch.device, dtype: torch.dtype) -> Tensor:
    """Orthonormal DCT-II basis D (8x8): coefficients = D @ block @ D.T (equals JPEG's FDCT)."""
    n = torch.arange(8, device=device, dtype=dtype)
    basis = torch.cos((2 * n[None, :] + 1) * n[:, None] * math.pi / 16)
    scale = torch.full((8, 1), 0.5, device=device, dtype=dtype)
    scale[0, 0] = math.sqrt(1 / 8)
    return basis * scale


def _blocks(plane: Tensor) -> Tensor:
    """(B, H, W) -> (B, H/8, W/8, 64): each 8x8 block flattened row-major."""
    b, h, w = plane.shape
    return plane.reshape(b, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4).reshape(b, h // 8, w // 8, 64)


def _unblocks(blocks: Tensor) -> Tensor:
    b, nh, nw, _ = blocks.shape
    return blocks.reshape(b, nh, nw, 8, 8).permute(0, 1, 3, 2, 4).reshape(b, nh * 8, nw * 8)


def _codec_plane(plane: Tensor, table: Tensor, factor: Tensor, dct2: Tensor) -> Tensor:
    """Quantise and restore one 0..255 plane (B, H, W) with per-image ``factor`` (B,).

    ``dct2`` is the 64x64 Kronecker basis D (x) D, so one GEMM transforms every block.
    """
    # Steps below 1 only occur above quality 95 (never in the recipes); clamping them to 1 as
    # libjpeg does keeps quality 100 finite (DiffJPEG divides by zero there).
    step = (table.reshape(64) * factor.reshape(-1, 1, 1, 1)).clamp(min=1.0)
    coeff = (_blocks(plane) - 128.0) @ dct2.T
    restored = (torch.round(coeff / step) * step) @ dct2
    return _unblocks(restored) + 128.0


def jpeg_compress(img: Tensor, quality: Tensor | float) -> Tensor:
    """JPEG round trip of (B, 3, H, W) RGB images in [0, 1] at per-image ``quality`` in [1, 100]."""
    if img.ndim != 4 or img.shape[1] != 3:
        raise InputError(f"jpeg_compress expects (B, 3, H, W) RGB, got {tuple(img.shape)}")
    b, _, h, w = img.shape
    dtype = img.dtype if img.dtype == torch.float64 else torch.float32
    q = torch.as_tensor(quality, device=img.device, dtype=dtype).expand(b)
    if bool((q < 1).any()) or bool((q > 100).any()):
        raise InputError(f"JPEG quality must lie in [1, 100], got {q.tolist()}")
    factor = quality_to_factor(q)
    x = img.to(dtype)
    pad_h, pad_w = (-h) % 16, (-w) % 16
    x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") * 255.0
    to_ycc = torch.tensor(_RGB_TO_YCBCR, device=x.device, dtype=dtype)
    ycc = torch.einsum("ij,bjhw->bihw", to_ycc, x)
    ycc[:, 1:] += 128.0

    dct = _dct_matrix(x.device, dtype)
    dct2 = torch.kron(dct, dct)
    luma_t = torch.tensor(_LUMA_TABLE, device=x.device, dtype=dtype)
    chroma_t = torch.tensor(_CHROMA_TABLE, device=x.device, dtype=dtype)
    y = _codec_plane(ycc[:, 0], luma_t, factor, dct2)
    chroma = F.avg_pool2d(ycc[:, 1:], kernel_size=2, stride=2)  # (B, 2, H/2, W/2)
    cb = _codec_plane(chroma[:, 0], chroma_t, factor, dct2)
    cr = _codec_plane(chroma[:, 1], chroma_t, factor, dct2)
    cbcr = torch.stack((cb, cr), dim=1).repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)

    ycc = torch.cat((y.unsqueeze(1), cbcr - 128.0), dim=1)
    to_rgb = torch.tensor(_YCBCR_TO_RGB, device=x.device, dtype=dtype)
    rgb = torch.einsum("ij,bjhw->bihw", to_rgb, ycc).clamp(0.0, 255.0) / 255.0
    return rgb[:, :, :h, :w].to(img.dtype)
