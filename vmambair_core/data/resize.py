"""MATLAB-exact bicubic ``imresize`` and ``modcrop``.

SR benchmarks (Set5, Set14, B100, ...) ship LR images made by MATLAB's
``imresize(HR, 1/4, 'bicubic')``; OpenCV and plain torch bicubic differ from it by
1 dB or more in the bicubic baseline (ecosystem notes, section 4), so LR for training and
for regenerated test sets must come from this exact recipe:

* cubic kernel with a = -0.5, widened by 1/scale (antialiasing) when shrinking;
* symmetric (mirror, edge pixel repeated) padding at the borders;
* one 1-D pass per axis, the axis with the smaller scale first and rows (height) first
  when both scales are equal, as MATLAB's ``imresize`` orders them;
* uint8 input is rounded (half away from zero) and saturated to uint8 after each pass.

Per axis, the contributions are precomputed once as a ``(out, taps)`` table of
weights and source indices, then applied with gathers (numpy) or a dense
``(out, in)`` matrix product (torch, batched, any device).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TypeVar, overload

import numpy as np
import torch

from vmambair_core.errors import InputError

__all__ = ["contributions", "imresize", "modcrop", "output_size"]

_KERNEL_WIDTH = 4.0  # support of the cubic kernel, in input pixels at scale 1

_Img = TypeVar("_Img", np.ndarray, torch.Tensor)


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``)."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    near = (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
    far = (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2))
    return near + far


@lru_cache(maxsize=256)
def contributions(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(out_len, taps)`` float64 and 0-based source indices ``(out_len, taps)`` for one axis.

    ``scale`` is out/in as MATLAB uses it for the inverse mapping (it need not equal
    ``out_len / in_len`` exactly when the size was rounded up). Indices are already
    mirrored into ``[0, in_len)``; the arrays are read-only because they are cached.
    """
    kernel_width = _KERNEL_WIDTH / scale if scale < 1 else _KERNEL_WIDTH
    x = np.arange(1, out_len + 1, dtype=np.float64)  # MATLAB's 1-based output coordinates
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)  # matching input coordinate, 1-based
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based, unmirrored
    dist = u[:, None] - idx
    w = scale * _cubic(scale * dist) if scale < 1 else _cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    keep = np.any(w != 0, axis=0)  # MATLAB drops taps that are zero for every output
    w, idx = w[:, keep], idx[:, keep]
    # Symmetric padding: the sequence 1..n, n..1 repeated.
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    src = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)]
    w.setflags(write=False)
    src.setflags(write=False)
    return w, src


@lru_cache(maxsize=64)
def _dense(in_len: int, out_len: int, scale: float) -> torch.Tensor:
    """The same resampling as one float64 CPU ``(out_len, in_len)`` matrix (mirrored taps summed)."""
    w, src = contributions(in_len, out_len, scale)
    mat = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(mat, (np.repeat(np.arange(out_len), w.shape[1]), src.ravel()), w.ravel())
    return torch.from_numpy(mat)


def output_size(
    in_hw: tuple[int, int], scale: float | None, size: tuple[int, int] | None
) -> tuple[tuple[int, int], tuple[float, float]]:
    """Output ``(H, W)`` and per-axis scales, following MATLAB's rules for ``scale`` xor ``size``."""
    if (scale is None) == (size is None):
        raise InputError("imresize: give exactly one of `scale` or `size` (got both or neither).")
    if scale is not None:
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise InputError(f"imresize: scale must be a positive finite number, got {scale!r}.")
        out = (int(math.ceil(in_hw[0] * scale)), int(math.ceil(in_hw[1] * scale)))
        scales = (float(scale), float(scale))
    else:
        assert size is not None
        if len(size) != 2 or any(int(s) != s or s < 1 for s in size):
            raise InputError(f"imresize: size must be two positive integers (H, W), got {size!r}.")
        out = (int(size[0]), int(size[1]))
        scales = (out[0] / in_hw[0], out[1] / in_hw[1])
    if min(out) < 1:
        raise InputError(f"imresize: output size {out} from input {in_hw} is empty.")
    return out, scales


def _axis_order(scales: tuple[float, float]) -> tuple[int, int]:
    """MATLAB resizes along the axis with the smaller scale first (stable: rows on ties)."""
    return (1, 0) if scales[1] < scales[0] else (0, 1)


