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

from ..errors import ConfigError


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
    # unbind, not [..., t]: indexing's backward writes a full-size zero tensor per step (O(l^2)).
    for dt_t, dtu_t, B_t, C_t in zip(dt.unbind(-1), (dt * u_).unbind(-1), Bx.unbind(-1), Cx.unbind(-1)):
        dA = torch.exp(dt_t[..., None] * A_)
        h = dA * h + dtu_t[..., None] * B_t
        ys.append((h * C_t).sum(-1))
    y = torch.stack(ys, dim=-1)
    if D_ is not None:
        y = y + D_[:, None] * u_
    return y.to(out_dtype)


# Largest |cumulative log-decay| allowed inside one chunk, per compute dtype. exp(+-60) stays far from
# float32's range (e^88) with room for |x| up to ~1e12; float64 reaches e^709.
_LOG_DECAY_LIMIT: dict[torch.dtype, float] = {torch.float32: 60.0, torch.float64: 600.0}
DEFAULT_CHUNK_SIZE = 128


def chunk_bounds(dt: Tensor, A: Tensor, chunk_size: int, limit: float) -> list[tuple[int, int]]:
    """Split [0, l) into chunks of at most ``chunk_size`` steps whose decay stays within ``limit``.

    Inside a chunk the scan divides by exp(Q_t), Q_t = sum_{s=1..t} dt_s*A (the first step is
    excluded), so |Q_t| must stay below ``limit`` for every (batch, channel, state). The bound used
    per step is max_{b,d} |dt| * max_n |A|: one partition for the whole tensor, shortened only where
    some channel decays fast. A single step of any size is always safe (its Q is 0).
    """
    length = dt.shape[-1]
    if length == 0:
        return []
    with torch.no_grad():
        step = (dt.detach().abs() * A.detach().abs().amax(-1)[:, None]).nan_to_num_(nan=0.0)
        step = step.amax(dim=(0, 1))  # NaN channels stay NaN in y; they must not stop the splitting
        worst = float(step.max())
    if worst * (chunk_size - 1) <= limit:  # common case: uniform chunks
        return [(t0, min(t0 + chunk_size, length)) for t0 in range(0, length, chunk_size)]
    steps = step.tolist()
    bounds = []
    start, acc = 0, 0.0
    for t in range(1, length):
        acc += steps[t]
        if t - start >= chunk_size or acc > limit:  # also true for inf; NaN just never splits
            bounds.append((start, t))
            start, acc = t, 0.0
    bounds.append((start, length))
    return bounds


def selective_scan_chunked(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Tensor:
    """Chunked log-space scan: loop over chunks, vectorise inside one. Same semantics as the loop.

    Inside a chunk starting at state h, with a_t = dt_t*A, Q_t = a_1 + ... + a_t (Q_0 = 0) and
    x_t = dt_t*u_t*B_t::

        h_t = exp(Q_t) * (exp(a_0) * h + cumsum_t(x_t * exp(-Q_t)))

    which turns the recurrence into two cumsums over cache-sized (b, g, d/g, n, T) slabs. Chunks
    shorten automatically (``chunk_bounds``) so exp(+-Q) never overflows, whatever dt and A.
    B/C stay (b, g, 1, n, T) broadcast views: the (b, d, n, l) expansion is never materialised.
    Differentiable by plain autograd. ``chunk_size`` (keyword only) is the longest chunk.
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    out_dtype = u.dtype
    cdt = torch.float64 if u.dtype == torch.float64 else torch.float32
    b, d, length = u.shape
    if B.dim() == 3:
        B = B.unsqueeze(1)
    if C.dim() == 3:
        C = C.unsqueeze(1)
    g, n = B.shape[1], A.shape[1]
    r = d // g
    u_ = u.to(cdt)
    dt = delta.to(cdt)
    if delta_bias is not None:
        dt = dt + delta_bias.to(cdt)[:, None]
    if delta_softplus:
        dt = _softplus_passthrough(dt)
    A_ = A.to(cdt)
    dt5 = dt.reshape(b, g, r, 1, length)
    dtu5 = (dt * u_).reshape(b, g, r, 1, length)
    A5 = A_.reshape(g, r, n, 1)
    B5 = B.to(cdt).contiguous().unsqueeze(2)  # (b, g, 1, n, l)
    C5 = C.to(cdt).contiguous().unsqueeze(2)
    h = u_.new_zeros(b, g, r, n, 1)
    ys = []
    for t0, t1 in chunk_bounds(dt, A_, chunk_size, _LOG_DECAY_LIMIT[cdt]):
        a = dt5[..., t0:t1] * A5  # (b, g, r, n, T) log-decays
        a0 = a[..., :1]
        q = a.cumsum(-1) - a0
        eq = q.exp()
        x = dtu5[..., t0:t1] * B5[..., t0:t1]
        # x * exp(-q), not x / eq: the division's backward squares eq and underflows
        hs = eq * ((x * (-q).exp()).cumsum(-1) + a0.exp() * h)
        ys.append((hs * C5[..., t0:t1]).sum(-2))
        h = hs[..., -1:]
    y = torch.cat(ys, dim=-1).reshape(b, d, length) if ys else u_.new_zeros(b, d, 0)
    if D is not None:
        y = y + D.to(cdt)[:, None] * u_
    return y.to(out_dtype)
