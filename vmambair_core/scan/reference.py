"""Reference selective scans on plain PyTorch: the numerical yardstick for every backend.

Semantics are those of the authors' CUDA kernel (``selective_scan_cuda_core.fwd``), see
``docs/architecture.md`` §3. Per (batch b, channel d), with state h_{-1} = 0::

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
from .checks import as_grouped, check_scan_inputs


def _softplus_passthrough(x: Tensor) -> Tensor:
    """softplus(x) for x <= 20, x above: the kernel's threshold rule (also torch's default)."""
    return F.softplus(x, beta=1.0, threshold=20.0)


def compute_dtype(u: Tensor) -> torch.dtype:
    """float64 stays float64; every other input dtype is computed in float32."""
    return torch.float64 if u.dtype == torch.float64 else torch.float32


def step_sizes(delta: Tensor, delta_bias: Tensor | None, delta_softplus: bool, cdt: torch.dtype) -> Tensor:
    """dt = softplus(delta + delta_bias) in ``cdt`` (each optional); bias (..., d) broadcasts over time."""
    dt = delta.to(cdt)
    if delta_bias is not None:
        dt = dt + delta_bias.to(cdt)[..., None]
    return _softplus_passthrough(dt) if delta_softplus else dt


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
    cdt = compute_dtype(u)
    u = u.to(cdt)
    dt = step_sizes(delta, delta_bias, delta_softplus, cdt)
    b, d, _ = u.shape
    B, C = as_grouped(B), as_grouped(C)
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


# Largest |cumulative log-decay| allowed inside one block, per compute dtype: exp(+-40) leaves float32
# (e^88) room for |x| and gradients up to ~1e20; float64 (e^709) gets the same margin at 400.
_LOG_DECAY_LIMIT: dict[torch.dtype, float] = {torch.float32: 40.0, torch.float64: 400.0}
DEFAULT_CHUNK_SIZE = 128


def plan_chunks(dt: Tensor, A: Tensor, chunk_size: int, limit: float) -> list[tuple[int, int, int]]:
    """Cut [0, l) into chunks (t0, t1, k): at most ``chunk_size`` steps, made of blocks of k steps.

    Inside a block the scan multiplies by exp(+-Q_t), Q_t = sum_{s=1..t} dt_s*A (the block's first
    step excluded), so |Q_t| must stay below ``limit`` for every (batch, channel, state). With the
    per-step bound max_{b,d} |dt| * max_n |A| taken over the chunk, k - 1 such steps fit the limit.
    Small decays give one block per chunk; fast decays shorten the blocks, not the chunks, so the
    vectorised work per chunk stays large. One step of any size is always safe (its Q is 0).
    The last block of the sequence may be shorter than k; then it is a chunk of its own.
    """
    length = dt.shape[-1]
    if length == 0:
        return []
    with torch.no_grad():
        step = (dt.detach().abs() * A.detach().abs().amax(-1)[:, None]).nan_to_num_(nan=0.0)
        step = step.amax(dim=(0, 1))  # NaN channels stay NaN in y; they must not stop the shortening
        if float(step.max()) * (chunk_size - 1) <= limit:  # common case: one block per chunk
            return [(t0, min(t0 + chunk_size, length), min(chunk_size, length - t0))
                    for t0 in range(0, length, chunk_size)]
        steps = step.tolist()
    plan = []
    t0 = 0
    while t0 < length:
        t1 = min(t0 + chunk_size, length)
        worst = max(steps[t0 + 1:t1], default=0.0)
        k = chunk_size if worst == 0.0 else max(1, min(chunk_size, int(limit / worst) + 1))
        span = (t1 - t0) // k * k
        if span == 0:  # the tail is shorter than one block: a block of its own
            k = span = t1 - t0
        plan.append((t0, t0 + span, k))
        t0 += span
    return plan


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

    Inside a block of steps entered with state c, with a_t = dt_t*A, Q_t = a_1 + ... + a_t (Q_0 = 0)
    and x_t = dt_t*u_t*B_t::

        h_t = exp(Q_t) * (exp(a_0) * c + cumsum_t(x_t * exp(-Q_t)))

    All blocks of a chunk (b, g, d/g, n, blocks, k) are computed at once, cache-sized; only the
    carries c between blocks run in a short loop. ``plan_chunks`` sizes the blocks so exp(+-Q)
    never overflows, whatever dt and A. B/C stay (b, g, 1, n, T) broadcast views: the (b, d, n, l)
    expansion is never materialised. Differentiable by plain autograd. ``chunk_size`` (keyword
    only) is the longest chunk.
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size}")
    B, C = check_scan_inputs(u, delta, A, B, C, D, delta_bias)
    out_dtype = u.dtype
    cdt = compute_dtype(u)
    b, d, length = u.shape
    g, n = B.shape[1], A.shape[1]
    r = d // g
    u_ = u.to(cdt)
    dt = step_sizes(delta, delta_bias, delta_softplus, cdt)
    A_ = A.to(cdt)
    dt = dt.contiguous()  # the chunk loop views its slices as blocks
    dt5 = dt.view(b, g, r, 1, length)
    dtu5 = (dt * u_).reshape(b, g, r, 1, length)
    A6 = A_.reshape(g, r, n, 1, 1)
    negA6 = -A6
    mask = torch.ones(chunk_size, dtype=cdt, device=u.device)
    mask[0] = 0.0
    B5 = B.to(cdt).contiguous().unsqueeze(2)  # (b, g, 1, n, l)
    C5 = C.to(cdt).contiguous().unsqueeze(2)
    h = u_.new_zeros(b, g, r, n, 1)  # state entering the chunk
    ys = []
    plan = plan_chunks(dt, A_, chunk_size, _LOG_DECAY_LIMIT[cdt])
    sizes = [t1 - t0 for t0, t1, _ in plan]
    # split, not [..., t0:t1]: each slice's backward would write a zero tensor of the full length
    pieces = zip(plan, dt5.split(sizes, -1), dtu5.split(sizes, -1), B5.split(sizes, -1), C5.split(sizes, -1))
    for (t0, t1, k), dt_c, dtu_c, B_c, C_c in pieces:
        nb = (t1 - t0) // k
        blocks = (b, g, r, n, nb, k)
        dtb = dt_c.unflatten(-1, (nb, k))
        # A is constant in time, so Q = A * cumsum(dt): the cumsum runs on a tensor without the n axis
        cum_dt = (dtb * mask[:k]).cumsum(-1)
        eq = (cum_dt * A6).exp()
        # x * exp(-Q), not x / exp(Q): the division's backward squares exp(Q) and underflows
        xw = (dtu_c * B_c).view(blocks) * (cum_dt * negA6).exp()
        e0 = (dtb[..., :1] * A6).exp()  # first step's decay, (b, g, r, n, nb, 1)
        if nb == 1:  # the entry state joins the sum before its first term
            xw[..., :1] += e0 * h.unsqueeze(-1)
            hs = eq * xw.cumsum(-1)
        else:  # entry state of each block: c_{j+1} = decay_j * c_j + (state block j ends with from 0)
            z = xw.cumsum(-1)
            eq_last = eq[..., -1]
            decay = (eq_last * e0[..., 0]).unbind(-1)
            last = (eq_last * z[..., -1]).unbind(-1)
            cs = [h[..., 0]]
            for dj, lj in zip(decay[:-1], last[:-1]):
                cs.append(torch.addcmul(lj, dj, cs[-1]))
            hs = eq * (z + e0 * torch.stack(cs, dim=-1).unsqueeze(-1))
        hs = hs.view(b, g, r, n, t1 - t0)
        ys.append((hs * C_c).sum(-2))
        h = hs[..., -1:]
    y = torch.cat(ys, dim=-1).reshape(b, d, length) if ys else u_.new_zeros(b, d, 0)
    if D is not None:
        y = y + D.to(cdt)[:, None] * u_
    return y.to(out_dtype)
