"""Reference selective scans on plain PyTorch: the numerical yardstick for every backend.

Semantics are those of the authors' CUDA kernel (``selective_scan_cuda_core.fwd``), see
``shared/spec/official-arch.md`` §3. Per (batch b, channel d), with state h_{-1} = 0::

    dt_t   = delta[b,d,t] + delta_bias[d];  dt_t = softplus(dt_t) if delta_softplus (identity when > 20)
    h_t[n] = exp(dt_t * A[d,n]) * h_{t-1}[n] + dt_t * u[b,d,t] * B[b,g(d),n,t]
    y[t]   = sum_n C[b,g(d),n,t] * h_t[n] + D[d] * u[b,d,t]

with g(d) = d // (D_total / G). Arithmetic runs in float32 (float64 when the inputs are float64)
and the output has ``u``'s dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _softplus_passthrough(x: Tensor) -> Tensor:
    """softplus(x) for x <= 20, x above: the kernel's threshold rule (also torch's default)."""
    return F.softplus(x, beta=1.0, threshold=20.0)


def prepare_scan_inputs(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None,
    delta_bias: Tensor | None,
    delta_softplus: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor | None, torch.dtype]:
    """Upcast to the compute dtype, apply bias/softplus and expand B/C groups to channels.

    Returns ``(u, dt, A, B, C, D, out_dtype)`` with u, dt: (b, d, l); A: (d, n);
    B, C: (b, d, n, l) expanded views (no copies) and D: (d,) or None.
    """
    out_dtype = u.dtype
    cdt = torch.float64 if u.dtype == torch.float64 else torch.float32
    u = u.to(cdt)
    dt = delta.to(cdt)
    if delta_bias is not None:
        dt = dt + delta_bias.to(cdt)[:, None]
    if delta_softplus:
        dt = _softplus_passthrough(dt)
    b, d, _ = u.shape
    if B.dim() == 3:
        B = B.unsqueeze(1)
    if C.dim() == 3:
        C = C.unsqueeze(1)
    g = B.shape[1]
    rep = d // g
    n = A.shape[1]
    Bx = B.to(cdt).unsqueeze(2).expand(b, g, rep, n, B.shape[-1]).reshape(b, d, n, -1)
    Cx = C.to(cdt).unsqueeze(2).expand(b, g, rep, n, C.shape[-1]).reshape(b, d, n, -1)
    Dc = D.to(cdt) if D is not None else None
    return u, dt, A.to(cdt), Bx, Cx, Dc, out_dtype


def selective_scan_sequential(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
) -> Tensor:
    """Plain loop over time: slow, obviously right, differentiable. Same signature as every backend.

    u, delta: (b, d, l); A: (d, n); B, C: (b, g, n, l) or (b, n, l); D, delta_bias: (d,) or None.
    Returns y: (b, d, l) in u's dtype.
    """
    u_, dt, A_, Bx, Cx, D_, out_dtype = prepare_scan_inputs(u, delta, A, B, C, D, delta_bias, delta_softplus)
    b, d, l = u_.shape
    h = u_.new_zeros(b, d, A_.shape[1])
    ys = []
    for t in range(l):
        dA = torch.exp(dt[:, :, t, None] * A_)
        h = dA * h + (dt[:, :, t] * u_[:, :, t])[..., None] * Bx[..., t]
        ys.append((h * Cx[..., t]).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D_ is not None:
        y = y + D_[:, None] * u_
    return y.to(out_dtype)


# Placeholder until the chunked implementation lands; same signature.
selective_scan_chunked = selective_scan_sequential
