"""Triton jit helpers shared by the generic (``triton_scan``) and fused omni (``triton_omni``) kernels.

Small ``@triton.jit`` functions only, each used by both kernel files (as mamba-ssm keeps its shared
jit helpers in ``ops/triton/``). Callers import them by name: Triton's interpreter resolves a
callee through the calling module's globals.
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def linear_combine(a_left, x_left, a_right, x_right):
    """Compose h -> a_left*h + x_left, then h -> a_right*h + x_right (left is earlier in scan order)."""
    return a_left * a_right, a_right * x_left + x_right


@triton.jit
def softplus(z):
    """log(1 + e^z), the identity above 20 (the CUDA kernel's rule)."""
    return tl.where(z <= 20.0, tl.log(1.0 + tl.exp(tl.minimum(z, 20.0))), z)


@triton.jit
def softplus_grad(z):
    """d softplus / dz = sigmoid(z) below the threshold, 1 above it."""
    return tl.where(z <= 20.0, 1.0 / (1.0 + tl.exp(-tl.minimum(z, 20.0))), 1.0)


@triton.jit
def last_along_l(t, BLOCK_L: tl.constexpr):
    """t[:, :, BLOCK_L-1] of a (BD, BN, BL) tile (Triton has no register indexing)."""
    is_last = tl.arange(0, BLOCK_L) == BLOCK_L - 1
    return tl.sum(tl.where(is_last[None, None, :], t, 0.0), axis=2)


@triton.jit
def first_along_l(t, BLOCK_L: tl.constexpr):
    is_first = tl.arange(0, BLOCK_L) == 0
    return tl.sum(tl.where(is_first[None, None, :], t, 0.0), axis=2)


@triton.jit
def chunk_backward(dt, dt1, u, dy, bt, ct, h0, g_next, a2, a_nat, BLOCK_L: tl.constexpr):
    """One chunk of the backward pass, shared by the generic and the fused omni kernels.

    Recomputes the chunk's states hs from the stored entry state h0, then scans the adjoint
    g_t = a_{t+1} g_{t+1} + C_t dy_t from the chunk's end (g_next: the adjoint after the chunk).
    Returns (hs, gs, adjoint entering the chunk, dt*u, gb = sum_n g*B, the scan part of d(dt)
    before softplus, this chunk's dA contribution).
    """
    a = tl.exp2(dt[:, None, :] * a2[:, :, None])
    dtu = dt * u
    x = dtu[:, None, :] * bt[None, :, :]
    a_cum, x_cum = tl.associative_scan((a, x), axis=2, combine_fn=linear_combine)
    hs = a_cum * h0[:, :, None] + x_cum
    a_next = tl.exp2(dt1[:, None, :] * a2[:, :, None])
    src = ct[None, :, :] * dy[:, None, :]
    a_rcum, g_part = tl.associative_scan((a_next, src), axis=2, combine_fn=linear_combine, reverse=True)
    gs = a_rcum * g_next[:, :, None] + g_part
    decay_in = hs - x  # a_t * h_{t-1}
    gb = tl.sum(gs * bt[None, :, :], axis=1)
    ddt = u * gb + tl.sum(gs * decay_in * a_nat[:, :, None], axis=1)
    da = tl.sum(gs * decay_in * dt[:, None, :], axis=2)
    return hs, gs, first_along_l(gs, BLOCK_L), dtu, gb, ddt, da


__all__ = ["chunk_backward", "first_along_l", "last_along_l", "linear_combine", "softplus", "softplus_grad"]
