"""The 4-direction planar ("omni") scan of a (B, C, H, W) map, unfused reference form.

Directions k: 0 row-major, 1 column-major, 2 = 0 reversed, 3 = 1 reversed. Each direction has its
own projections; B/C group k serves channels k*C ... k*C+C-1. This module materialises the four
copies exactly as the authors' ``forward_corev1`` does; fused backends compute the same function
without them and are tested against it.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import BackendUnavailableError
from . import resolve_backend, selective_scan, triton_variant_passes


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

    ``triton`` (asked for, or what ``auto`` resolves to on CUDA once this map's kernel variant has passed
    its self-test) runs the fused kernel of ``triton_omni`` and ``numba`` (``auto`` on the CPU) the fused
    CPU kernel of ``numba_scan``: no copies, merged output written once. Every other backend (and a
    variant that failed its self-test) has no fused form and runs ``planar_scan_unfused`` with that
    backend's selective scan.
    """
    name = resolve_backend(backend, x.device, x.dtype)
    if name == "triton" and backend == "auto" and not triton_variant_passes("omni", x, A_logs):
        name = "auto"  # this variant failed its self-test: the unfused form, each scan checked on its own
    if name == "numba":
        from .numba_scan import planar_scan_numba  # noqa: PLC0415  (imports numba only when used)

        return planar_scan_numba(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds)
    if name == "triton":
        try:
            from .triton_omni import planar_scan_triton  # noqa: PLC0415  (imports triton only when asked for)
        except ImportError as exc:
            raise BackendUnavailableError(
                f"scan backend 'triton' is unavailable: {exc}. Install it with `pip install triton`."
            ) from None
        return planar_scan_triton(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds)
    return planar_scan_unfused(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds, backend=name)
