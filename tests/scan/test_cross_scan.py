"""The omni planar scan: unfused form vs an independent index-list formulation, the dispatcher, and
the fused Triton kernel vs the unfused float64 loop (outputs and the gradients of x and of every
projection weight). Triton tests run in the CPU interpreter when there is no GPU (see test_triton)."""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from vmambair_core.errors import BackendUnavailableError, ConfigError  # noqa: E402
from vmambair_core.scan import backend_status, resolve_backend  # noqa: E402
from vmambair_core.scan.cross_scan import cross_merge, cross_scan, planar_scan, planar_scan_unfused  # noqa: E402
from vmambair_core.scan.reference import selective_scan_sequential  # noqa: E402

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
NAMES = ("x", "x_proj_weight", "dt_projs_weight", "dt_projs_bias", "A_logs", "Ds")

try:
    import triton  # noqa: F401

    HAVE_TRITON = True
except ImportError:
    HAVE_TRITON = False
needs_triton = pytest.mark.skipif(not HAVE_TRITON, reason="triton is not installed (pip install 'vmambair[triton]')")


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    return float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def make_params(b: int, c: int, h: int, w: int, n: int, r: int, seed: int = 0) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    f64 = dict(dtype=torch.float64)
    x = torch.randn(b, c, h, w, generator=gen, **f64)
    xp = torch.randn(4, r + 2 * n, c, generator=gen, **f64) * c**-0.5
    wdt = torch.randn(4, c, r, generator=gen, **f64) * r**-0.5
    bias = torch.randn(4, c, generator=gen, **f64) * 0.5 - 1.0
    a_logs = torch.randn(4 * c, n, generator=gen, **f64) * 0.5
    ds = torch.randn(4 * c, generator=gen, **f64)
    return [t.requires_grad_() for t in (x, xp, wdt, bias, a_logs, ds)]


def direction_orders(h: int, w: int) -> list[list[int]]:
    """Pixel (row-major index) visited at each step, per direction, written out by hand."""
    rows = [i * w + j for i in range(h) for j in range(w)]
    cols = [i * w + j for j in range(w) for i in range(h)]
    return [rows, cols, rows[::-1], cols[::-1]]


def planar_by_index_lists(x, xp, wdt, bias, a_logs, ds):
    """Independent formulation: gather each direction by an explicit index list, scan, scatter-add back."""
    b, c, h, w = x.shape
    n, r = a_logs.shape[1], wdt.shape[2]
    flat = x.flatten(2)
    out = torch.zeros_like(flat)
    for k, order in enumerate(direction_orders(h, w)):
        idx = torch.tensor(order)
        seq = flat[:, :, idx]  # (b, c, L)
        proj = torch.einsum("jc,bcl->bjl", xp[k], seq)
        dts, bs, cs = proj[:, :r], proj[:, r:r + n], proj[:, r + n:]
        delta = torch.einsum("dr,brl->bdl", wdt[k], dts)
        a = -torch.exp(a_logs[k * c:(k + 1) * c])
        y = selective_scan_sequential(seq, delta, a, bs, cs, ds[k * c:(k + 1) * c], bias[k], True)
        out = out.index_add(2, idx, y)
    return out.view(b, c, h, w)


def test_cross_scan_orders_and_merge_by_hand() -> None:
    x = torch.arange(2 * 3 * 2, dtype=torch.float64).view(1, 2, 3, 2)
    xs = cross_scan(x)
    for k, order in enumerate(direction_orders(3, 2)):
        assert xs[0, k].tolist() == x.flatten(2)[0][:, order].tolist()
    merged = cross_merge(xs, 3, 2)  # each pixel collected once per direction: 4x the map
    assert torch.equal(merged, 4 * x)


def test_unfused_equals_index_list_formulation_float64() -> None:
    params = [t.detach() for t in make_params(2, 3, 3, 4, 4, 2, seed=5)]
    ref = planar_by_index_lists(*params)
    got = planar_scan_unfused(*params, backend="sequential")
    assert got.dtype == torch.float64
    assert rel_err(got, ref) < 1e-12


def test_dispatcher_uses_the_unfused_path_off_the_fused_kernels() -> None:
    """reference/sequential have no fused form; auto on the CPU is numba (fused) where it works."""
    params = [t.detach().float() for t in make_params(1, 4, 4, 4, 4, 1, seed=6)]
    for backend in ("reference", "sequential"):
        assert torch.equal(planar_scan(*params, backend=backend), planar_scan_unfused(*params, backend=backend))
    auto = resolve_backend("auto", "cpu")
    if auto == "numba":
        from vmambair_core.scan.numba_scan import planar_scan_numba

        assert torch.equal(planar_scan(*params, backend="auto"), planar_scan_numba(*params))
    else:
        assert torch.equal(planar_scan(*params, backend="auto"), planar_scan_unfused(*params, backend="reference"))
    with pytest.raises(ConfigError, match="unknown scan backend"):
        planar_scan(*params, backend="cuda-magic")


