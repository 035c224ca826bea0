"""Numba kernels of the compiled CPU selective scan (imported only when numba is installed).

One forward and one backward kernel serve both the fused 4-direction planar scan and the plain
(grouped) selective scan. Arrays (all float32, C-contiguous)::

    u   (b, Ku, c, L)   input, Ku = 1: one map shared by every direction, Ku = K: one per group
    dt  (b, K, c, L)    step sizes, already biased and softplus-ed (torch does that part)
    A   (K, c, N)       decay rates;  D (K, c) skip weights
    bc  (b, K, L, 2N)   B in [..., :N], C in [..., N:], rows indexed by *pixel*
    perm (K, L) int64   pixel read at step t of direction k (the direction's permutation)
    y   (b, Ky, c, L)   Ky = 1: the K directions are summed into one map (race-free: one task owns a
                        (batch, channel) pair and loops over k), Ky = K: one output per group

Everything is addressed by pixel, so the planar scan reads the map in place: no direction copies.
The state vector (N floats) lives in a small per-task buffer and the loop over N vectorises,
including the exponential (``fexp``: numba's LLVM has no vector math library, so ``math.exp``
would stay scalar). Backward stores the state entering every chunk of ``CHUNK`` steps in the
forward and recomputes the chunk's states from it, walking the chunks in reverse.
"""

from __future__ import annotations

import os
import threading

import numba
import numpy as np
from numba import njit, prange

# numba's default OpenMP layer loads a second libgomp next to torch's; measured on a 2-core machine
# its spinning workers made a realsr forward 8x slower in CPU time (and starved torch's own ops).
# The workqueue layer has no spinning, but must not be entered by two Python threads at once:
# ``LAUNCH_LOCK`` serialises the launches. A layer chosen by the user (NUMBA_THREADING_LAYER) wins.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"
LAUNCH_LOCK = threading.Lock()

CHUNK = 64

_f32 = np.float32
_LOG2E = _f32(1.4426950408889634)
_LN2_HI = _f32(0.693359375)  # Cody-Waite split of ln 2: k * _LN2_HI is exact for |k| < 2^9
_LN2_LO = _f32(-2.12194440e-4)
_P0 = _f32(1.9875691500e-4)  # Cephes expf minimax polynomial for e^r - 1 - r, |r| <= ln2 / 2
_P1 = _f32(1.3981999507e-3)
_P2 = _f32(8.3334519073e-3)
_P3 = _f32(4.1665795894e-2)
_P4 = _f32(1.6666665459e-1)
_P5 = _f32(5.0000001201e-1)
_ONE = _f32(1.0)
_HALF = _f32(0.5)
_ZERO = _f32(0.0)
_LO = _f32(-87.0)  # below: result 0 (true value < 1.7e-38, the smallest normal float32 is 1.2e-38)
_HI = _f32(88.0)  # above: result inf (true value > 1.65e38, float32 overflows at 88.72)
_INF = _f32(np.inf)
# Flags that allow vector reductions and FMA contraction but keep NaN/inf semantics intact.
_FASTMATH = {"reassoc", "contract"}


