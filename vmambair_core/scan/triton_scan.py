"""Generic selective scan in Triton: forward and backward kernels, launchers, autograd Function.

Same signature and semantics as ``reference.selective_scan_sequential`` (see its docstring): inputs
fp32 / bf16 / fp16, state and every exp in fp32, output in u's dtype.

Work split. Grid = (batch * groups, cdiv(channels_per_group, BLOCK_D)): a program owns BLOCK_D
channels of ONE B/C group, so each B_t / C_t tile is loaded once and used by all BLOCK_D channels
(mamba-ssm's kernel re-reads them per channel). The program walks the sequence in chunks of
BLOCK_L steps; inside a chunk the recurrence h_t = a_t * h_{t-1} + x_t is one
``tl.associative_scan`` over (a, x) pairs of a (BLOCK_D, BLOCK_N, BLOCK_L) tile, and the state
crosses chunk boundaries in registers. softplus, delta_bias and D stay in registers.

Backward by recomputation: the forward stores only the state *entering* each chunk
(b, d, n_chunks, n) in fp32. The backward walks the chunks last to first, recomputes the chunk's
states from that entry state, and runs the adjoint recurrence g_t = a_{t+1} g_{t+1} + C_t dy_t as a
reverse associative scan (a_{t+1} is recomputed from delta at t+1, so no register shift is
needed). With h_t - x_t = a_t h_{t-1} every gradient needs only same-step quantities::

    du_t    = dt_t sum_n g_t B_t + D dy_t          dB_t += dt_t u_t g_t     dC_t += dy_t h_t
    ddt_t   = sum_n g_t (u_t B_t + A (h_t - x_t))  dA   += sum_t g_t (h_t - x_t) dt_t
    ddelta  = ddt * sigmoid(delta + bias)  (softplus below its threshold 20, else ddt)

dB/dC are shared by all channels of a group and are accumulated with fp32 atomics; dA, dD and
d(delta_bias) are per-batch partial sums reduced on the host. All base offsets are int64
(Mamba-2's int32 offsets silently broke past ~61K tokens, state-spaces/mamba#1015).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..errors import BackendUnavailableError, ConfigError, InputError
from .checks import check_scan_inputs
from .guard import device_guard
from .triton_helpers import chunk_backward, last_along_l, linear_combine, softplus, softplus_grad

LOG2E = 1.4426950408889634
SOFTPLUS_THRESHOLD = 20.0
SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


# --------------------------------------------------------------------------------------------
# Kernels (jit helpers in ``triton_helpers``, imported by name: the interpreter resolves callees
# through the calling module's globals)
# --------------------------------------------------------------------------------------------


@triton.jit
def _selective_scan_fwd_kernel(
    u_ptr, dt_ptr, a_ptr, b_ptr, c_ptr, d_ptr, bias_ptr, y_ptr, state_ptr,
    n_groups, d_per_group, length, d_state, n_chunks,
    su_b, su_d, su_l, sdt_b, sdt_d, sdt_l, sa_d, sa_n,
    sb_b, sb_g, sb_n, sb_l, sc_b, sc_g, sc_n, sc_l, sy_b, sy_d, sy_l,
    HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr, STORE_STATES: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
):
    pid_bg = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1).to(tl.int64)
    bi = pid_bg // n_groups
    gi = pid_bg % n_groups
    local_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D).to(tl.int64)
    mask_d = local_d < d_per_group
    chan = gi * d_per_group + local_d
    offs_n = tl.arange(0, BLOCK_N).to(tl.int64)
    mask_n = offs_n < d_state
    mask_dn = mask_d[:, None] & mask_n[None, :]

    a2 = tl.load(a_ptr + chan[:, None] * sa_d + offs_n[None, :] * sa_n, mask=mask_dn, other=0.0).to(tl.float32)
    a2 = a2 * 1.4426950408889634  # exp(dt*A) = exp2(dt*A*log2(e))
    if HAS_D:
        dskip = tl.load(d_ptr + chan, mask=mask_d, other=0.0).to(tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + chan, mask=mask_d, other=0.0).to(tl.float32)

    u_row = u_ptr + bi * su_b + chan * su_d
    dt_row = dt_ptr + bi * sdt_b + chan * sdt_d
    y_row = y_ptr + bi * sy_b + chan * sy_d
    b_rows = b_ptr + bi * sb_b + gi * sb_g + offs_n * sb_n
    c_rows = c_ptr + bi * sc_b + gi * sc_g + offs_n * sc_n
    st_rows = state_ptr + ((bi * (n_groups * d_per_group) + chan) * n_chunks) * d_state

    h = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    for ci in range(0, n_chunks):
        t = ci * BLOCK_L + tl.arange(0, BLOCK_L).to(tl.int64)
        mask_t = t < length
        m_dl = mask_d[:, None] & mask_t[None, :]
        m_nl = mask_n[:, None] & mask_t[None, :]
        u = tl.load(u_row[:, None] + t[None, :] * su_l, mask=m_dl, other=0.0).to(tl.float32)
        dt = tl.load(dt_row[:, None] + t[None, :] * sdt_l, mask=m_dl, other=0.0).to(tl.float32)
        if HAS_BIAS:
            dt = dt + bias[:, None]
        if SOFTPLUS:
            dt = softplus(dt)
        dt = tl.where(m_dl, dt, 0.0)  # padded steps: a = 1, x = 0 (the state passes through)
        bt = tl.load(b_rows[:, None] + t[None, :] * sb_l, mask=m_nl, other=0.0).to(tl.float32)
        ct = tl.load(c_rows[:, None] + t[None, :] * sc_l, mask=m_nl, other=0.0).to(tl.float32)
        if STORE_STATES:
            tl.store(st_rows[:, None] + ci * d_state + offs_n[None, :], h, mask=mask_dn)
        a = tl.exp2(dt[:, None, :] * a2[:, :, None])
        x = (dt * u)[:, None, :] * bt[None, :, :]
        a_cum, x_cum = tl.associative_scan((a, x), axis=2, combine_fn=linear_combine)
        hs = a_cum * h[:, :, None] + x_cum
        y = tl.sum(hs * ct[None, :, :], axis=1)
        if HAS_D:
            y = y + dskip[:, None] * u
        tl.store(y_row[:, None] + t[None, :] * sy_l, y, mask=m_dl)
        h = last_along_l(hs, BLOCK_L)


@triton.jit
def _selective_scan_bwd_kernel(
    u_ptr, dt_ptr, a_ptr, b_ptr, c_ptr, d_ptr, bias_ptr, dy_ptr, state_ptr,
    du_ptr, ddt_ptr, da_ptr, db_ptr, dc_ptr, dd_ptr, dbias_ptr,
    n_groups, d_per_group, length, d_state, n_chunks,
    su_b, su_d, su_l, sdt_b, sdt_d, sdt_l, sa_d, sa_n,
    sb_b, sb_g, sb_n, sb_l, sc_b, sc_g, sc_n, sc_l, sdy_b, sdy_d, sdy_l,
    HAS_D: tl.constexpr, HAS_BIAS: tl.constexpr, SOFTPLUS: tl.constexpr,
    BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_L: tl.constexpr,
):
    """Outputs: du, ddt (b, d, l) contiguous; db, dc (b, g, n, l) fp32 contiguous, zeroed, atomics;
    da (b, d, n), dd, dbias (b, d) fp32 per-batch partial sums."""
    pid_bg = tl.program_id(0).to(tl.int64)
    pid_d = tl.program_id(1).to(tl.int64)
    bi = pid_bg // n_groups
    gi = pid_bg % n_groups
    d_total = n_groups * d_per_group
    local_d = pid_d * BLOCK_D + tl.arange(0, BLOCK_D).to(tl.int64)
    mask_d = local_d < d_per_group
    chan = gi * d_per_group + local_d
    offs_n = tl.arange(0, BLOCK_N).to(tl.int64)
    mask_n = offs_n < d_state
    mask_dn = mask_d[:, None] & mask_n[None, :]

    a_nat = tl.load(a_ptr + chan[:, None] * sa_d + offs_n[None, :] * sa_n, mask=mask_dn, other=0.0).to(tl.float32)
    a2 = a_nat * 1.4426950408889634
    if HAS_D:
        dskip = tl.load(d_ptr + chan, mask=mask_d, other=0.0).to(tl.float32)
    if HAS_BIAS:
        bias = tl.load(bias_ptr + chan, mask=mask_d, other=0.0).to(tl.float32)

    u_row = u_ptr + bi * su_b + chan * su_d
    dt_row = dt_ptr + bi * sdt_b + chan * sdt_d
    dy_row = dy_ptr + bi * sdy_b + chan * sdy_d
    out_row = (bi * d_total + chan) * length  # du / ddt are contiguous (b, d, l)
    b_rows = b_ptr + bi * sb_b + gi * sb_g + offs_n * sb_n
    c_rows = c_ptr + bi * sc_b + gi * sc_g + offs_n * sc_n
    grad_bc_rows = ((bi * n_groups + gi) * d_state + offs_n) * length  # db / dc contiguous (b, g, n, l)
    st_rows = state_ptr + ((bi * d_total + chan) * n_chunks) * d_state

    g_next = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)  # adjoint of the state after the chunk
    da_acc = tl.zeros((BLOCK_D, BLOCK_N), dtype=tl.float32)
    dd_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    dbias_acc = tl.zeros((BLOCK_D,), dtype=tl.float32)
    for cr in range(0, n_chunks):
        ci = n_chunks - 1 - cr
        t = ci * BLOCK_L + tl.arange(0, BLOCK_L).to(tl.int64)
        mask_t = t < length
        mask_t1 = (t + 1) < length
        m_dl = mask_d[:, None] & mask_t[None, :]
        m_dl1 = mask_d[:, None] & mask_t1[None, :]
        m_nl = mask_n[:, None] & mask_t[None, :]
        u = tl.load(u_row[:, None] + t[None, :] * su_l, mask=m_dl, other=0.0).to(tl.float32)
        z = tl.load(dt_row[:, None] + t[None, :] * sdt_l, mask=m_dl, other=0.0).to(tl.float32)
        z1 = tl.load(dt_row[:, None] + (t[None, :] + 1) * sdt_l, mask=m_dl1, other=0.0).to(tl.float32)
        dy = tl.load(dy_row[:, None] + t[None, :] * sdy_l, mask=m_dl, other=0.0).to(tl.float32)
        if HAS_BIAS:
            z = z + bias[:, None]
            z1 = z1 + bias[:, None]
        if SOFTPLUS:
            dt = softplus(z)
            dt1 = softplus(z1)
        else:
            dt = z
            dt1 = z1
        dt = tl.where(m_dl, dt, 0.0)
        dt1 = tl.where(m_dl1, dt1, 0.0)
        bt = tl.load(b_rows[:, None] + t[None, :] * sb_l, mask=m_nl, other=0.0).to(tl.float32)
        ct = tl.load(c_rows[:, None] + t[None, :] * sc_l, mask=m_nl, other=0.0).to(tl.float32)

        h0 = tl.load(st_rows[:, None] + ci * d_state + offs_n[None, :], mask=mask_dn, other=0.0)
        hs, gs, g_next, dtu, gb, ddt, da = chunk_backward(dt, dt1, u, dy, bt, ct, h0, g_next, a2, a_nat, BLOCK_L)
        da_acc += da
        du = dt * gb
        if HAS_D:
            du = du + dskip[:, None] * dy
            dd_acc += tl.sum(dy * u, axis=1)
        if SOFTPLUS:
            ddt = ddt * softplus_grad(z)
        ddt = tl.where(m_dl, ddt, 0.0)
        if HAS_BIAS:
            dbias_acc += tl.sum(ddt, axis=1)
        tl.store(du_ptr + out_row[:, None] + t[None, :], du, mask=m_dl)
        tl.store(ddt_ptr + out_row[:, None] + t[None, :], ddt, mask=m_dl)
        tl.atomic_add(dc_ptr + grad_bc_rows[:, None] + t[None, :], tl.sum(hs * dy[:, None, :], axis=0), mask=m_nl,
                      sem="relaxed")
        tl.atomic_add(db_ptr + grad_bc_rows[:, None] + t[None, :], tl.sum(gs * dtu[:, None, :], axis=0), mask=m_nl,
                      sem="relaxed")

    part_row = bi * d_total + chan
    tl.store(da_ptr + part_row[:, None] * d_state + offs_n[None, :], da_acc, mask=mask_dn)
    if HAS_D:
        tl.store(dd_ptr + part_row, dd_acc, mask=mask_d)
    if HAS_BIAS:
        tl.store(dbias_ptr + part_row, dbias_acc, mask=mask_d)


# --------------------------------------------------------------------------------------------
# Launchers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanLaunchConfig:
    """Tile sizes of one launch. block_d channels share a B/C tile; block_l steps form one chunk
    (also the granularity of the states stored for backward). Powers of two."""

    block_d: int = 4
    block_l: int = 64
    num_warps: int = 4

    def __post_init__(self) -> None:
        for name in ("block_d", "block_l", "num_warps"):
            v = getattr(self, name)
            if v < 1 or v & (v - 1):
                raise ConfigError(f"{name} must be a positive power of two, got {v}")


SWEEP_TILES: tuple[tuple[int, int, int], ...] = (
    (1, 64, 4), (1, 128, 8), (2, 64, 4), (2, 64, 8), (2, 128, 8), (4, 32, 4), (4, 64, 8),
)
"""(block_d, block_l, num_warps) tried by benchmarks/gpu_omni_bench.py's tile sweep. Each is compiled for
sm_90 and sm_80 in CI (tests/scan/test_triton_aot.py) and must stay within SWEEP_SPILL_BUDGET; configs that
spilled hundreds of bytes in the backward kernels (block_l=256, (4, 128, 8), (1, 128, 4)) are left out."""

DEFAULT_SPILL_BUDGET = 0
SWEEP_SPILL_BUDGET = 32
"""Register spill stores (bytes per thread, from ptxas) allowed for the default tiles / any sweep config."""

TILES_ENV = "VMAMBAIR_TRITON_TILES"
"""Override the tile heuristic, e.g. ``block_d=2,block_l=128,num_warps=8`` (set by benchmarks/gpu_check.sh
after its sweep, so a whole-network benchmark runs the tiles measured best on that card)."""


def parse_config(text: str) -> ScanLaunchConfig:
    """``block_d=2,block_l=128,num_warps=8`` -> ScanLaunchConfig (missing keys keep their defaults)."""
    fields: dict[str, int] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = item.partition("=")
        if not sep or key.strip() not in ("block_d", "block_l", "num_warps") or not value.strip().isdigit():
            raise ConfigError(f"bad tile spec {text!r} (in ${TILES_ENV}?): expected e.g. block_d=2,block_l=128,num_warps=8")
        fields[key.strip()] = int(value)
    return ScanLaunchConfig(**fields)


def default_config(n_rows: int, length: int, d_state: int = 16) -> ScanLaunchConfig:
    """Tiles for ``n_rows`` = batch x channels sequences of ``length`` steps (or $VMAMBAIR_TRITON_TILES).

    More channels per program reuse B/C more but leave fewer programs: grow block_d only while at
    least ~2 programs per SM of a 132-SM card remain. Longer chunks mean fewer serial chunk steps.
    Register pressure bounds both (ptxas -v, sm_90/sm_80, tests/scan/test_triton_aot.py): 128-step
    chunks need 8 warps and one channel per program to keep the backward kernels spill-free, which
    (1, 128, 4), (2, 128, 8) and (4, 128, 8) are not. Speed is untuned until benchmarks/gpu_check.sh has
    measured it (see docs/performance.md).
    """
    override = os.environ.get(TILES_ENV, "").strip()
    if override:
        return parse_config(override)
    block_l = min(128 if length >= 4096 else 64, max(16, triton.next_power_of_2(length)))
    max_block_d = 1 if block_l >= 128 else 4
    block_d = 1
    while block_d < max_block_d and n_rows // (2 * block_d) >= 264:
        block_d *= 2
    elements = block_d * triton.next_power_of_2(d_state) * block_l
    return ScanLaunchConfig(block_d=block_d, block_l=block_l,
                            num_warps=8 if block_l >= 128 or elements >= 4096 else 4)


def launch_config(u: Tensor, A: Tensor) -> ScanLaunchConfig:
    """The tiles a launch on ``u`` (b, d, l) with ``A`` (d, n) uses when none are given."""
    b, d, length = u.shape
    return default_config(b * d, length, A.shape[1])


def check_runnable(*tensors: Tensor) -> None:
    """Triton runs CUDA tensors, or CPU tensors under the interpreter; anything else is a clear error."""
    dev = tensors[0].device
    if any(t.device != dev for t in tensors):
        raise InputError(f"all scan inputs must be on one device, got {sorted({str(t.device) for t in tensors})}")
    if dev.type == "cuda":
        return
    if dev.type == "cpu" and os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        return
    raise BackendUnavailableError(
        f"scan backend 'triton' needs CUDA tensors (got {dev.type}); on CPU use backend='reference', "
        "or set TRITON_INTERPRET=1 before importing vmambair to run the kernels in Triton's slow interpreter"
    )


def _check_inputs(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None,
                  delta_bias: Tensor | None) -> tuple[Tensor, Tensor]:
    """Validate shapes (``checks``), dtypes and device; return B, C as 4-D (b, g, n, l) views."""
    B4, C4 = check_scan_inputs(u, delta, A, B, C, D, delta_bias)
    for name, t in (("u", u), ("delta", delta), ("B", B4), ("C", C4)):
        if t.dtype not in SUPPORTED_DTYPES:
            raise InputError(
                f"the triton scan computes in float32 from float32/bfloat16/float16 inputs; {name} is {t.dtype} "
                "(use backend='reference' or 'sequential' for float64)"
            )
    if A.dtype not in SUPPORTED_DTYPES:
        raise InputError(f"A must be float32 (or bf16/fp16), got {A.dtype}")
    check_runnable(*[t for t in (u, delta, A, B4, C4, D, delta_bias) if t is not None])
    return B4, C4


def scan_fwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None,
             delta_bias: Tensor | None, delta_softplus: bool, *, store_states: bool,
             config: ScanLaunchConfig | None = None) -> tuple[Tensor, Tensor | None, ScanLaunchConfig]:
    """Launch the forward kernel. B, C: (b, g, n, l). Returns (y, entry states or None, config)."""
    b, d, length = u.shape
    g, n = B.shape[1], A.shape[1]
    d_per_group = d // g
    cfg = config or launch_config(u, A)
    n_chunks = triton.cdiv(length, cfg.block_l)
    y = torch.empty_like(u, memory_format=torch.contiguous_format)
    states = u.new_empty((b, d, n_chunks, n), dtype=torch.float32) if store_states else None
    dummy = u.new_empty(1, dtype=torch.float32)
    grid = (b * g, triton.cdiv(d_per_group, cfg.block_d))
    with device_guard(u):
        _selective_scan_fwd_kernel[grid](
            u, delta, A, B, C, D if D is not None else dummy, delta_bias if delta_bias is not None else dummy,
            y, states if states is not None else dummy,
            g, d_per_group, length, n, n_chunks,
            *u.stride(), *delta.stride(), *A.stride(), *B.stride(), *C.stride(), *y.stride(),
            HAS_D=D is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=bool(delta_softplus),
            STORE_STATES=store_states,
            BLOCK_D=cfg.block_d, BLOCK_N=triton.next_power_of_2(n), BLOCK_L=cfg.block_l, num_warps=cfg.num_warps,
        )
    return y, states, cfg


def scan_bwd(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None,
             delta_bias: Tensor | None, delta_softplus: bool, dy: Tensor, states: Tensor,
             config: ScanLaunchConfig) -> tuple[Tensor, ...]:
    """Launch the backward kernel. Returns fp32 (du, ddelta, dA, dB, dC, dD|None, ddelta_bias|None)."""
    b, d, length = u.shape
    g, n = B.shape[1], A.shape[1]
    d_per_group = d // g
    n_chunks = states.shape[2]
    f32 = dict(dtype=torch.float32, device=u.device)
    du = torch.empty((b, d, length), **f32)
    ddelta = torch.empty((b, d, length), **f32)
    da = torch.empty((b, d, n), **f32)
    db = torch.zeros((b, g, n, length), **f32)
    dc = torch.zeros((b, g, n, length), **f32)
    dd = torch.empty((b, d), **f32)
    dbias = torch.empty((b, d), **f32)
    dummy = torch.empty(1, **f32)
    grid = (b * g, triton.cdiv(d_per_group, config.block_d))
    with device_guard(u):
        _selective_scan_bwd_kernel[grid](
            u, delta, A, B, C, D if D is not None else dummy, delta_bias if delta_bias is not None else dummy,
            dy, states, du, ddelta, da, db, dc, dd, dbias,
            g, d_per_group, length, n, n_chunks,
            *u.stride(), *delta.stride(), *A.stride(), *B.stride(), *C.stride(), *dy.stride(),
            HAS_D=D is not None, HAS_BIAS=delta_bias is not None, SOFTPLUS=bool(delta_softplus),
            BLOCK_D=config.block_d, BLOCK_N=triton.next_power_of_2(n), BLOCK_L=config.block_l,
            num_warps=config.num_warps,
        )
    return (du, ddelta, da.sum(0), db, dc, dd.sum(0) if D is not None else None,
            dbias.sum(0) if delta_bias is not None else None)


# --------------------------------------------------------------------------------------------
# Autograd
# --------------------------------------------------------------------------------------------


class SelectiveScanTritonFn(torch.autograd.Function):
    """Autograd wrapper: the forward keeps u, delta, A, B, C, D, bias and the chunk-entry states."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, delta_bias, delta_softplus, config):  # type: ignore[override]
        squeeze_b, squeeze_c = B.dim() == 3, C.dim() == 3
        B4, C4 = _check_inputs(u, delta, A, B, C, D, delta_bias)
        needs_grad = any(ctx.needs_input_grad[:7])
        y, states, cfg = scan_fwd(u, delta, A, B4, C4, D, delta_bias, delta_softplus,
                                  store_states=needs_grad, config=config)
        if needs_grad:
            ctx.save_for_backward(u, delta, A, B4, C4, D, delta_bias, states)
        ctx.meta = (bool(delta_softplus), cfg, squeeze_b, squeeze_c)
        return y

    @staticmethod
    def backward(ctx, dy):  # type: ignore[override]
        u, delta, A, B4, C4, D, delta_bias, states = ctx.saved_tensors
        use_softplus, cfg, squeeze_b, squeeze_c = ctx.meta
        du, ddelta, da, db, dc, dd, dbias = scan_bwd(u, delta, A, B4, C4, D, delta_bias, use_softplus, dy, states, cfg)
        db = db.squeeze(1) if squeeze_b else db
        dc = dc.squeeze(1) if squeeze_c else dc
        return (
            du.to(u.dtype), ddelta.to(delta.dtype), da.to(A.dtype), db.to(B4.dtype), dc.to(C4.dtype),
            dd.to(D.dtype) if dd is not None else None,
            dbias.to(delta_bias.dtype) if dbias is not None else None,
            None, None,
        )


def selective_scan_triton(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    *,
    config: ScanLaunchConfig | None = None,
) -> Tensor:
    """Selective scan on the Triton kernels; same signature and semantics as the references.

    u, delta: (b, d, l) fp32/bf16/fp16; A: (d, n); B, C: (b, g, n, l) or (b, n, l); D, delta_bias:
    (d,) or None. Returns (b, d, l) in u's dtype. ``config`` (keyword only) overrides the tile sizes.
    """
    return SelectiveScanTritonFn.apply(u, delta, A, B, C, D, delta_bias, delta_softplus, config)


__all__ = ["DEFAULT_SPILL_BUDGET", "SWEEP_SPILL_BUDGET", "SWEEP_TILES", "TILES_ENV", "ScanLaunchConfig",
           "SelectiveScanTritonFn", "default_config", "launch_config", "parse_config", "scan_bwd", "scan_fwd", "selective_scan_triton"]