@pytest.mark.skipif(backend_status("cuda")["mamba_ssm"] is None, reason="mamba-ssm is usable here")
def test_mamba_ssm_without_extension_or_gpu_is_a_clear_error() -> None:
    params = [t.detach().float() for t in make_params(1, 2, 2, 2, 4, 1)]
    with pytest.raises(BackendUnavailableError, match="mamba"):
        planar_scan(*params, backend="mamba_ssm")


# ----------------------------------------------------------------------------------------------
# Fused Triton omni kernel
# ----------------------------------------------------------------------------------------------


def _fused_vs_loop(params64: list[torch.Tensor], config, *, x_transform=None) -> tuple[dict, dict]:
    """Relative errors of the fused kernel (fp32) vs the unfused float64 loop: output and grads."""
    from vmambair_core.scan.triton_omni import planar_scan_triton  # noqa: PLC0415

    y_ref = planar_scan_unfused(*params64, backend="sequential")
    dy = torch.randn(y_ref.shape, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    g_ref = torch.autograd.grad(y_ref, params64, dy)
    fast = [t.detach().float().to(DEVICE).requires_grad_() for t in params64]
    x_in = x_transform(fast[0]) if x_transform else fast[0]
    y = planar_scan_triton(x_in, *fast[1:], config=config)
    assert y.dtype == torch.float32 and y.shape == y_ref.shape
    grads = torch.autograd.grad(y, fast, dy.float().to(DEVICE))
    errs = {name: rel_err(g, r) for name, g, r in zip(NAMES, grads, g_ref, strict=True)}
    return {"y": rel_err(y, y_ref)}, errs


@pytest.mark.triton
@needs_triton
@pytest.mark.parametrize(
    ("b", "c", "h", "w", "n", "r"),
    [
        (2, 3, 3, 5, 4, 2),  # odd map, L=15 over chunks of 8, 3 channels over blocks of 2
        (1, 2, 5, 2, 3, 1),  # H > W (column order differs from a transpose of the square case), n=3
    ],
)
def test_fused_matches_unfused_float64_outputs_and_all_grads(b, c, h, w, n, r) -> None:
    from vmambair_core.scan.triton_scan import ScanLaunchConfig  # noqa: PLC0415

    out, grads = _fused_vs_loop(make_params(b, c, h, w, n, r), ScanLaunchConfig(block_d=2, block_l=8))
    assert out["y"] < 2e-6
    for name, err in grads.items():
        assert err < 2e-5, (name, err)


@pytest.mark.triton
@needs_triton
def test_fused_reads_a_strided_map_without_copying() -> None:
    """channels_last x: the kernel uses x's strides (pixel (h, w) at h*sx_h + w*sx_w)."""
    from vmambair_core.scan.triton_scan import ScanLaunchConfig  # noqa: PLC0415

    out, grads = _fused_vs_loop(make_params(1, 2, 3, 3, 4, 1, seed=2), ScanLaunchConfig(block_d=2, block_l=4),
                                x_transform=lambda t: t.contiguous(memory_format=torch.channels_last))
    assert out["y"] < 2e-6
    assert max(grads.values()) < 2e-5


@pytest.mark.triton
@needs_triton
def test_fused_bf16_under_autocast_tracks_unfused() -> None:
    """bf16 activations (autocast): fused and unfused see the same bf16 projections; both keep the
    scan state in fp32, so they agree to bf16 rounding and both stay near the float64 result."""
    params = make_params(1, 4, 3, 5, 4, 1, seed=3)
    ref64 = planar_scan_unfused(*params, backend="sequential")
    fast = [t.detach().float().to(DEVICE).requires_grad_() for t in params]
    with torch.autocast(DEVICE, dtype=torch.bfloat16):
        x16 = fast[0].to(torch.bfloat16)
        fused = planar_scan(x16, *fast[1:], backend="triton")
        unfused = planar_scan_unfused(x16, *fast[1:], backend="reference")
    assert fused.dtype == torch.float32
    assert rel_err(fused, unfused) < 2e-2
    assert rel_err(fused, ref64) < 3e-2
    fused.sum().backward()
    assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in fast)


@pytest.mark.triton
@needs_triton
def test_dispatcher_sends_triton_to_the_fused_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    from vmambair_core.scan import triton_omni  # noqa: PLC0415

    calls = []
    real = triton_omni.planar_scan_triton
    monkeypatch.setattr(triton_omni, "planar_scan_triton", lambda *a, **k: calls.append(1) or real(*a, **k))
    params = [t.detach().float().to(DEVICE) for t in make_params(1, 2, 2, 3, 4, 1)]
    y = planar_scan(*params, backend="triton")
    assert calls == [1]
    assert rel_err(y, planar_scan_unfused(*[p.double().cpu() for p in params], backend="sequential")) < 2e-6