def _round_uint8(x: np.ndarray) -> np.ndarray:
    """MATLAB's conversion to uint8: round half away from zero, saturate."""
    return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def _resize_axis_numpy(img: np.ndarray, axis: int, w: np.ndarray, src: np.ndarray) -> np.ndarray:
    """One 1-D pass over ``axis`` (0 = rows/height, 1 = columns/width) of an HxW[xC] array."""
    x = np.moveaxis(img, axis, 0).astype(np.float64, copy=False)
    wb = w.reshape(w.shape + (1,) * (x.ndim - 1))
    out = np.zeros((w.shape[0],) + x.shape[1:], dtype=np.float64)
    for t in range(w.shape[1]):  # taps (<= 4/scale + 2), accumulated in order as MATLAB's mex does
        out += wb[:, t] * x[src[:, t]]  # one gather per tap: memory stays O(output)
    return np.moveaxis(out, 0, axis)


def _imresize_numpy(img: np.ndarray, out_hw: tuple[int, int], scales: tuple[float, float]) -> np.ndarray:
    if img.ndim not in (2, 3):
        raise InputError(f"imresize: numpy input must be HxW or HxWxC, got shape {img.shape}.")
    is_uint8 = img.dtype == np.uint8
    if not is_uint8 and not np.issubdtype(img.dtype, np.floating):
        raise InputError(f"imresize: numpy input must be uint8 or float, got {img.dtype}.")
    out = img
    for axis in _axis_order(scales):
        in_len = img.shape[axis]
        if out_hw[axis] == in_len and scales[axis] == 1.0:
            continue  # MATLAB skips an axis whose size does not change
        w, src = contributions(in_len, out_hw[axis], scales[axis])
        res = _resize_axis_numpy(out, axis, w, src)
        out = _round_uint8(res) if is_uint8 else res.astype(img.dtype, copy=False)
    return out


def _imresize_torch(img: torch.Tensor, out_hw: tuple[int, int], scales: tuple[float, float]) -> torch.Tensor:
    if img.ndim < 2:
        raise InputError(f"imresize: tensor input must be (..., H, W), got shape {tuple(img.shape)}.")
    if not img.is_floating_point():
        raise InputError(f"imresize: tensor input must be floating point, got {img.dtype}.")
    out = img
    for axis in _axis_order(scales):
        dim = img.ndim - 2 + axis
        in_len = img.shape[dim]
        if out_hw[axis] == in_len and scales[axis] == 1.0:
            continue
        mat = _dense(in_len, out_hw[axis], scales[axis]).to(img.device, img.dtype)
        out = torch.movedim(torch.movedim(out, dim, -1) @ mat.T, -1, dim)
    return out


@overload
def imresize(img: np.ndarray, scale: float | None = None, *, size: tuple[int, int] | None = None) -> np.ndarray: ...
@overload
def imresize(
    img: torch.Tensor, scale: float | None = None, *, size: tuple[int, int] | None = None
) -> torch.Tensor: ...
def imresize(
    img: np.ndarray | torch.Tensor, scale: float | None = None, *, size: tuple[int, int] | None = None
) -> np.ndarray | torch.Tensor:
    """Bicubic resize identical to MATLAB's ``imresize(img, scale)`` / ``imresize(img, [H W])``.

    numpy HxW or HxWxC: uint8 in gives uint8 out with MATLAB's per-pass rounding (this is
    what reproduces the benchmark LR folders bit for bit); float in gives the same float
    dtype, neither rounded nor clipped. torch (..., H, W) floating tensors are resized on
    their own device and dtype (for training pipelines; no rounding, no clipping).
    """
    if isinstance(img, torch.Tensor):
        out_hw, scales = output_size((img.shape[-2], img.shape[-1]), scale, size)
        return _imresize_torch(img, out_hw, scales)
    if isinstance(img, np.ndarray):
        if img.ndim < 2:
            raise InputError(f"imresize: numpy input must be HxW or HxWxC, got shape {img.shape}.")
        out_hw, scales = output_size((img.shape[0], img.shape[1]), scale, size)
        return _imresize_numpy(img, out_hw, scales)
    raise InputError(f"imresize: expected a numpy array or torch tensor, got {type(img).__name__}.")


def modcrop(img: _Img, scale: int) -> _Img:
    """Crop the bottom/right so H and W are multiples of ``scale`` (top-left kept, as benchmarks do).

    numpy arrays are HxW[xC]; torch tensors are (..., H, W).
    """
    if not isinstance(scale, int) or scale < 1:
        raise InputError(f"modcrop: scale must be a positive integer, got {scale!r}.")
    if isinstance(img, torch.Tensor):
        h, w = img.shape[-2], img.shape[-1]
        return img[..., : h - h % scale, : w - w % scale]
    if img.ndim not in (2, 3):
        raise InputError(f"modcrop: numpy input must be HxW or HxWxC, got shape {img.shape}.")
    h, w = img.shape[0], img.shape[1]
    return img[: h - h % scale, : w - w % scale]
