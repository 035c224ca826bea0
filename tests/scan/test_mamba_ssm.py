"""mamba-ssm adapter: a clear error without the extension, and correct plumbing of its contract.

The real ``selective_scan_cuda`` needs a CUDA build; here a stand-in module enforces the extension's
documented contract (same dtype for u/delta/B/C, unit last stride, fp32 A/D/delta_bias, 4-D B/C)
and computes with the float64 loop, so the adapter's casts, squeezes and gradient order are checked
against the reference. With the real extension and a GPU the last test compares it directly.
"""

from __future__ import annotations

import types

import pytest
import torch

from vmambair_core.errors import BackendUnavailableError
from vmambair_core.scan import backend_status, selective_scan
from vmambair_core.scan import mamba_ssm_scan as adapter
from vmambair_core.scan.reference import selective_scan_sequential


def rel_err(a: torch.Tensor, ref: torch.Tensor) -> float:
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    return float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def inputs(b=2, d=4, length=9, n=3, g: int | None = 2, seed=0, dtype=torch.float32):
    gen = torch.Generator().manual_seed(seed)
    shape_bc = (b, n, length) if g is None else (b, g, n, length)
    u = torch.randn(b, d, length, generator=gen).to(dtype)
    delta = (torch.randn(b, d, length, generator=gen) * 0.5).to(dtype)
    A = -torch.exp(torch.randn(d, n, generator=gen) * 0.5)
    B = torch.randn(*shape_bc, generator=gen).to(dtype)
    C = torch.randn(*shape_bc, generator=gen).to(dtype)
    D = torch.randn(d, generator=gen)
    bias = torch.randn(d, generator=gen) * 0.5
    return [u, delta, A, B, C, D, bias]


class FakeExtension(types.SimpleNamespace):
    """Stand-in for selective_scan_cuda: checks the call contract, computes with the float64 loop."""

    calls: list[str]

    def _check(self, u, delta, A, B, C, D, z, delta_bias):
        assert u.dtype == delta.dtype == B.dtype == C.dtype, "u/delta/B/C must share a dtype"
        assert all(t.stride(-1) == 1 for t in (u, delta, B, C)), "unit last stride"
        assert A.dtype == torch.float32 and (D is None or D.dtype == torch.float32)
        assert delta_bias is None or delta_bias.dtype == torch.float32
        assert B.dim() == 4 and C.dim() == 4, "B/C are passed 4-D"
        assert z is None

    def fwd(self, u, delta, A, B, C, D, z, delta_bias, softplus):
        self._check(u, delta, A, B, C, D, z, delta_bias)
        self.calls.append("fwd")
        out = selective_scan_sequential(*(t.double() if t is not None else None
                                          for t in (u, delta, A, B, C, D, delta_bias)), softplus)
        return out.to(u.dtype), torch.zeros(1)

    def bwd(self, u, delta, A, B, C, D, z, delta_bias, dout, x, out, dz, softplus, recompute):
        self._check(u, delta, A, B, C, D, z, delta_bias)
        assert dout.dtype == u.dtype and x is not None and out is None and dz is None and recompute is False
        self.calls.append("bwd")
        leaves = [t.detach().double().requires_grad_() if t is not None else None
                  for t in (u, delta, A, B, C, D, delta_bias)]
        with torch.enable_grad():  # called from inside autograd's backward
            y = selective_scan_sequential(*leaves, softplus)
            grads = torch.autograd.grad(y, [t for t in leaves if t is not None], dout.double())
        it = iter(grads)
        full = [next(it) if t is not None else None for t in leaves]
        # the extension returns du/ddelta/dB/dC in the input dtype, dA/dD/dbias in fp32
        return [g.to(t.dtype) if g is not None else None for g, t in zip(full, (u, delta, A, B, C, D, delta_bias))]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeExtension:
    ext = FakeExtension(calls=[])
    monkeypatch.setattr(adapter, "selective_scan_cuda", ext)
    monkeypatch.setattr(adapter, "_require_cuda", lambda *t: None)
    return ext


@pytest.mark.skipif(adapter.selective_scan_cuda is not None, reason="selective_scan_cuda is installed here")
def test_missing_extension_is_a_clear_error_with_the_install_hint() -> None:
    assert backend_status("cuda")["mamba_ssm"] is not None
    with pytest.raises(BackendUnavailableError, match=r"--no-build-isolation 'mamba-ssm>=2\.3\.2'"):
        selective_scan(*inputs(), True, backend="mamba_ssm")


