"""The compiled CPU scan (numba) against the float64 references: outputs, every gradient, threads, fallback.

The kernels compile once per machine (numba's cache=True); later runs load them in about a second.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from vmambair_core.errors import InputError
from vmambair_core.scan import (
    availability, clear_backend_cache, resolve_backend, selective_scan, selective_scan_sequential,
)
from vmambair_core.scan.cross_scan import planar_scan, planar_scan_unfused

pytestmark = pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba is not installed")

REL = 1e-5  # fp32 kernels against float64 ground truth, relative to the largest magnitude


def rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    return float((got.detach().double() - ref.detach()).abs().max() / ref.detach().abs().max().clamp_min(1e-30))


def scan_inputs(b: int, d: int, g: int, n: int, length: int, *, dt_scale: float = 1.0, seed: int = 0,
                three_d: bool = False) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    f64 = dict(dtype=torch.float64, generator=gen)
    shape_bc = (b, n, length) if three_d else (b, g, n, length)
    return [
        torch.randn(b, d, length, **f64),
        torch.randn(b, d, length, **f64) * dt_scale,
        -torch.rand(d, n, **f64) * 3 - 0.1,
        torch.randn(*shape_bc, **f64),
        torch.randn(*shape_bc, **f64),
        torch.randn(d, **f64),
        torch.randn(d, **f64),
    ]


def check_against_sequential(args: list[torch.Tensor | None], softplus: bool) -> None:
    leaves64 = [a.clone().requires_grad_() if a is not None else None for a in args]
    y64 = selective_scan_sequential(*leaves64, softplus)
    gy = torch.randn(y64.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y64.backward(gy)
    leaves = [a.float().clone().requires_grad_() if a is not None else None for a in args]
    y = selective_scan(*leaves, softplus, backend="numba")
    assert y.dtype == torch.float32
    assert rel_err(y, y64) < REL
    y.backward(gy.float())
    for name, got, ref in zip(("u", "delta", "A", "B", "C", "D", "delta_bias"), leaves, leaves64):
        if ref is not None:
            assert rel_err(got.grad, ref.grad) < REL, name


@pytest.mark.parametrize("length", [1, 37, 131])  # one step, under one chunk, over two chunks (64)
@pytest.mark.parametrize("g", [1, 3])
def test_scan_and_gradients_match_float64(length: int, g: int) -> None:
    check_against_sequential(scan_inputs(2, 6, g, 5, length), softplus=True)


def test_no_softplus_no_d_no_bias_and_ungrouped_3d_bc() -> None:
    u, delta, A, B, C, _, _ = scan_inputs(2, 4, 1, 3, 45, three_d=True)
    check_against_sequential([u, delta.abs() * 0.5, A, B, C, None, None], softplus=False)


def test_large_dt_decays_to_zero_without_nan() -> None:
    """dt up to ~100: exp(dt * A) underflows (fexp returns 0) and the state restarts every step."""
    args = scan_inputs(1, 4, 2, 4, 70, dt_scale=40.0)
    check_against_sequential(args, softplus=True)


def planar_params(c: int, n: int, r: int, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    f64 = dict(dtype=torch.float64, generator=gen)
    return [
        torch.randn(4, r + 2 * n, c, **f64) * c**-0.5,
        torch.randn(4, c, r, **f64) * r**-0.5,
        torch.randn(4, c, **f64) - 2,
        torch.log(torch.rand(4 * c, n, **f64) * 4 + 0.5),
        torch.randn(4 * c, **f64),
    ]


@pytest.mark.parametrize("blocked", [False, True], ids=["plain", "channel-blocked"])
@pytest.mark.parametrize("hw", [(5, 7), (9, 11), (1, 1)])
def test_fused_planar_scan_matches_unfused_float64(hw: tuple[int, int], blocked: bool,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The four directions read in place (index arithmetic) equal the authors' materialised copies.

    ``blocked``: the long-sequence forward kernel (several channels per task), forced on small maps;
    its 6 channels split into groups of 4 and 2 (a partial last group)."""
    from vmambair_core.scan import numba_scan  # noqa: PLC0415

    if blocked:
        monkeypatch.setattr(numba_scan, "BLOCKED_MIN_LENGTH", 0)
        monkeypatch.setattr(numba_scan, "_forward_channel_group", lambda b, c, length: 4)
    h, w = hw
    c, n, r = 6, 4, 2
    gen = torch.Generator().manual_seed(2)
    x64 = torch.randn(2, c, h, w, dtype=torch.float64, generator=gen).requires_grad_()
    p64 = [p.requires_grad_() for p in planar_params(c, n, r)]
    y64 = planar_scan_unfused(x64, *p64, backend="sequential")
    gy = torch.randn(y64.shape, dtype=torch.float64, generator=gen)
    y64.backward(gy)
    x = x64.detach().float().requires_grad_()
    ps = [p.detach().float().requires_grad_() for p in p64]
    y = planar_scan(x, *ps, backend="numba")
    assert y.shape == (2, c, h, w) and y.dtype == torch.float32
    assert rel_err(y, y64) < REL
    y.backward(gy.float())
    for name, got, ref in zip(("x", "x_proj", "dt_projs", "dt_bias", "A_logs", "Ds"), [x, *ps], [x64, *p64]):
        assert rel_err(got.grad, ref.grad) < REL, name


