"""Fused 4-direction planar ("omni") scan in Triton: no cross-scan copies, one merged output.

Computes exactly ``cross_scan.planar_scan_unfused`` (the authors' ``forward_corev1``) for a
(B, C, H, W) map, but:

* the x projection runs once on the map in its own (row-major) pixel order: x_proj commutes with
  the direction permutations, so proj[b, k] = x_proj_weight[k] @ x[b] (one GEMM, (B, 4, R+2N, HW));
* each kernel program reads x, the low-rank dt rows and B/C of direction k *through index
  arithmetic* (step t of direction k is pixel s = t or L-1-t, read row-major for k = 0, 2 and
  column-major for k = 1, 3), so the four copies never exist;
* delta = dt_projs_weight[k] @ dt_lowrank is formed in registers (R <= 24 multiply-adds per step)
  instead of being materialised as a (B, 4C, L) tensor;
* every direction adds its output (incl. D*u) straight into the merged fp32 (B, C, H, W) map with
  atomics, so the merge is free and the output is written once per direction into L2.

Backward recomputes states from the chunk-entry states (as in ``triton_scan``), adds du of every
direction into dx with atomics, accumulates dB/dC (atomics over channel blocks) into the gradient
of the projection, and writes ddelta (B, 4, C, L) so that the two small einsums for dt_projs_weight
and the low-rank dt rows run on the host. The x-projection GEMM is outside the Function and gets
its gradient from autograd.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..errors import InputError
from .guard import device_guard
from .triton_helpers import chunk_backward, last_along_l, linear_combine, softplus, softplus_grad
from .triton_scan import SUPPORTED_DTYPES, ScanLaunchConfig, check_runnable, default_config

DIRECTIONS = 4
INT32_LIMIT = 2**31


# --------------------------------------------------------------------------------------------
# Kernels
# --------------------------------------------------------------------------------------------


@triton.jit
def _direction_pixel(t, k, height, width, length):
    """(h, w) visited at step t of direction k (0 row-major, 1 column-major, 2/3 their reverses)."""
    s = tl.where(k >= 2, length - 1 - t, t)
    s = tl.where((s >= 0) & (s < length), s, 0)  # padded steps read pixel 0 under a mask
    col = (k % 2) == 1
    hh = tl.where(col, s % height, s // width)
    ww = tl.where(col, s // height, s % width)
    return hh, ww


@triton.jit
def _lowrank_delta(w_rows, proj_rows, pix, mask_d, mask_t, length, rank, BLOCK_D: tl.constexpr,
                   BLOCK_L: tl.constexpr):
    """delta[d, t] = sum_r W[d, r] * dt_lowrank[r, pix(t)] in fp32 registers."""
    acc = tl.zeros((BLOCK_D, BLOCK_L), dtype=tl.float32)
    for r in range(0, rank):
        w_r = tl.load(w_rows + r, mask=mask_d, other=0.0).to(tl.float32)
        v_r = tl.load(proj_rows + r * length + pix, mask=mask_t, other=0.0).to(tl.float32)
        acc += w_r[:, None] * v_r[None, :]
    return acc


@triton.jit
def _omni_fwd_kernel(
    x_ptr, proj_ptr, wdt_ptr, bias_ptr, a_ptr, d_ptr, y_ptr, state_ptr,
    channels, height, width, rank, d_state, n_chunks,
    sx_b, sx_c, sx_h, sx_w,
    STORE_STATES: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
):
    """Grid (B*4, cdiv(C, BLOCK_D)). proj (B, 4, R+2N, L) contiguous, rows [dt (R), B (N), C (N)];
    wdt (4, C, R), bias/D (4C,), A (4C, N) contiguous; y (B, C, H, W) fp32 contiguous, zeroed."""
    # Per-step index math (t, pixel, direction) is int32: no emulated 64-bit div/rem in the loop. Row bases
    # are int64 (bi is), so only final offsets are 64-bit; the host keeps pixel offsets below 2**31.
    pid_bk = tl.program_id(0)
    pid_d = tl.program_id(1)
    bi = (pid_bk // 4).to(tl.int64)
    k = pid_bk % 4
    length = height * width
    n_proj = rank + 2 * d_state
    chan = (pid_d * BLOCK_D + tl.arange(0, BLOCK_D)).to(tl.int64)
    mask_d = chan < channels
    kchan = k * channels + chan  # row of A, D, bias, states
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < d_state
    mask_dn = mask_d[:, None] & mask_n[None, :]

    a2 = tl.load(a_ptr + kchan[:, None] * d_state + offs_n[None, :], mask=mask_dn, other=0.0).to(tl.float32)
    a2 = a2 * 1.4426950408889634
    dskip = tl.load(d_ptr + kchan, mask=mask_d, other=0.0).to(tl.float32)
    bias = tl.load(bias_ptr + kchan, mask=mask_d, other=0.0).to(tl.float32)

    x_rows = x_ptr + bi * sx_b + chan * sx_c
    y_rows = y_ptr + (bi * channels + chan) * length
    proj_base = proj_ptr + (bi * 4 + k) * n_proj * length
    w_rows = wdt_ptr + kchan * rank
    b_rows = proj_base + (rank + offs_n) * length
    c_rows = proj_base + (rank + d_state + offs_n) * length
    st_rows = state_ptr + kchan * n_chunks * d_state + bi * (4 * channels) * n_chunks * d_state

    h = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    for ci in range(0, n_chunks):
        t = ci * BLOCK_L + tl.arange(0, BLOCK_L)
        mask_t = t < length
        hh, ww = _direction_pixel(t, k, height, width, length)
        pix = hh * width + ww
        m_dl = mask_d[:, None] & mask_t[None, :]
        m_nl = mask_n[:, None] & mask_t[None, :]
        u = tl.load(x_rows[:, None] + hh[None, :] * sx_h + ww[None, :] * sx_w, mask=m_dl, other=0.0).to(tl.float32)
        dt = _lowrank_delta(w_rows, proj_base, pix, mask_d, mask_t, length, rank, BLOCK_D, BLOCK_L)
        dt = tl.where(m_dl, softplus(dt + bias[:, None]), 0.0)
        bt = tl.load(b_rows[:, None] + pix[None, :], mask=m_nl, other=0.0).to(tl.float32)
        ct = tl.load(c_rows[:, None] + pix[None, :], mask=m_nl, other=0.0).to(tl.float32)
        if STORE_STATES:
            tl.store(st_rows[:, None] + ci * d_state + offs_n[None, :], h, mask=mask_dn)
        a = tl.exp2(dt[:, None, :] * a2[:, :, None])
        x = (dt * u)[:, None, :] * bt[None, :, :]
        a_cum, x_cum = tl.associative_scan((a, x), axis=2, combine_fn=linear_combine)
        hs = a_cum * h[:, :, None] + x_cum
        y = tl.sum(hs * ct[None, :, :], axis=1) + dskip[:, None] * u
        tl.atomic_add(y_rows[:, None] + pix[None, :], y, mask=m_dl, sem="relaxed")
        h = last_along_l(hs, BLOCK_L)


@triton.jit
def _omni_bwd_kernel(
    x_ptr, proj_ptr, wdt_ptr, bias_ptr, a_ptr, d_ptr, dy_ptr, state_ptr,
    dx_ptr, dproj_ptr, ddelta_ptr, da_ptr, dd_ptr, dbias_ptr,
    channels, height, width, rank, d_state, n_chunks,
    sx_b, sx_c, sx_h, sx_w,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
):
    """dy, dx: (B, C, H, W) fp32 contiguous (dx zeroed, atomics); dproj (B, 4, R+2N, L) fp32 zeroed
    (B/C rows by atomics); ddelta (B, 4, C, L) fp32 in pixel order; da (B, 4C, N), dd/dbias (B, 4C)."""
    # 32-bit per-step index math, 64-bit row bases: as in _omni_fwd_kernel.
    pid_bk = tl.program_id(0)
    pid_d = tl.program_id(1)
    bi = (pid_bk // 4).to(tl.int64)
    k = pid_bk % 4
    length = height * width
    n_proj = rank + 2 * d_state
    chan = (pid_d * BLOCK_D + tl.arange(0, BLOCK_D)).to(tl.int64)
    mask_d = chan < channels
    kchan = k * channels + chan
    offs_n = tl.arange(0, BLOCK_N)
    mask_n = offs_n < d_state
    mask_dn = mask_d[:, None] & mask_n[None, :]

    a_nat = tl.load(a_ptr + kchan[:, None] * d_state + offs_n[None, :], mask=mask_dn, other=0.0).to(tl.float32)
    a2 = a_nat * 1.4426950408889634
    dskip = tl.load(d_ptr + kchan, mask=mask_d, other=0.0).to(tl.float32)
    bias = tl.load(bias_ptr + kchan, mask=mask_d, other=0.0).to(tl.float32)

    x_rows = x_ptr + bi * sx_b + chan * sx_c
    map_rows = (bi * channels + chan) * length  # dy / dx rows (contiguous maps)
    proj_base = proj_ptr + (bi * 4 + k) * n_proj * length
    dproj_base = dproj_ptr + (bi * 4 + k) * n_proj * length
    w_rows = wdt_ptr + kchan * rank
    b_rows = proj_base + (rank + offs_n) * length
    c_rows = proj_base + (rank + d_state + offs_n) * length
    db_rows = dproj_base + (rank + offs_n) * length
    dc_rows = dproj_base + (rank + d_state + offs_n) * length
    ddelta_rows = ddelta_ptr + ((bi * 4 + k) * channels + chan) * length
    st_rows = state_ptr + kchan * n_chunks * d_state + bi * (4 * channels) * n_chunks * d_state

    g_next = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    da_acc = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    dd_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    dbias_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    for cr in range(0, n_chunks):
        ci = n_chunks - 1 - cr
        t = ci * BLOCK_L + tl.arange(0, BLOCK_L)
        mask_t = t < length
        mask_t1 = (t + 1) < length
        hh, ww = _direction_pixel(t, k, height, width, length)
        pix = hh * width + ww
        hh1, ww1 = _direction_pixel(t + 1, k, height, width, length)
        pix1 = hh1 * width + ww1
        m_dl = mask_d[:, None] & mask_t[None, :]
        m_dl1 = mask_d[:, None] & mask_t1[None, :]
        m_nl = mask_n[:, None] & mask_t[None, :]
        u = tl.load(x_rows[:, None] + hh[None, :] * sx_h + ww[None, :] * sx_w, mask=m_dl, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + map_rows[:, None] + pix[None, :], mask=m_dl, other=0.0)
        z = _lowrank_delta(w_rows, proj_base, pix, mask_d, mask_t, length, rank, BLOCK_D, BLOCK_L) + bias[:, None]
        z1 = _lowrank_delta(w_rows, proj_base, pix1, mask_d, mask_t1, length, rank, BLOCK_D, BLOCK_L) + bias[:, None]
        dt = tl.where(m_dl, softplus(z), 0.0)
        dt1 = tl.where(m_dl1, softplus(z1), 0.0)
        bt = tl.load(b_rows[:, None] + pix[None, :], mask=m_nl, other=0.0).to(tl.float32)
        ct = tl.load(c_rows[:, None] + pix[None, :], mask=m_nl, other=0.0).to(tl.float32)

        h0 = tl.load(st_rows[:, None] + ci * d_state + offs_n[None, :], mask=mask_dn, other=0.0)
        hs, gs, g_next, dtu, gb, ddt, da = chunk_backward(dt, dt1, u, dy, bt, ct, h0, g_next, a2, a_nat, BLOCK_L)
        da_acc += da
        du = dt * gb + dskip[:, None] * dy
        dd_acc += tl.sum(dy * u, axis=1)
        ddt = tl.where(m_dl, ddt * softplus_grad(z), 0.0)
        dbias_acc += tl.sum(ddt, axis=1)
        tl.atomic_add(dx_ptr + map_rows[:, None] + pix[None, :], du, mask=m_dl, sem="relaxed")
        tl.store(ddelta_rows[:, None] + pix[None, :], ddt, mask=m_dl)
        tl.atomic_add(dc_rows[:, None] + pix[None, :], tl.sum(hs * dy[:, None, :], axis=0), mask=m_nl,
                      sem="relaxed")
        tl.atomic_add(db_rows[:, None] + pix[None, :], tl.sum(gs * dtu[:, None, :], axis=0), mask=m_nl,
                      sem="relaxed")

    part_row = bi * (4 * channels) + kchan
    tl.store(da_ptr + part_row[:, None] * d_state + offs_n[None, :], da_acc, mask=mask_dn)
    tl.store(dd_ptr + part_row, dd_acc, mask=mask_d)
    tl.store(dbias_ptr + part_row, dbias_acc, mask=mask_d)


# --------------------------------------------------------------------------------------------
# Launchers
# --------------------------------------------------------------------------------------------


def _check(x: Tensor, proj: Tensor, dt_projs_weight: Tensor, dt_projs_bias: Tensor, A: Tensor, Ds: Tensor) -> None:
    if x.dim() != 4:
        raise InputError(f"x must be (B, C, H, W), got {tuple(x.shape)}")
    b, c, h, w = x.shape
    if dt_projs_weight.dim() != 3 or dt_projs_weight.shape[:2] != (DIRECTIONS, c):
        raise InputError(f"dt_projs_weight must be (4, C={c}, R), got {tuple(dt_projs_weight.shape)}")
    r = dt_projs_weight.shape[2]
    if A.dim() != 2 or A.shape[0] != DIRECTIONS * c:
        raise InputError(f"A_logs must be (4C={DIRECTIONS * c}, N), got {tuple(A.shape)}")
    n = A.shape[1]
    if tuple(proj.shape) != (b, DIRECTIONS, r + 2 * n, h * w):
        raise InputError(f"x_proj_weight must be (4, R+2N={r + 2 * n}, C={c}); projection is {tuple(proj.shape)}")
    if (r + 2 * n) * h * w >= INT32_LIMIT:
        raise InputError(f"a {h}x{w} map is too large for the fused triton scan's 32-bit pixel indexing "
                         "(use backend='reference', or restore in tiles)")
    if tuple(dt_projs_bias.shape) != (DIRECTIONS, c) or tuple(Ds.shape) != (DIRECTIONS * c,):
        raise InputError(f"dt_projs_bias must be (4, {c}) and Ds ({DIRECTIONS * c},), got "
                         f"{tuple(dt_projs_bias.shape)} and {tuple(Ds.shape)}")
    for name, t in (("x", x), ("projection", proj)):
        if t.dtype not in SUPPORTED_DTYPES:
            raise InputError(f"the triton omni scan takes float32/bfloat16/float16 maps; {name} is {t.dtype} "
                             "(use backend='reference' or 'sequential' for float64)")
    check_runnable(x, proj, dt_projs_weight, dt_projs_bias, A, Ds)


def launch_config(x: Tensor, A: Tensor) -> ScanLaunchConfig:
    """The tiles a launch on the map ``x`` (B, C, H, W) with ``A`` (4C, N) uses when none are given."""
    b, c, h, w = x.shape
    return default_config(b * DIRECTIONS * c, h * w, A.shape[1])


def omni_fwd(x: Tensor, proj: Tensor, wdt: Tensor, bias: Tensor, A: Tensor, Ds: Tensor, *,
             store_states: bool, config: ScanLaunchConfig | None = None
             ) -> tuple[Tensor, Tensor | None, ScanLaunchConfig]:
    """Launch the forward kernel; returns (merged fp32 y (B, C, H, W), chunk-entry states or None, config)."""
    b, c, h, w = x.shape
    r, n, length = wdt.shape[2], A.shape[1], h * w
    cfg = config or launch_config(x, A)
    n_chunks = triton.cdiv(length, cfg.block_l)
    y = torch.zeros((b, c, h, w), dtype=torch.float32, device=x.device)
    states = torch.empty((b, DIRECTIONS * c, n_chunks, n), dtype=torch.float32, device=x.device) if store_states else None
    grid = (b * DIRECTIONS, triton.cdiv(c, cfg.block_d))
    with device_guard(x):
        _omni_fwd_kernel[grid](
            x, proj, wdt, bias, A, Ds, y, states if states is not None else y,
            c, h, w, r, n, n_chunks, *x.stride(),
            STORE_STATES=store_states, BLOCK_D=cfg.block_d, BLOCK_N=triton.next_power_of_2(n), BLOCK_L=cfg.block_l,
            num_warps=cfg.num_warps,
        )
    return y, states, cfg


def omni_bwd(x: Tensor, proj: Tensor, wdt: Tensor, bias: Tensor, A: Tensor, Ds: Tensor, dy: Tensor,
             states: Tensor, config: ScanLaunchConfig) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Launch the backward kernel; returns fp32 (dx_direct, dproj_BC, ddelta, dA, dDs, dbias) with
    dproj's dt rows still zero (filled by the caller from ddelta)."""
    b, c, h, w = x.shape
    r, n, length = wdt.shape[2], A.shape[1], h * w
    f32 = dict(dtype=torch.float32, device=x.device)
    dx = torch.zeros((b, c, h, w), **f32)
    dproj = torch.zeros((b, DIRECTIONS, r + 2 * n, length), **f32)
    ddelta = torch.empty((b, DIRECTIONS, c, length), **f32)
    da = torch.empty((b, DIRECTIONS * c, n), **f32)
    dd = torch.empty((b, DIRECTIONS * c), **f32)
    dbias = torch.empty((b, DIRECTIONS * c), **f32)
    grid = (b * DIRECTIONS, triton.cdiv(c, config.block_d))
    with device_guard(x):
        _omni_bwd_kernel[grid](
            x, proj, wdt, bias, A, Ds, dy, states, dx, dproj, ddelta, da, dd, dbias,
            c, h, w, r, n, states.shape[2], *x.stride(),
            BLOCK_D=config.block_d, BLOCK_N=triton.next_power_of_2(n), BLOCK_L=config.block_l,
            num_warps=config.num_warps,
        )
    return dx, dproj, ddelta, da.sum(0), dd.sum(0), dbias.sum(0)


