"""The 4-direction planar ("omni") scan of a (B, C, H, W) map, unfused reference form.

Directions k: 0 row-major, 1 column-major, 2 = 0 reversed, 3 = 1 reversed. Each direction has its
own projections; B/C group k serves channels k*C ... k*C+C-1. This module materialises the four
copies exactly as the authors' ``forward_corev1`` does; fused backends compute the same function
without them and are tested against it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from . import backend_for_call, get_backend, selective_scan, variant_trusted


def cross_scan(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, 4, C, H*W): row-major, column-major, and both reversed."""
    rows = x.flatten(2)
    cols = x.transpose(2, 3).flatten(2)
    hw_wh = torch.stack([rows, cols], dim=1)
    return torch.cat([hw_wh, hw_wh.flip(-1)], dim=1)


def cross_merge(ys: Tensor, h: int, w: int) -> Tensor:
    """(B, 4, C, L) per-direction outputs -> (B, C, H, W) sum in float32 (float64 stays float64)."""
    acc = torch.promote_types(ys.dtype, torch.float32)
    b, _, c, _ = ys.shape
    fwd = ys[:, 0].to(acc) + ys[:, 2].flip(-1).to(acc)
    col = ys[:, 1].to(acc) + ys[:, 3].flip(-1).to(acc)
    return fwd.view(b, c, h, w) + col.view(b, c, w, h).transpose(2, 3)


def planar_scan_unfused(
    x: Tensor,
    x_proj_weight: Tensor,
    dt_projs_weight: Tensor,
    dt_projs_bias: Tensor,
    A_logs: Tensor,
    Ds: Tensor,
    *,
    backend: str = "auto",
) -> Tensor:
    """Omni planar scan with materialised copies (the authors' data flow).

    x: (B, C, H, W); x_proj_weight: (4, R+2N, C); dt_projs_weight: (4, C, R); dt_projs_bias: (4, C);
    A_logs: (4C, N); Ds: (4C,). Returns the merged (B, C, H, W) in float32 (float64 for float64 x),
    before ``out_norm``.
    """
    b, c, h, w = x.shape
    n = A_logs.shape[1]
    r = dt_projs_weight.shape[2]
    xs = cross_scan(x)  # (B, 4, C, L)
    x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, x_proj_weight)  # (B, 4, R+2N, L)
    dts, Bs, Cs = torch.split(x_dbl, [r, n, n], dim=2)
    dts = torch.einsum("bkrl,kdr->bkdl", dts, dt_projs_weight)  # (B, 4, C, L)
    a_dtype = torch.float64 if A_logs.dtype == torch.float64 else torch.float32
    As = -torch.exp(A_logs.to(a_dtype))
    ys = selective_scan(
        xs.reshape(b, 4 * c, h * w),
        dts.reshape(b, 4 * c, h * w),
        As,
        Bs,
        Cs,
        Ds,
        dt_projs_bias.reshape(-1),
        True,
        backend=backend,
    )
    return cross_merge(ys.view(b, 4, c, h * w), h, w)


def planar_scan(
    x: Tensor,
    x_proj_weight: Tensor,
    dt_projs_weight: Tensor,
    dt_projs_bias: Tensor,
    A_logs: Tensor,
    Ds: Tensor,
    *,
    backend: str = "auto",
) -> Tensor:
    """Omni planar scan through the fastest path for ``backend`` (same signature as the unfused one).

    A backend whose record has a fused planar scan (``backends.TABLE``: ``numba``, ``triton``) runs it: no
    copies, merged output written once. Every other backend has no fused form and runs
    ``planar_scan_unfused`` with its selective scan; so does ``auto`` while the fused kernel compiled for
    this map has not passed its self-test (``variant_trusted``), each scan then checked on its own.
    """
    name = backend_for_call(backend, x, 9 * 4 * x.numel() * A_logs.shape[-1])  # 4 directions, (B, C, H, W)
    kernels = get_backend(name).kernels()
    fused = kernels.planar
    if not variant_trusted(backend, kernels, "omni", x, A_logs):
        name, fused = "auto", None
    if fused is None:
        return planar_scan_unfused(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds, backend=name)
    return fused(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds)
