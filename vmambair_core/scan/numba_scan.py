"""Compiled CPU selective scan (numba): the plain scan and the fused 4-direction planar scan.

Same signatures and semantics as ``reference.selective_scan_chunked`` and
``cross_scan.planar_scan_unfused``; float32 state, float32 and bfloat16 inputs (bf16 is upcast),
float64 is refused (it stays on the reference). Torch does the cheap, vectorised parts (the
projections, bias + softplus, layout) so autograd differentiates them; the scan itself and its
adjoint run in ``numba_kernels`` (parallel over batch x channel, vectorised over the state).
Importing this module imports numba; ``availability.cpu_backend`` decides whether that works.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from ..errors import InputError
from . import numba_kernels as nk
from .checks import check_scan_inputs
from .reference import step_sizes

DIRECTIONS = 4
SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


def _np(t: Tensor):  # noqa: ANN202 - numpy array
    """float32 C-contiguous numpy view (a copy only where needed: bf16 under autocast, strided views)."""
    return t.detach().float().contiguous().numpy()


BLOCKED_MIN_LENGTH = 4096
"""Sequences longer than this use ``scan_fwd_blocked``: one direction's B/C rows (L x 2N floats) then
exceed ~512 KB and stop fitting in L2 next to the state; shorter ones run faster on ``scan_fwd``."""


def _forward_channel_group(batch: int, channels: int, length: int) -> int:
    """Channels per forward task: up to 8 on long sequences, keeping >= 2 tasks per thread."""
    if length <= BLOCKED_MIN_LENGTH:
        return 1
    return max(1, min(8, channels, batch * channels // (2 * torch.get_num_threads())))


def _block_count(batch: int, channels: int) -> int:
    """Channel blocks of the backward: enough tasks for every thread, few partial dB/dC copies."""
    return max(1, min(channels, -(-2 * torch.get_num_threads() // batch)))


class NumbaScanFn(torch.autograd.Function):
    """(u, dt, A, bc, D) in the kernels' layout (see ``numba_kernels``) -> y (b, Ky, c, L) float32."""

    @staticmethod
    def forward(ctx, u, dt, A, bc, D, perm, merged):  # type: ignore[override]
        b, k, c, length = dt.shape
        n = A.shape[2]
        y = torch.zeros((b, 1 if merged else k, c, length), dtype=torch.float32)
        needs_grad = any(ctx.needs_input_grad[:5])
        n_chunks = -(-length // nk.CHUNK)
        states = torch.empty((b, k, c, n_chunks if needs_grad else 1, n), dtype=torch.float32)
        arrays = [_np(t) for t in (u, dt, A, bc, D)]
        group = _forward_channel_group(b, c, length)
        with nk.LAUNCH_LOCK:
            nk.set_numba_threads(torch.get_num_threads())  # numba follows torch (and --threads)
            if group > 1:
                nk.scan_fwd_blocked(*arrays, perm.numpy(), y.numpy(), states.numpy(), needs_grad, group)
            else:
                nk.scan_fwd(*arrays, perm.numpy(), y.numpy(), states.numpy(), needs_grad)
        if needs_grad:
            ctx.save_for_backward(u, dt, A, bc, D, states)
            ctx.perm = perm  # an index table (possibly cached under inference mode): not autograd's business
        return y

    @staticmethod
    def backward(ctx, dy):  # type: ignore[override]
        u, dt, A, bc, D, states = ctx.saved_tensors
        perm = ctx.perm
        b, k, c, length = dt.shape
        n = A.shape[2]
        blocks = _block_count(b, c)
        f32 = dict(dtype=torch.float32)
        du = torch.zeros(u.shape, **f32)
        ddt = torch.empty(dt.shape, **f32)
        dA = torch.empty((b, k, c, n), **f32)
        dD = torch.empty((b, k, c), **f32)
        dbc = torch.zeros((b, k, blocks, length, 2 * n), **f32)
        arrays = [_np(t) for t in (u, dt, A, bc, D)]
        with nk.LAUNCH_LOCK:
            nk.set_numba_threads(torch.get_num_threads())  # numba follows torch (and --threads)
            nk.scan_bwd(*arrays, perm.numpy(), _np(dy), states.numpy(), blocks,
                        du.numpy(), ddt.numpy(), dA.numpy(), dD.numpy(), dbc.numpy())
        return du, ddt, dA.sum(0), dbc.sum(2), dD.sum(0), None, None


def _check_dtype(t: Tensor, what: str) -> None:
    if t.dtype not in SUPPORTED_DTYPES:
        raise InputError(f"the numba scan takes float32/bfloat16/float16 inputs; {what} is {t.dtype} "
                         "(use backend='reference' or 'sequential' for float64)")
    if t.device.type != "cpu":
        raise InputError(f"the numba scan runs on the CPU; {what} is on {t.device}")


def selective_scan_numba(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
) -> Tensor:
    """Selective scan on the compiled CPU kernels; the reference's signature and semantics."""
    B, C = check_scan_inputs(u, delta, A, B, C, D, delta_bias)
    _check_dtype(u, "u")
    b, d, length = u.shape
    g, n = B.shape[1], A.shape[1]
    c = d // g
    if length == 0:
        return u.new_zeros(u.shape)
    dt = step_sizes(delta, delta_bias, delta_softplus, torch.float32).view(b, g, c, length)
    bc = torch.cat([B, C], dim=2).float().transpose(2, 3).contiguous()  # (b, g, L, 2N)
    skip = D.float().view(g, c) if D is not None else u.new_zeros((g, c), dtype=torch.float32)
    y = NumbaScanFn.apply(u.float().view(b, g, c, length), dt, A.float().view(g, c, n), bc, skip,
                          _identity_perm(g, length), False)
    return y.view(b, d, length).to(u.dtype)


@lru_cache(maxsize=64)
def _identity_perm(k: int, length: int) -> Tensor:
    with torch.inference_mode(False):
        return torch.arange(length, dtype=torch.int64).expand(k, length).contiguous()


@lru_cache(maxsize=64)
def direction_pixels(h: int, w: int) -> Tensor:
    """(4, H*W) int64: the pixel (row-major index) visited at step t of each planar direction."""
    with torch.inference_mode(False):
        idx = torch.arange(h * w, dtype=torch.int64)
        cols = idx.view(h, w).t().reshape(-1)
        return torch.stack([idx, cols, idx.flip(0), cols.flip(0)])


def planar_scan_numba(
    x: Tensor,
    x_proj_weight: Tensor,
    dt_projs_weight: Tensor,
    dt_projs_bias: Tensor,
    A_logs: Tensor,
    Ds: Tensor,
) -> Tensor:
    """Fused omni planar scan; same arguments and result as ``cross_scan.planar_scan_unfused``.

    The projections commute with the direction permutations, so they run once on the map in its
    own pixel order (two GEMMs); the kernels read direction k's steps through ``direction_pixels``
    and sum the four directions into one float32 (B, C, H, W) map.
    """
    if x.dim() != 4:
        raise InputError(f"x must be (B, C, H, W), got {tuple(x.shape)}")
    _check_dtype(x, "x")
    b, c, h, w = x.shape
    k, r = DIRECTIONS, dt_projs_weight.shape[2]
    n = A_logs.shape[1]
    if tuple(x_proj_weight.shape) != (k, r + 2 * n, c):
        raise InputError(f"x_proj_weight must be (4, R+2N={r + 2 * n}, C={c}), got {tuple(x_proj_weight.shape)}")
    if tuple(A_logs.shape) != (k * c, n) or tuple(Ds.shape) != (k * c,) or tuple(dt_projs_bias.shape) != (k, c):
        raise InputError(f"A_logs must be (4C, N), Ds (4C,) and dt_projs_bias (4, C) for C={c}; got "
                         f"{tuple(A_logs.shape)}, {tuple(Ds.shape)}, {tuple(dt_projs_bias.shape)}")
    xf = x.float().flatten(2)  # (b, c, L)
    with torch.autocast("cpu", enabled=False):  # the scan is fp32 anyway; bf16 GEMMs would only add error
        proj = torch.matmul(xf.transpose(1, 2).unsqueeze(1), x_proj_weight.float().transpose(1, 2))  # (b,4,L,R+2N)
        if torch.is_grad_enabled() or h * w <= DT_CHUNK:
            delta = torch.matmul(dt_projs_weight.float(), proj[..., :r].transpose(2, 3))  # (b, 4, c, L)
            dt = step_sizes(delta, dt_projs_bias, True, torch.float32)
        else:
            dt = _step_sizes_in_chunks(proj[..., :r], dt_projs_weight.float(), dt_projs_bias)
    bc = proj[..., r:].contiguous()
    A = -torch.exp(A_logs.float()).view(k, c, n)
    y = NumbaScanFn.apply(xf.unsqueeze(1), dt, A, bc, Ds.float().view(k, c), direction_pixels(h, w), True)
    return y.view(b, c, h, w)


DT_CHUNK = 4096
"""Pixels per chunk of ``_step_sizes_in_chunks``: (4, C, 4096) float32 is 6 MB for C = 96."""


def _step_sizes_in_chunks(dt_in: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """softplus(weight @ dt_in^T + bias) -> (b, 4, c, L), built chunk by chunk of pixels (inference).

    The same values as the whole-map ``step_sizes`` (one GEMM per chunk instead of one per map). On
    a large map the whole-map version makes three passes over a (b, 4, c, L) tensor that does not fit
    in cache (400 MB at 256x256 LQ for C = 96): GEMM, bias add, softplus; here each chunk stays in
    cache and the result is written once.
    """
    b, k, length, _ = dt_in.shape
    dt = torch.empty((b, k, weight.shape[1], length), dtype=torch.float32)
    for l0 in range(0, length, DT_CHUNK):
        l1 = min(length, l0 + DT_CHUNK)
        delta = torch.matmul(weight, dt_in[:, :, l0:l1].transpose(2, 3))
        dt[..., l0:l1] = step_sizes(delta, bias, True, torch.float32)
    return dt


def probe() -> None:
    """Compile (or load from cache) and run the forward kernel on a tiny problem; raise if it is wrong."""
    from .reference import selective_scan_sequential  # noqa: PLC0415

    gen = torch.Generator().manual_seed(0)
    u, delta = torch.randn(1, 2, 5, generator=gen), torch.randn(1, 2, 5, generator=gen)
    A = -torch.rand(2, 4, generator=gen)
    B, C = torch.randn(1, 1, 4, 5, generator=gen), torch.randn(1, 1, 4, 5, generator=gen)
    with torch.no_grad():
        y = selective_scan_numba(u, delta, A, B, C, None, None, True)
        ref = selective_scan_sequential(u, delta, A, B, C, None, None, True)
    if not torch.allclose(y, ref, rtol=1e-4, atol=1e-5):
        raise RuntimeError("the compiled scan disagrees with the reference on a probe problem")


__all__ = ["NumbaScanFn", "direction_pixels", "planar_scan_numba", "probe", "selective_scan_numba"]