# --------------------------------------------------------------------------------------------
# Autograd
# --------------------------------------------------------------------------------------------


class OmniScanTritonFn(torch.autograd.Function):
    """(x, proj, dt_projs_weight, dt_projs_bias, A, Ds) -> merged fp32 (B, C, H, W)."""

    @staticmethod
    def forward(ctx, x, proj, wdt, bias, A, Ds, config):  # type: ignore[override]
        _check(x, proj, wdt, bias, A, Ds)
        if (x.shape[2] - 1) * x.stride(2) + (x.shape[3] - 1) * x.stride(3) >= INT32_LIMIT:
            x = x.contiguous()  # the kernel's in-image offsets are int32
        proj = proj.contiguous()
        wdt_c, bias_c, A_c, Ds_c = (t.contiguous() for t in (wdt, bias.reshape(-1), A, Ds))
        needs_grad = any(ctx.needs_input_grad[:6])
        y, states, cfg = omni_fwd(x, proj, wdt_c, bias_c, A_c, Ds_c, store_states=needs_grad, config=config)
        if needs_grad:
            ctx.save_for_backward(x, proj, wdt_c, bias_c, A_c, Ds_c, states)
        ctx.meta = (cfg, bias.shape)
        return y

    @staticmethod
    def backward(ctx, dy):  # type: ignore[override]
        x, proj, wdt, bias, A, Ds, states = ctx.saved_tensors
        cfg, bias_shape = ctx.meta
        dy = dy.to(torch.float32).contiguous()
        dx, dproj, ddelta, dA, dDs, dbias = omni_bwd(x, proj, wdt, bias, A, Ds, dy, states, cfg)
        r = wdt.shape[2]
        dproj[:, :, :r] = torch.einsum("kdr,bkdl->bkrl", wdt.float(), ddelta)
        dwdt = torch.einsum("bkdl,bkrl->kdr", ddelta, proj[:, :, :r].float())
        return (dx.to(x.dtype), dproj.to(proj.dtype), dwdt.to(wdt.dtype), dbias.view(bias_shape).to(bias.dtype),
                dA.to(A.dtype), dDs.to(Ds.dtype), None)


