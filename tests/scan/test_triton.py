"""Triton selective scan vs the float64 sequential loop: outputs and every gradient.

Without a GPU the kernels run in Triton's interpreter on CPU tensors (TRITON_INTERPRET=1 must be set
before triton is imported, hence the top of this module). The interpreter runs programs one by one
in numpy, so shapes are toys; tile sizes are shrunk so that every code path still runs: several
chunks (L > block_l), channel blocks that overhang a group (masking), non-power-of-two d_state.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

pytest.importorskip("triton", reason="triton is not installed (pip install 'vmambair[triton]')")

from vmambair_core.errors import BackendUnavailableError, InputError  # noqa: E402
from vmambair_core.models import tiny_config  # noqa: E402
from vmambair_core.models.oss import OmniSelectiveScan  # noqa: E402
from vmambair_core.scan import selective_scan  # noqa: E402
from vmambair_core.scan.reference import selective_scan_sequential  # noqa: E402
from vmambair_core.scan.triton_scan import ScanLaunchConfig, selective_scan_triton  # noqa: E402

pytestmark = pytest.mark.triton

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
TINY = ScanLaunchConfig(block_d=2, block_l=8)


@pytest.fixture(autouse=True)
def _interpreter_active() -> None:
    if DEVICE == "cpu":
        from triton.runtime.interpreter import InterpretedFunction  # noqa: PLC0415

        from vmambair_core.scan import triton_scan  # noqa: PLC0415

        if not isinstance(triton_scan._selective_scan_fwd_kernel, InterpretedFunction):
            pytest.skip("triton kernels were compiled for GPU before TRITON_INTERPRET=1 was set; run this module "
                        "alone or export TRITON_INTERPRET=1")


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    return float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def make_inputs(b: int, d: int, length: int, n: int, g: int | None, *, seed: int = 0, dt_shift: float = 0.0,
                with_d: bool = True, with_bias: bool = True) -> list[torch.Tensor | None]:
    """float64 leaf tensors; g=None gives 3-D (b, n, l) B/C."""
    gen = torch.Generator().manual_seed(seed)
    f64 = dict(dtype=torch.float64)
    bc_shape = (b, n, length) if g is None else (b, g, n, length)
    u = torch.randn(b, d, length, generator=gen, **f64)
    delta = torch.randn(b, d, length, generator=gen, **f64) * 0.5 + dt_shift
    A = -torch.exp(torch.randn(d, n, generator=gen, **f64) * 0.5)
    B = torch.randn(*bc_shape, generator=gen, **f64)
    C = torch.randn(*bc_shape, generator=gen, **f64)
    D = torch.randn(d, generator=gen, **f64) if with_d else None
    bias = torch.randn(d, generator=gen, **f64) * 0.5 if with_bias else None
    return [t.requires_grad_() if t is not None else None for t in (u, delta, A, B, C, D, bias)]


def run_both(inputs: list[torch.Tensor | None], softplus: bool, dtype: torch.dtype, config: ScanLaunchConfig = TINY):
    """(y_ref, grads_ref, y, grads) with the reference fed exactly the values the kernel sees."""
    names = ["u", "delta", "A", "B", "C", "D", "delta_bias"]
    low = [t.detach().to(dtype if i in (0, 1, 3, 4) else torch.float32).to(DEVICE).requires_grad_()
           if t is not None else None for i, t in enumerate(inputs)]
    ref_in = [t.detach().cpu().double().requires_grad_() if t is not None else None for t in low]
    y_ref = selective_scan_sequential(*ref_in, softplus)
    dy = torch.randn(y_ref.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    leaves_ref = [t for t in ref_in if t is not None]
    g_ref = dict(zip([n for n, t in zip(names, ref_in) if t is not None],
                     torch.autograd.grad(y_ref, leaves_ref, dy), strict=True))
    y = selective_scan_triton(*low, softplus, config=config)
    leaves = [t for t in low if t is not None]
    g = dict(zip([n for n, t in zip(names, low) if t is not None],
                 torch.autograd.grad(y, leaves, dy.to(y.dtype).to(DEVICE)), strict=True))
    return y_ref, g_ref, y, g


@pytest.mark.parametrize(
    ("b", "d", "length", "n", "g"),
    [
        (2, 6, 21, 3, 2),  # 3 chunks of 8, 3 channels per group over blocks of 2, n not a power of 2
        (1, 4, 8, 4, 4),  # one chunk exactly, one channel per group (the sisr/derain channel-scan shape)
        (2, 2, 13, 4, 2),  # realsr's channel scan: 2 directions x 1 channel, sequence = the C channels
    ],
)
def test_fp32_matches_float64_loop_outputs_and_all_grads(b: int, d: int, length: int, n: int, g: int) -> None:
    y_ref, g_ref, y, grads = run_both(make_inputs(b, d, length, n, g), True, torch.float32)
    assert y.dtype == torch.float32 and y.shape == (b, d, length)
    assert rel_err(y, y_ref) < 2e-6
    assert set(grads) == {"u", "delta", "A", "B", "C", "D", "delta_bias"}
    for name, ref in g_ref.items():
        assert grads[name].shape == ref.shape, name
        assert rel_err(grads[name], ref) < 1e-5, name


def test_ungrouped_bc_no_d_no_bias_no_softplus() -> None:
    inputs = make_inputs(2, 3, 11, 4, None, seed=1, with_d=False, with_bias=False)
    inputs[1] = inputs[1].detach().abs().add(0.05).requires_grad_()  # raw delta must be a valid step
    y_ref, g_ref, y, grads = run_both(inputs, False, torch.float32)
    assert rel_err(y, y_ref) < 2e-6
    assert set(grads) == {"u", "delta", "A", "B", "C"}
    assert grads["B"].shape == (2, 4, 11)
    for name, ref in g_ref.items():
        assert rel_err(grads[name], ref) < 1e-5, name


def test_fast_decays_and_large_steps_stay_finite_and_exact() -> None:
    """dt shifted by +3 (decay up to ~e^-30 per step) and some delta above the softplus threshold."""
    inputs = make_inputs(1, 4, 19, 4, 1, seed=2, dt_shift=3.0)
    with torch.no_grad():
        inputs[1][0, 0, ::3] = 25.0  # > 20: softplus is the identity there
    y_ref, g_ref, y, grads = run_both(inputs, True, torch.float32)
    assert torch.isfinite(y).all()
    assert rel_err(y, y_ref) < 2e-6
    for name, ref in g_ref.items():
        assert rel_err(grads[name], ref) < 2e-5, name


def test_bf16_inputs_fp32_state() -> None:
    """bf16 u/delta/B/C: the kernel upcasts and keeps the state in fp32; the only error left is the
    bf16 rounding of the output and of the returned gradients (~2^-8 relative)."""
    y_ref, g_ref, y, grads = run_both(make_inputs(2, 4, 21, 4, 2, seed=3), True, torch.bfloat16)
    assert y.dtype == torch.bfloat16
    assert rel_err(y, y_ref) < 8e-3
    for name, ref in g_ref.items():
        assert grads[name].dtype == (torch.bfloat16 if name in ("u", "delta", "B", "C") else torch.float32)
        assert rel_err(grads[name], ref) < 1.5e-2, name


def test_default_config_and_entry_point() -> None:
    """No config: the heuristic tiles (block_l up to 64) over an L that is not a multiple of it."""
    inputs = [t.detach().float().to(DEVICE) for t in make_inputs(1, 2, 70, 4, 1, seed=4)]
    y = selective_scan(*inputs, True, backend="triton")
    ref = selective_scan_sequential(*[t.double().cpu() for t in inputs], True)
    assert rel_err(y, ref) < 2e-6


@pytest.mark.slow
def test_oss_module_with_triton_matches_float64_sequential() -> None:
    """The whole OSS module (fused planar scan + the 2-direction channel scan through the generic
    kernel) against the same module in float64 on the sequential loop, outputs and parameter grads."""
    for preset in ("realsr", "sisr"):
        torch.manual_seed(0)
        cfg = replace(tiny_config(preset, dim=4), d_state=4)
        ref = OmniSelectiveScan(4, cfg).double()
        ref.scan_backend = "sequential"
        fast = OmniSelectiveScan(4, cfg).to(DEVICE)
        fast.load_state_dict({k: v.float() for k, v in ref.state_dict().items()})
        fast.scan_backend = "triton"
        x = torch.randn(2, 4, 3, 5, dtype=torch.float64)
        y_ref = ref(x)
        y = fast(x.float().to(DEVICE))
        assert rel_err(y, y_ref) < 5e-5, preset
        dy = torch.randn_like(y_ref)
        (y_ref * dy).sum().backward()
        (y * dy.float().to(DEVICE)).sum().backward()
        params = dict(fast.named_parameters())
        scale = max(float(p.grad.abs().max()) for p in ref.parameters())
        for name, p in ref.named_parameters():
            assert params[name].grad is not None, name
            # fp32 rounding scales with the largest terms, not with a gradient that nearly cancels
            # (a bias before a norm has exactly zero gradient): floor the denominator at 1% of the scale.
            denom = max(float(p.grad.abs().max()), 1e-2 * scale)
            err = float((params[name].grad.detach().double().cpu() - p.grad).abs().max())
            assert err / denom < 2e-4, (preset, name, err, denom)


def test_errors_are_typed_and_actionable(monkeypatch: pytest.MonkeyPatch) -> None:
    u, delta, A, B, C, D, bias = (t.detach() for t in make_inputs(1, 2, 5, 4, 1))
    with pytest.raises(InputError, match="float64"):
        selective_scan_triton(u, delta, A, B, C, D, bias, True)
    f = [t.float() for t in (u, delta, A, B, C, D, bias)]
    with pytest.raises(ValueError, match="A must be"):
        selective_scan_triton(f[0], f[1], f[2][:1], *f[3:], True)
    with pytest.raises(InputError, match="groups"):
        selective_scan_triton(f[0], f[1], f[2], f[3].expand(1, 3, 4, 5), f[4].expand(1, 3, 4, 5), f[5], f[6], True)
    if DEVICE == "cpu":
        monkeypatch.setenv("TRITON_INTERPRET", "0")
        with pytest.raises(BackendUnavailableError, match="CUDA"):
            selective_scan_triton(*f, True)


def test_tile_heuristic_and_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    from vmambair_core.errors import ConfigError  # noqa: PLC0415
    from vmambair_core.scan.triton_scan import TILES_ENV, default_config, parse_config  # noqa: PLC0415

    monkeypatch.delenv(TILES_ENV, raising=False)
    small = default_config(8, 20, 4)
    assert (small.block_d, small.block_l) == (1, 32)  # few rows: one channel per program; short L
    # 128-step chunks: one channel, 8 warps (spill-free in tests/scan/test_triton_aot.py); shorter: up to 4.
    assert default_config(8 * 384, 4096, 16) == ScanLaunchConfig(block_d=1, block_l=128, num_warps=8)
    assert default_config(8 * 384, 1024, 16) == ScanLaunchConfig(block_d=4, block_l=64, num_warps=8)
    assert default_config(384, 1024, 16) == ScanLaunchConfig(block_d=1, block_l=64, num_warps=4)
    assert parse_config("block_d=2, block_l=256") == ScanLaunchConfig(block_d=2, block_l=256, num_warps=4)
    monkeypatch.setenv(TILES_ENV, "block_d=8,block_l=32,num_warps=2")
    assert default_config(1, 10) == ScanLaunchConfig(8, 32, 2)
    for bad in ("block_d=3", "bd=2", "block_l=x"):
        with pytest.raises(ConfigError):
            parse_config(bad)
    monkeypatch.setenv(TILES_ENV, "block_l=16")
    inputs = [t.detach().float().to(DEVICE) for t in make_inputs(1, 2, 40, 4, 1, seed=8)]
    y = selective_scan_triton(*inputs, True)  # runs with the overridden tiles (3 chunks of 16)
    assert rel_err(y, selective_scan_sequential(*[t.double().cpu() for t in inputs], True)) < 2e-6