@pytest.mark.parametrize(("version", "usable"), [("2.2.4", False), ("2.3.1", False), ("2.3.2", True),
                                                ("2.3.2.post1", True), ("2.4.0", True)])
def test_mamba_ssm_older_than_2_3_2_is_not_used(monkeypatch: pytest.MonkeyPatch, fake: FakeExtension, version: str,
                                              usable: bool) -> None:
    """Kernels before 2.3.2 index with 32-bit strides: auto skips them, asking for them by name fails clearly."""
    import importlib.metadata  # noqa: PLC0415
    import importlib.util  # noqa: PLC0415

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.metadata, "version", lambda name: version)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "selective_scan_cuda"
                        else real_find_spec(name, *a))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    reason = backend_status("cuda")["mamba_ssm"]
    if usable:
        assert reason is None
        adapter.selective_scan_mamba_ssm(*inputs(), True)
        return
    assert reason is not None and f"mamba-ssm {version} is older than 2.3.2" in reason
    with pytest.raises(BackendUnavailableError, match="older than 2.3.2"):
        adapter.selective_scan_mamba_ssm(*inputs(), True)


def test_cpu_tensors_are_refused_even_with_the_extension(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter, "selective_scan_cuda", FakeExtension(calls=[]))
    with pytest.raises(BackendUnavailableError, match="CUDA"):
        adapter.selective_scan_mamba_ssm(*inputs(), True)


@pytest.mark.parametrize("g", [2, None])
def test_adapter_plumbing_matches_reference_outputs_and_grads(fake: FakeExtension, g: int | None) -> None:
    leaves = [t.requires_grad_() for t in inputs(g=g)]
    y = adapter.selective_scan_mamba_ssm(*leaves, True)
    ref_in = [t.detach().double().requires_grad_() for t in leaves]
    y_ref = selective_scan_sequential(*ref_in, True)
    assert rel_err(y, y_ref) < 1e-6
    dy = torch.randn_like(y_ref)
    grads = torch.autograd.grad(y, leaves, dy.float())
    g_ref = torch.autograd.grad(y_ref, ref_in, dy)
    for got, ref, leaf in zip(grads, g_ref, leaves, strict=True):
        assert got.shape == leaf.shape and got.dtype == leaf.dtype
        assert rel_err(got, ref) < 1e-6
    assert fake.calls == ["fwd", "bwd"]


def test_adapter_casts_to_the_kernels_dtypes_and_back(fake: FakeExtension) -> None:
    """bf16 u with fp32 delta/B/C and no D/bias: inputs are cast for the kernel, grads come back in
    each input's own dtype, and missing D/bias give None gradients."""
    u, delta, A, B, C, _, _ = inputs(g=1)
    u = u.to(torch.bfloat16).requires_grad_()
    rest = [t.requires_grad_() for t in (delta, A, B, C)]
    y = adapter.selective_scan_mamba_ssm(u, *rest, None, None, False)
    assert y.dtype == torch.bfloat16
    grads = torch.autograd.grad(y.float().sum(), [u, *rest])
    assert [g.dtype for g in grads] == [torch.bfloat16, torch.float32, torch.float32, torch.float32, torch.float32]


@pytest.mark.cuda
@pytest.mark.skipif(backend_status("cuda")["mamba_ssm"] is not None, reason="needs mamba-ssm and a CUDA GPU")
def test_real_extension_matches_reference() -> None:  # pragma: no cover - GPU machines only
    leaves = [t.cuda().requires_grad_() for t in inputs(length=300)]
    y = selective_scan(*leaves, True, backend="mamba_ssm")
    ref_in = [t.detach().double().cpu().requires_grad_() for t in leaves]
    y_ref = selective_scan_sequential(*ref_in, True)
    assert rel_err(y, y_ref) < 1e-5
    dy = torch.randn_like(y_ref)
    for got, ref in zip(torch.autograd.grad(y, leaves, dy.float().cuda()), torch.autograd.grad(y_ref, ref_in, dy)):
        assert rel_err(got, ref) < 1e-4