def planar_scan_triton(
    x: Tensor,
    x_proj_weight: Tensor,
    dt_projs_weight: Tensor,
    dt_projs_bias: Tensor,
    A_logs: Tensor,
    Ds: Tensor,
    *,
    config: ScanLaunchConfig | None = None,
) -> Tensor:
    """Fused omni planar scan; same arguments and result as ``cross_scan.planar_scan_unfused``.

    x: (B, C, H, W) fp32/bf16/fp16 (CUDA, or CPU under TRITON_INTERPRET=1); x_proj_weight:
    (4, R+2N, C); dt_projs_weight: (4, C, R); dt_projs_bias: (4, C); A_logs: (4C, N); Ds: (4C,).
    Returns the merged (B, C, H, W) in float32. ``config`` (keyword only) overrides the tile sizes.
    """
    if x.dim() != 4:
        raise InputError(f"x must be (B, C, H, W), got {tuple(x.shape)}")
    if x_proj_weight.dim() != 3 or x_proj_weight.shape[0] != DIRECTIONS or x_proj_weight.shape[2] != x.shape[1]:
        raise InputError(f"x_proj_weight must be (4, R+2N, C={x.shape[1]}), got {tuple(x_proj_weight.shape)}")
    # One GEMM over the map in its own pixel order; the kernel permutes by index arithmetic.
    proj = torch.einsum("kjc,bcl->bkjl", x_proj_weight, x.flatten(2))
    A = -torch.exp(A_logs.float())
    return OmniScanTritonFn.apply(x, proj, dt_projs_weight, dt_projs_bias, A, Ds, config)


__all__ = ["OmniScanTritonFn", "launch_config", "omni_bwd", "omni_fwd", "planar_scan_triton"]
