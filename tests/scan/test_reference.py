"""The two reference scans (plain loop, chunked log-space) against an independent float64 loop.

The yardstick below is written from the kernel semantics in ``docs/architecture.md`` §3
without touching the library: explicit group index per channel, softplus by its formula with the
threshold at 20, one state update per time step.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch import Tensor

from vmambair_core.errors import ConfigError, InputError
from vmambair_core.scan.reference import (
    plan_chunks,
    selective_scan_chunked,
    selective_scan_sequential,
)

SCANS = {"sequential": selective_scan_sequential, "chunked": selective_scan_chunked}


def loop_f64(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None,
             delta_bias: Tensor | None, softplus: bool) -> Tensor:
    """h_t = exp(dt_t A) h_{t-1} + dt_t u_t B_t,  y_t = <C_t, h_t> + D u_t, all in float64."""
    f = torch.float64
    u, delta, A = u.to(f), delta.to(f), A.to(f)
    B = (B if B.dim() == 4 else B[:, None]).to(f)
    C = (C if C.dim() == 4 else C[:, None]).to(f)
    b, d, length = u.shape
    group = torch.arange(d) // (d // B.shape[1])  # channel c reads group c // (d / g)
    Bc, Cc = B[:, group], C[:, group]  # (b, d, n, l), gathered copies
    dt = delta + (delta_bias.to(f)[:, None] if delta_bias is not None else 0.0)
    if softplus:
        dt = torch.where(dt <= 20.0, torch.log1p(torch.exp(dt)), dt)
    h = torch.zeros(b, d, A.shape[1], dtype=f)
    y = torch.empty(b, d, length, dtype=f)
    for t in range(length):
        h = torch.exp(dt[:, :, t, None] * A) * h + (dt[:, :, t] * u[:, :, t])[:, :, None] * Bc[..., t]
        y[:, :, t] = (Cc[..., t] * h).sum(-1)
    if D is not None:
        y = y + D.to(f)[:, None] * u
    return y


def make_inputs(b: int, d: int, n: int, length: int, g: int | None, *, seed: int = 0, dt_shift: float = -1.0,
                a_max: float = 4.0, dtype: torch.dtype = torch.float64) -> dict[str, Tensor]:
    """Random scan inputs; ``g=None`` gives the 3-D (b, n, l) B/C form. A is float32 unless dtype is f64."""
    gen = torch.Generator().manual_seed(seed)
    bc = (b, n, length) if g is None else (b, g, n, length)
    pdt = torch.float64 if dtype == torch.float64 else torch.float32
    return {
        "u": torch.randn(b, d, length, generator=gen, dtype=torch.float64).to(dtype),
        "delta": (torch.randn(b, d, length, generator=gen, dtype=torch.float64) * 0.5 + dt_shift).to(dtype),
        "A": -torch.rand(d, n, generator=gen, dtype=torch.float64).mul(a_max - 0.1).add(0.1).to(pdt),
        "B": torch.randn(*bc, generator=gen, dtype=torch.float64).to(dtype),
        "C": torch.randn(*bc, generator=gen, dtype=torch.float64).to(dtype),
        "D": torch.randn(d, generator=gen, dtype=torch.float64).to(pdt),
        "delta_bias": (torch.rand(d, generator=gen, dtype=torch.float64) - 0.5).to(pdt),
    }


def call(fn, x: dict[str, Tensor], use_d: bool = True, use_bias: bool = True, softplus: bool = True, **kw) -> Tensor:
    if not softplus:  # dt = delta + bias must be >= 0 or the true state explodes
        x = {**x, "delta": x["delta"].abs(), "delta_bias": x["delta_bias"].abs()}
    return fn(x["u"], x["delta"], x["A"], x["B"], x["C"], x["D"] if use_d else None,
              x["delta_bias"] if use_bias else None, softplus, **kw)


def rel_err(y: Tensor, ref: Tensor) -> float:
    y, ref = y.detach().double(), ref.detach().double()
    return float((y - ref).abs().max() / ref.abs().max().clamp_min(1e-300))


# (D, delta_bias, softplus): each flag on and off, each pair of values seen once (orthogonal array)
FLAGS = [(False, False, False), (False, True, True), (True, False, True), (True, True, False)]


@pytest.mark.parametrize("g", [1, 2, 4])
@pytest.mark.parametrize("length", [1, 7, 129, 300])
def test_both_scans_match_independent_float64_loop(g: int, length: int) -> None:
    """float64: < 1e-10, float32: < 1e-5, for every flag combination; lengths cross chunk borders."""
    x64 = make_inputs(2, 8, 5, length, g, seed=length * 10 + g)
    x32 = {k: v.float() for k, v in x64.items()}
    for use_d, use_bias, softplus in FLAGS:
        ref = call(loop_f64, x64, use_d, use_bias, softplus)
        for name, fn in SCANS.items():
            y64 = call(fn, x64, use_d, use_bias, softplus)
            y32 = call(fn, x32, use_d, use_bias, softplus)
            assert y64.dtype == torch.float64 and y32.dtype == torch.float32
            assert y64.shape == ref.shape
            assert rel_err(y64, ref) < 1e-10, (name, use_d, use_bias, softplus)
            assert rel_err(y32, ref) < 1e-5, (name, use_d, use_bias, softplus)
        for chunk in (1, 16):  # many chunk borders, incl. one step per chunk
            y = call(selective_scan_chunked, x64, use_d, use_bias, softplus, chunk_size=chunk)
            assert rel_err(y, ref) < 1e-10, (chunk, use_d, use_bias, softplus)


@pytest.mark.parametrize("name", list(SCANS))
def test_three_dim_bc_is_one_group(name: str) -> None:
    x = make_inputs(2, 6, 4, 70, None, seed=1)
    ref = loop_f64(*(x[k] for k in ("u", "delta", "A", "B", "C", "D", "delta_bias")), True)
    y = call(SCANS[name], x, chunk_size=32) if name == "chunked" else call(SCANS[name], x)
    assert rel_err(y, ref) < 1e-10
    x4 = {**x, "B": x["B"][:, None], "C": x["C"][:, None]}
    assert torch.equal(call(SCANS[name], x4), call(SCANS[name], x))


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_large_dt_stress_stays_finite_and_exact(dtype: torch.dtype, tol: float) -> None:
    """delta around +3 and |A| up to 16: up to ~70 nats of decay per step, more than the float32
    chunk limit in a single step; a naive cumulative product over 128 steps would overflow."""
    x64 = make_inputs(2, 8, 16, 300, 2, seed=7, dt_shift=3.0, a_max=16.0)
    x = {k: v.to(dtype) for k, v in x64.items()}
    dt = torch.nn.functional.softplus(x["delta"] + x["delta_bias"][:, None])
    steps = dt.abs() * x["A"].abs().amax(-1)[:, None]
    assert float(steps.max()) > 60.0  # the stress really is beyond one float32 chunk
    ref = loop_f64(*(x64[k] for k in ("u", "delta", "A", "B", "C", "D", "delta_bias")), True)
    for name, fn in SCANS.items():
        y = call(fn, x)
        assert torch.isfinite(y).all(), name
        assert rel_err(y, ref) < tol, name


def test_plan_chunks_cover_the_sequence_and_keep_every_block_within_the_decay_limit() -> None:
    gen = torch.Generator().manual_seed(0)
    dt = torch.rand(2, 3, 500, generator=gen) * torch.linspace(0.01, 5.0, 500)  # decay grows along l
    A = -torch.rand(3, 4, generator=gen) * 8
    limit, size = 40.0, 128
    plan = plan_chunks(dt, A, size, limit)
    assert_valid(plan, dt, A, size, limit)
    assert min(k for *_, k in plan) < 8  # the fast end really was cut into short blocks
    assert len(plan) <= 500 // size + 3  # ... but chunks stay long (only tails are split off)
    # small decays: uniform chunks of one block, the last one shorter
    assert plan_chunks(dt * 1e-4, A, 128, limit) == [(0, 128, 128), (128, 256, 128), (256, 384, 128), (384, 500, 116)]
    # a single step far beyond the limit is fine on its own: blocks of one step
    huge = torch.full((1, 3, 10), 1e4)
    assert plan_chunks(huge, A, 4, limit) == [(0, 4, 1), (4, 8, 1), (8, 10, 1)]
    # NaN in one channel must not switch the shortening off for the others
    dt_nan = dt.clone()
    dt_nan[0, 0, 10] = float("nan")
    assert_valid(plan_chunks(dt_nan, A, size, limit), dt_nan.nan_to_num(0.0), A, size, limit)


def assert_valid(plan: list[tuple[int, int, int]], dt: Tensor, A: Tensor, size: int, limit: float) -> None:
    assert plan[0][0] == 0 and plan[-1][1] == dt.shape[-1]
    assert all(a[1] == b[0] for a, b in itertools.pairwise(plan))
    step = (dt.abs() * A.abs().amax(-1)[:, None]).amax(dim=(0, 1))
    for t0, t1, k in plan:
        assert 1 <= t1 - t0 <= size and (t1 - t0) % k == 0
        for s in range(t0, t1, k):
            assert float(step[s + 1:s + k].sum()) <= limit * (1 + 1e-6)  # the first step of a block is free


def test_bad_arguments_are_typed_errors() -> None:
    x = make_inputs(1, 4, 2, 5, 2)
    with pytest.raises(ConfigError, match="chunk_size"):
        call(selective_scan_chunked, x, chunk_size=0)
    bad = {
        "delta": x["delta"][..., :4],
        "A": x["A"][:3],
        "B": torch.randn(1, 3, 2, 5, dtype=torch.float64),  # 4 channels in 3 groups
        "C": x["C"][..., :4],
        "D": x["D"][:2],
    }
    for name, value in bad.items():
        with pytest.raises(InputError, match=name if name != "delta" else "u and delta"):
            call(selective_scan_chunked, {**x, name: value})


@pytest.mark.parametrize("name", list(SCANS))
def test_bf16_inputs_give_bf16_close_to_fp32(name: str) -> None:
    """Only the output rounding differs: state and exp run in float32 on the upcast bf16 values."""
    x = make_inputs(2, 8, 16, 150, 4, seed=3, dtype=torch.bfloat16)
    assert x["u"].dtype == torch.bfloat16 and x["A"].dtype == torch.float32
    y = call(SCANS[name], x)
    assert y.dtype == torch.bfloat16
    y32 = call(SCANS[name], {k: v.float() for k, v in x.items()})
    assert rel_err(y, y32) < 8e-3
    assert rel_err(y, y32) > 0  # it really was rounded


@pytest.mark.parametrize("name", list(SCANS))
def test_gradcheck_tiny_float64(name: str) -> None:
    """Every input requires grad; chunk_size 3 over l=7 exercises the carried state in backward."""
    x = make_inputs(1, 4, 3, 7, 2, seed=5)
    leaves = [x[k].requires_grad_() for k in ("u", "delta", "A", "B", "C", "D", "delta_bias")]
    kw = {"chunk_size": 3} if name == "chunked" else {}
    assert torch.autograd.gradcheck(lambda *t: SCANS[name](*t, True, **kw), leaves)


def grads(fn, x: dict[str, Tensor], dy: Tensor, **kw) -> tuple[Tensor, dict[str, Tensor]]:
    leaves = {k: v.detach().clone().requires_grad_() for k, v in x.items()}
    y = call(fn, leaves, **kw)
    (y * dy).sum().backward()
    return y, {k: v.grad for k, v in leaves.items()}


@pytest.mark.parametrize("dt_shift,a_max", [(-1.0, 4.0), (3.0, 16.0)])
def test_chunked_gradients_equal_sequential_gradients(dt_shift: float, a_max: float) -> None:
    """Medium case in float64 (several chunks, groups) and the float32 large-dt stress case."""
    x = make_inputs(2, 8, 6, 200, 2, seed=11, dt_shift=dt_shift, a_max=a_max)
    dy = torch.randn(2, 8, 200, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    y_ref, g_ref = grads(selective_scan_sequential, x, dy)
    for kw in ({}, {"chunk_size": 48}):
        y, g = grads(selective_scan_chunked, x, dy, **kw)
        assert rel_err(y, y_ref) < 1e-10
        for k, ref in g_ref.items():
            assert rel_err(g[k], ref) < 1e-9, (k, kw)
    x32 = {k: v.float() for k, v in x.items()}
    _, g32 = grads(selective_scan_chunked, x32, dy.float())
    for k, ref in g_ref.items():
        assert torch.isfinite(g32[k]).all(), k
        assert rel_err(g32[k], ref) < 1e-4, k