@njit(inline="always", fastmath=_FASTMATH, cache=True)
def fexp(x: np.float32) -> np.float32:  # pragma: no cover - compiled
    """float32 e^x that LLVM vectorises: 2^k * p(r), x = k ln2 + r, 2^k built in the exponent field.

    Relative error <= 2 ulp (<= 2.4e-7) for -87 <= x <= 88 (tested against float64 exp);
    0 below -87, inf above 88, NaN for NaN.
    """
    xc = x if x > _LO else _LO  # NaN -> _LO, so the integer conversion below stays defined
    xc = xc if xc < _HI else _HI
    kf = np.floor(xc * _LOG2E + _HALF)
    r = xc - kf * _LN2_HI
    r = r - kf * _LN2_LO
    p = ((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5
    p = p * r * r + r + _ONE
    scale = np.int32((np.int32(kf) + np.int32(127)) << np.int32(23)).view(np.float32)
    e = p * scale
    e = _ZERO if x < _LO else e
    e = _INF if x > _HI else e
    return x if x != x else e


@njit(fastmath=_FASTMATH, cache=True)
def _vexp(x, out):  # pragma: no cover - compiled
    """out[i] = fexp(x[i]) (the error-bound test calls this on a sweep of arguments)."""
    for i in range(x.shape[0]):
        out[i] = fexp(x[i])


@njit(parallel=True, fastmath=_FASTMATH, cache=True)
def scan_fwd(u, dt, A, bc, D, perm, y, states, store_states):  # pragma: no cover - compiled
    """y (zero-filled by the caller) += scan; states[b, k, c, j] = state entering chunk j if asked."""
    nb, K, nc, L = dt.shape
    N = A.shape[2]
    Ku = u.shape[1]
    Ky = y.shape[1]
    for task in prange(nb * nc):
        bi = task // nc
        ci = task % nc
        h = np.empty(N, dtype=np.float32)
        a = np.empty(N, dtype=np.float32)
        for k in range(K):
            ku = k if Ku > 1 else 0
            ky = k if Ky > 1 else 0
            for n in range(N):
                h[n] = _ZERO
                a[n] = A[k, ci, n]
            d_skip = D[k, ci]
            for t in range(L):
                if store_states and t % CHUNK == 0:
                    j = t // CHUNK
                    for n in range(N):
                        states[bi, k, ci, j, n] = h[n]
                s = perm[k, t]
                dtv = dt[bi, k, ci, s]
                uv = u[bi, ku, ci, s]
                dtu = dtv * uv
                row = bc[bi, k, s]
                acc = _ZERO
                for n in range(N):
                    hn = fexp(dtv * a[n]) * h[n] + dtu * row[n]
                    h[n] = hn
                    acc += hn * row[N + n]
                y[bi, ky, ci, s] += acc + d_skip * uv


@njit(parallel=True, fastmath=_FASTMATH, cache=True)
def scan_fwd_blocked(u, dt, A, bc, D, perm, y, states, store_states, cg):  # pragma: no cover - compiled
    """``scan_fwd`` with ``cg`` channels per task sharing each B/C row read.

    On a long map the B/C rows of one direction (L x 2N floats: 8 MB at 256x256) no longer fit in
    cache, and ``scan_fwd`` streams them once per channel, in the direction's order (a new cache line
    every step for the column directions). Here one read serves ``cg`` channels. Measured at 128x128,
    48 channels, 2 threads: 102 -> 46 ms; on short maps the plain kernel is faster (its state stays in
    registers), so the caller picks by length.
    """
    nb, K, nc, L = dt.shape
    N = A.shape[2]
    Ku = u.shape[1]
    Ky = y.shape[1]
    nblk = (nc + cg - 1) // cg
    for task in prange(nb * nblk):
        bi = task // nblk
        c0 = (task % nblk) * cg
        G = min(cg, nc - c0)
        h = np.empty((cg, N), dtype=np.float32)
        a = np.empty((cg, N), dtype=np.float32)
        for k in range(K):
            ku = k if Ku > 1 else 0
            ky = k if Ky > 1 else 0
            for g in range(G):
                for n in range(N):
                    h[g, n] = _ZERO
                    a[g, n] = A[k, c0 + g, n]
            for t in range(L):
                if store_states and t % CHUNK == 0:
                    j = t // CHUNK
                    for g in range(G):
                        for n in range(N):
                            states[bi, k, c0 + g, j, n] = h[g, n]
                s = perm[k, t]
                row = bc[bi, k, s]
                for g in range(G):
                    ci = c0 + g
                    dtv = dt[bi, k, ci, s]
                    uv = u[bi, ku, ci, s]
                    dtu = dtv * uv
                    hg = h[g]
                    ag = a[g]
                    acc = _ZERO
                    for n in range(N):
                        hn = fexp(dtv * ag[n]) * hg[n] + dtu * row[n]
                        hg[n] = hn
                        acc += hn * row[N + n]
                    y[bi, ky, ci, s] += acc + D[k, ci] * uv


@njit(parallel=True, fastmath=_FASTMATH, cache=True)
def scan_bwd(u, dt, A, bc, D, perm, dy, states, n_blocks,
             du, ddt, dA, dD, dbc):  # pragma: no cover - compiled
    """Adjoint scan. Outputs (zero-filled by the caller): du like u, ddt like dt, dA (b, K, c, N),
    dD (b, K, c), dbc (b, K, n_blocks, L, 2N): partial sums over the channel blocks (the caller sums
    them), so tasks (batch, channel block) never write the same element."""
    nb, K, nc, L = dt.shape
    N = A.shape[2]
    Ku = u.shape[1]
    Ky = dy.shape[1]
    per_block = (nc + n_blocks - 1) // n_blocks
    n_chunks = (L + CHUNK - 1) // CHUNK
    for task in prange(nb * n_blocks):
        bi = task // n_blocks
        blk = task % n_blocks
        hbuf = np.empty((CHUNK + 1, N), dtype=np.float32)
        ebuf = np.empty((CHUNK, N), dtype=np.float32)
        dh = np.empty(N, dtype=np.float32)
        da = np.empty(N, dtype=np.float32)
        a = np.empty(N, dtype=np.float32)
        for k in range(K):
            ku = k if Ku > 1 else 0
            ky = k if Ky > 1 else 0
            for ci in range(blk * per_block, min(nc, (blk + 1) * per_block)):
                for n in range(N):
                    dh[n] = _ZERO
                    da[n] = _ZERO
                    a[n] = A[k, ci, n]
                d_skip = D[k, ci]
                dd = _ZERO
                for j in range(n_chunks - 1, -1, -1):
                    t0 = j * CHUNK
                    t1 = min(L, t0 + CHUNK)
                    for n in range(N):
                        hbuf[0, n] = states[bi, k, ci, j, n]
                    for i in range(t1 - t0):  # recompute the chunk's states
                        s = perm[k, t0 + i]
                        dtv = dt[bi, k, ci, s]
                        dtu = dtv * u[bi, ku, ci, s]
                        row = bc[bi, k, s]
                        for n in range(N):
                            e = fexp(dtv * a[n])
                            ebuf[i, n] = e
                            hbuf[i + 1, n] = e * hbuf[i, n] + dtu * row[n]
                    for i in range(t1 - t0 - 1, -1, -1):
                        s = perm[k, t0 + i]
                        g = dy[bi, ky, ci, s]
                        dtv = dt[bi, k, ci, s]
                        uv = u[bi, ku, ci, s]
                        dtu = dtv * uv
                        row = bc[bi, k, s]
                        drow = dbc[bi, k, blk, s]
                        dd += g * uv
                        s_b = _ZERO
                        s_a = _ZERO
                        for n in range(N):
                            dhn = dh[n] + g * row[N + n]
                            drow[N + n] += g * hbuf[i + 1, n]
                            drow[n] += dhn * dtu
                            s_b += dhn * row[n]
                            e = ebuf[i, n]
                            de = dhn * hbuf[i, n] * e  # d/d(dt * a[n]) of e * h_prev
                            s_a += de * a[n]
                            da[n] += de * dtv
                            dh[n] = dhn * e
                        ddt[bi, k, ci, s] = s_b * uv + s_a
                        du[bi, ku, ci, s] += s_b * dtv + g * d_skip
                for n in range(N):
                    dA[bi, k, ci, n] = da[n]
                dD[bi, k, ci] = dd


def set_numba_threads(n: int) -> None:
    """Use at most ``n`` numba threads (the caller passes torch's thread count)."""
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))


__all__ = ["CHUNK", "LAUNCH_LOCK", "fexp", "scan_bwd", "scan_fwd", "scan_fwd_blocked", "set_numba_threads"]