def test_inference_step_sizes_in_chunks_match_float64(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under no_grad the planar scan builds dt chunk by chunk of pixels (cache-sized): same result."""
    from vmambair_core.scan import numba_scan  # noqa: PLC0415

    monkeypatch.setattr(numba_scan, "DT_CHUNK", 13)  # 9 x 11 = 99 pixels: 8 chunks, the last partial
    c, n, r = 6, 4, 2
    gen = torch.Generator().manual_seed(3)
    x64 = torch.randn(2, c, 9, 11, dtype=torch.float64, generator=gen)
    p64 = planar_params(c, n, r)
    y64 = planar_scan_unfused(x64, *p64, backend="sequential")
    with torch.no_grad():
        y = planar_scan(x64.float(), *[p.float() for p in p64], backend="numba")
    assert rel_err(y, y64) < REL


def test_bf16_input_is_upcast_and_keeps_its_dtype() -> None:
    args = [a.float() for a in scan_inputs(1, 4, 2, 4, 20)]
    args[0] = args[0].bfloat16()
    y = selective_scan(*args, True, backend="numba")
    assert y.dtype == torch.bfloat16
    ref = selective_scan_sequential(args[0].double(), *[a.double() for a in args[1:]], True)
    assert rel_err(y.float(), ref) < 1e-2  # the output is rounded to bf16 (8 bits)


def test_float64_is_refused_with_a_pointer_to_the_reference() -> None:
    with pytest.raises(InputError, match="reference"):
        selective_scan(*scan_inputs(1, 2, 1, 2, 5), True, backend="numba")
    assert resolve_backend("auto", "cpu", torch.float64) == "reference"


def test_results_do_not_depend_on_the_thread_count() -> None:
    """Forward: each (batch, channel) task is the same code whatever the threads; backward: the
    dB/dC partial sums over channel blocks follow the thread count, so only rounding may differ."""
    c, n, r = 8, 4, 2
    gen = torch.Generator().manual_seed(3)
    x0 = torch.randn(2, c, 6, 5, generator=gen)
    params0 = [p.float() for p in planar_params(c, n, r)]
    results = []
    old = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            x = x0.clone().requires_grad_()
            ps = [p.clone().requires_grad_() for p in params0]
            y = planar_scan(x, *ps, backend="numba")
            y.square().sum().backward()
            results.append([y.detach(), x.grad] + [p.grad for p in ps])
    finally:
        torch.set_num_threads(old)
    for one, two in zip(*results):
        torch.testing.assert_close(one, two, rtol=1e-6, atol=1e-6 * float(one.abs().max()))


def test_fexp_error_bound() -> None:
    """fexp's documented bound: relative error < 1.5e-7 (about 1 ulp) over [-87, 88] vs float64 exp;
    0 below -87, inf above 88, NaN stays NaN."""
    from vmambair_core.scan.numba_kernels import _vexp

    x = np.concatenate([np.linspace(-87, 88, 400_001), np.linspace(-1, 1, 100_001)]).astype(np.float32)
    out = np.empty_like(x)
    _vexp(x, out)
    ref = np.exp(x.astype(np.float64))
    assert float((np.abs(out - ref) / ref).max()) < 1.5e-7
    edge = np.array([np.nan, -np.inf, -100.0, -87.5, 88.5, np.inf, 0.0], dtype=np.float32)
    got = np.empty_like(edge)
    _vexp(edge, got)
    assert np.isnan(got[0]) and list(got[1:]) == [0.0, 0.0, 0.0, np.inf, np.inf, 1.0]


@pytest.fixture
def fresh_probe():
    """Forget auto's cached choice and the CPU probe, so each test sees its own monkeypatched world."""
    clear_backend_cache()
    yield
    clear_backend_cache()


def test_auto_on_cpu_is_numba_when_it_works(fresh_probe: None) -> None:
    assert availability.cpu_backend() == ("numba", None)
    assert resolve_backend("auto", "cpu") == "numba" == resolve_backend("auto", "cpu", torch.bfloat16)
    assert availability.backend_status("cpu")["numba"] is None
    assert availability.backend_status("cuda")["numba"] is not None


def test_auto_falls_back_when_numba_is_missing(fresh_probe: None, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numba" else real(name, *a))
    name, reason = availability.cpu_backend()
    assert name == "reference" and "pip install numba" in reason
    assert resolve_backend("auto", "cpu") == "reference"
    assert availability.backend_status("cpu")["numba"] == reason


def test_auto_falls_back_when_the_kernels_fail_to_compile(fresh_probe: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from vmambair_core.scan import numba_scan

    def broken() -> None:
        raise RuntimeError("Failed in nopython mode pipeline (step: native lowering)\nmore detail")

    monkeypatch.setattr(numba_scan, "probe", broken)
    name, reason = availability.cpu_backend()
    assert name == "reference"
    assert "RuntimeError: Failed in nopython mode" in reason and "\n" not in reason
    x = [a.float() for a in scan_inputs(1, 2, 1, 2, 9)]
    ref = selective_scan_sequential(*x, True)
    assert rel_err(selective_scan(*x, True), ref.double()) < REL  # auto runs the reference


def test_training_after_inference_on_the_same_map_size() -> None:
    """The per-size index tables are cached; one first built under inference_mode must not break a
    later differentiable call (autograd refuses to save inference tensors)."""
    c, n, r = 4, 2, 1
    ps = [p.float().requires_grad_() for p in planar_params(c, n, r)]
    x = torch.randn(1, c, 3, 13)
    with torch.inference_mode():
        planar_scan(x, *ps, backend="numba")
        selective_scan(*[a.float() for a in scan_inputs(1, 2, 1, 2, 29)], True, backend="numba")
    planar_scan(x, *ps, backend="numba").sum().backward()
    args = [a.float().requires_grad_() for a in scan_inputs(1, 2, 1, 2, 29)]
    selective_scan(*args, True, backend="numba").sum().backward()
    assert all(p.grad is not None for p in ps + args)
