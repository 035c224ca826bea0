"""``auto`` on CUDA trusts a GPU kernel only after its self-test: each failure kind, simulated on the CPU.

The self-test runs the real Triton kernels here, in Triton's interpreter on CPU tensors (set before triton
is imported, as in test_triton.py). Failures are injected where they happen on a GPU: the kernel launch
(compile error, out of resources, launcher build failure) or a wrong gradient. Each must end in exactly
one one-line warning and a fallback whose output matches the float64 loop; a backend asked for by name
must still raise.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import os
from types import SimpleNamespace

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

pytest.importorskip("triton", reason="triton is not installed (pip install 'vmambair[triton]')")

from triton.compiler.errors import CompilationError  # noqa: E402
from triton.runtime.errors import OutOfResources  # noqa: E402

from vmambair_core.scan import (  # noqa: E402
    clear_backend_cache, guard, probe, resolve_backend, selective_scan, triton_variant_passes,
)
from vmambair_core.scan import mamba_ssm_scan, triton_omni, triton_scan  # noqa: E402
from vmambair_core.scan.cross_scan import planar_scan, planar_scan_unfused  # noqa: E402
from vmambair_core.scan.reference import selective_scan_chunked, selective_scan_sequential  # noqa: E402

pytestmark = pytest.mark.triton
CPU = torch.device("cpu")
TINY = triton_scan.ScanLaunchConfig(block_d=2, block_l=8)
ONLY_TRITON = {"triton": None, "mamba_ssm": "mamba-ssm is not installed"}


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch):
    from triton.runtime.interpreter import InterpretedFunction  # noqa: PLC0415

    if not isinstance(triton_scan._selective_scan_fwd_kernel, InterpretedFunction):
        pytest.skip("triton kernels were compiled for GPU before TRITON_INTERPRET=1 was set; run this module alone")
    clear_backend_cache()
    monkeypatch.setattr(probe, "probe_config", lambda: TINY)  # the same code path at interpreter-friendly sizes
    monkeypatch.setattr(probe, "PROBE_D_STATE", 4)
    yield
    clear_backend_cache()


class FailingLaunch:
    """Stands in for a JITFunction whose launch raises (what a GPU without a working toolchain does)."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            raise self.exc

        return launch


def compile_error() -> Exception:
    node = ast.parse("y = tl.dot(a, b)").body[0]
    return CompilationError("y = tl.dot(a, b)", node, "Unsupported ptx version for sm_90a")


FAILURES = {
    "compile error": (compile_error, "CompilationError", "Unsupported ptx version"),
    "out of resources": (lambda: OutOfResources(262144, 232448, "shared memory"), "OutOfResources",
                         "out of resource: shared memory"),
    "launcher build": (lambda: RuntimeError("Failed to find C compiler. Please specify via CC environment variable."),
                       "RuntimeError", "Failed to find C compiler"),
}


def scan_inputs(dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(5)
    b, d, n, g, length = 1, 4, 4, 2, 70
    return [torch.randn(b, d, length, generator=gen).to(dtype),
            (torch.randn(b, d, length, generator=gen) - 1).to(dtype),
            -torch.rand(d, n, generator=gen) * 4, torch.randn(b, g, n, length, generator=gen).to(dtype),
            torch.randn(b, g, n, length, generator=gen).to(dtype), torch.randn(d, generator=gen),
            torch.rand(d, generator=gen)]


def assert_fallback_output_correct(backend: str) -> None:
    """The chosen fallback computes the scan and the omni scan as the float64 loop does."""
    x = scan_inputs()
    y = selective_scan(*x, True, backend=backend)
    ref = selective_scan_sequential(*[t.double() for t in x], True)
    assert float((y.double() - ref).abs().max() / ref.abs().max()) < 1e-5
    gen = torch.Generator().manual_seed(6)
    c, n, r = 3, 4, 1
    omni = [torch.randn(1, c, 5, 7, generator=gen), torch.randn(4, r + 2 * n, c, generator=gen) * 0.5,
            torch.randn(4, c, r, generator=gen), torch.randn(4, c, generator=gen) - 2,
            torch.randn(4 * c, n, generator=gen),
            torch.randn(4 * c, generator=gen)]
    y = planar_scan(*omni, backend=backend)
    ref = planar_scan_unfused(*[t.double() for t in omni], backend="sequential")
    assert float((y.double() - ref).abs().max() / ref.abs().max()) < 1e-5


def one_warning(caplog: pytest.LogCaptureFixture) -> str:
    records = [r for r in caplog.records if r.name == "vmambair" and r.levelno == logging.WARNING]
    assert len(records) == 1, [r.getMessage() for r in records]
    message = records[0].getMessage()
    assert "\n" not in message
    return message


@pytest.mark.slow
def test_working_kernels_pass_their_self_test(caplog: pytest.LogCaptureFixture) -> None:
    """The real (interpreted) generic and omni kernels, forward and backward, pass: no warning, triton used."""
    with caplog.at_level(logging.WARNING, logger="vmambair"):
        result = probe.choose_backend(CPU, ONLY_TRITON)
    assert result.backend == "triton" and result.rejected == ()
    assert not [r for r in caplog.records if r.name == "vmambair"]
    assert probe.probe_results()["cpu"] == result


@pytest.mark.parametrize(("kind", "kernel"), [
    ("launcher build", "_selective_scan_fwd_kernel"),  # the first launch
    ("out of resources", "_selective_scan_bwd_kernel"),
    pytest.param("compile error", "_omni_bwd_kernel", marks=pytest.mark.slow),  # the last launch
])
def test_a_failing_launch_falls_back_to_reference_with_one_line(kind: str, kernel: str, monkeypatch: pytest.MonkeyPatch,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    make, type_name, detail = FAILURES[kind]
    module = triton_omni if kernel.startswith("_omni") else triton_scan
    monkeypatch.setattr(module, kernel, FailingLaunch(make()))
    with caplog.at_level(logging.WARNING, logger="vmambair"):
        result = probe.choose_backend(CPU, ONLY_TRITON)
    assert result.backend == "reference"
    (name, reason), = result.rejected
    assert name == "triton" and reason.startswith(type_name) and detail in reason
    message = one_warning(caplog)
    assert type_name in message and detail in message and "'reference'" in message
    assert_fallback_output_correct(result.backend)


def test_a_wrong_gradient_is_caught(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A kernel that runs but computes a wrong du (as a miscompiled reverse scan would) is rejected."""
    real = triton_scan.scan_bwd

    def wrong_bwd(*args, **kwargs):
        du, *rest = real(*args, **kwargs)
        return (du * 1.01, *rest)

    monkeypatch.setattr(triton_scan, "scan_bwd", wrong_bwd)
    with caplog.at_level(logging.WARNING, logger="vmambair"):
        result = probe.choose_backend(CPU, ONLY_TRITON)
    assert result.backend == "reference"
    assert "wrong result: scan du" in result.rejected[0][1]
    assert "wrong result" in one_warning(caplog)
    assert_fallback_output_correct(result.backend)


@pytest.mark.slow
def test_a_wrong_omni_output_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    real = triton_omni.omni_fwd

    def shifted(*args, **kwargs):
        y, states, cfg = real(*args, **kwargs)
        return y + 1e-2 * y.abs().max(), states, cfg

    monkeypatch.setattr(triton_omni, "omni_fwd", shifted)
    result = probe.choose_backend(CPU, ONLY_TRITON)
    assert result.backend == "reference" and "wrong result: omni y" in result.rejected[0][1]


def test_mamba_ssm_is_next_when_it_passes(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """triton fails, mamba-ssm (stood in for by the chunked scan) passes its own self-test: auto uses it."""
    monkeypatch.setattr(triton_omni, "_omni_fwd_kernel", FailingLaunch(OutOfResources(1, 0, "registers")))
    monkeypatch.setattr(mamba_ssm_scan, "selective_scan_mamba_ssm", selective_scan_chunked)
    with caplog.at_level(logging.WARNING, logger="vmambair"):
        result = probe.choose_backend(CPU, {"triton": None, "mamba_ssm": None})
    assert result.backend == "mamba_ssm" and [n for n, _ in result.rejected] == ["triton"]
    assert "'mamba_ssm'" in one_warning(caplog)


def test_a_backend_asked_for_by_name_still_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triton_scan, "_selective_scan_fwd_kernel", FailingLaunch(compile_error()))
    with pytest.raises(CompilationError):
        selective_scan(*scan_inputs(), True, backend="triton")


def test_auto_on_cuda_probes_once_per_device_then_costs_a_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    """resolve_backend('auto', cuda device) runs the self-test once per device and caches the answer; after
    that neither the self-test nor any find_spec runs again. float64 stays on the reference untested."""
    calls: list[str] = []
    real_choose = probe.choose_backend

    def fake_choose(device, status):
        if device.type == "cpu":  # the CPU's own self-test (numba) runs for real
            return real_choose(device, status)
        calls.append(str(device))
        return probe.ProbeResult(str(device), "mamba_ssm" if device.index == 1 else "triton")

    monkeypatch.setattr(probe, "choose_backend", fake_choose)
    assert resolve_backend("auto", "cuda:1") == "mamba_ssm"
    assert resolve_backend("auto", torch.device("cuda", 0), torch.float32) == "triton"
    cpu = resolve_backend("auto", "cpu")  # numba where it passes its own self-test, else the reference
    assert cpu in ("numba", "reference")
    find_spec_calls: list[str] = []
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda *a, **k: find_spec_calls.append(a[0]) or real_find_spec(*a, **k))
    for _ in range(3):
        assert resolve_backend("auto", "cuda:1", torch.bfloat16) == "mamba_ssm"
        assert resolve_backend("auto", torch.device("cuda", 0)) == "triton"
        assert resolve_backend("auto", "cpu") == cpu
    assert resolve_backend("auto", "cuda:0", torch.float64) == "reference"
    assert calls == ["cuda:1", "cuda:0"]
    assert find_spec_calls == []


def test_device_guard_makes_the_tensors_device_current(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every launcher enters the guard with its tensors; on CUDA the guard is torch.cuda.device(t.device)."""
    entered: list[torch.device] = []

    class Recorder:
        def __init__(self, device):
            self.device = device

        def __enter__(self):
            entered.append(self.device)

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(torch.cuda, "device", Recorder)
    with guard.device_guard(SimpleNamespace(is_cuda=True, device=torch.device("cuda", 1))):
        pass
    assert entered == [torch.device("cuda", 1)]
    with guard.device_guard(torch.zeros(1)):  # CPU tensors (the interpreter): no CUDA call at all
        pass
    assert entered == [torch.device("cuda", 1)]

    launches: list[str] = []

    def recording_guard(t):
        launches.append(str(t.device))
        return Recorder(t.device)

    for module in (triton_scan, triton_omni):
        monkeypatch.setattr(module, "device_guard", recording_guard)
    x = [t.requires_grad_() for t in scan_inputs()]
    selective_scan(*x, True, backend="triton").sum().backward()
    assert launches == ["cpu", "cpu"]  # forward and backward


@pytest.mark.slow
def test_info_shows_the_self_test(monkeypatch: pytest.MonkeyPatch) -> None:
    from vmambair_core.info import collect_info  # noqa: PLC0415

    monkeypatch.setattr(triton_scan, "_selective_scan_fwd_kernel", FailingLaunch(OutOfResources(300, 255, "registers")))
    probe.choose_backend(CPU, ONLY_TRITON)
    summary = collect_info()["self_test"]["cpu"]
    assert summary.startswith("reference") and "OutOfResources" in summary


# --------------------------------------------------------------------------- every kernel variant, lazily


class SelectiveLaunch:
    """The real kernel, except that launches matching ``when(kwargs)`` raise ``exc`` (one variant broken)."""

    def __init__(self, real, when, exc: Exception) -> None:
        self.real, self.when, self.exc = real, when, exc
        self.launched: list[dict] = []

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            if self.when(kwargs):
                raise self.exc
            self.launched.append(kwargs)
            return self.real[grid](*args, **kwargs)

        return launch


@pytest.fixture
def auto_is_triton() -> None:
    """``auto`` resolves to triton here, as it does on a GPU whose backend self-test passed (undone by
    ``_fresh_cache``)."""
    probe.pin_auto(CPU, "triton")


def scan_of_length(length: int, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(9)
    b, d, n = 1, 2, 4
    return [torch.randn(b, d, length, generator=gen).to(dtype), (torch.randn(b, d, length, generator=gen) - 1).to(dtype),
            -torch.rand(d, n, generator=gen) * 4, torch.randn(b, 1, n, length, generator=gen).to(dtype),
            torch.randn(b, 1, n, length, generator=gen).to(dtype), torch.randn(d, generator=gen),
            torch.rand(d, generator=gen)]


def assert_matches_loop(x: list[torch.Tensor], tolerance: float = 1e-5) -> None:
    y = selective_scan(*x, True)
    ref = selective_scan_sequential(*[t.double() for t in x], True)
    assert float((y.double() - ref).abs().max() / ref.abs().max()) < tolerance


def test_a_variant_failing_at_its_first_launch_takes_the_reference_path_alone(
        auto_is_triton: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Small maps compile block_l=16: a compile error there must not kill the run (it surfaced as an
    ordinary exception at the first real call); the 64-step variant keeps the kernel."""
    kernel = SelectiveLaunch(triton_scan._selective_scan_fwd_kernel, lambda kw: kw["BLOCK_L"] == 16, compile_error())
    monkeypatch.setattr(triton_scan, "_selective_scan_fwd_kernel", kernel)
    with caplog.at_level(logging.WARNING, logger="vmambair"):
        for _ in range(2):  # the second call neither retests nor warns again
            assert_matches_loop(scan_of_length(12))
    message = one_warning(caplog)
    assert "block_l=16" in message and "CompilationError" in message and "reference" in message
    kernel.launched.clear()
    assert_matches_loop(scan_of_length(40))  # block_l=64: self-tested, then launched for real
    assert kernel.launched and all(kw["BLOCK_L"] == 64 for kw in kernel.launched)
    assert len([r for r in caplog.records if r.name == "vmambair"]) == 1


def test_a_bf16_backward_that_is_wrong_only_in_bf16_is_caught(
        auto_is_triton: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The reverse associative scan can miscompile for one dtype (triton#4362): the bf16 variant's own
    self-test runs its backward, so autocast training falls back instead of learning from wrong gradients."""
    real = triton_scan.scan_bwd

    def wrong_in_bf16(u, *args, **kwargs):
        du, *rest = real(u, *args, **kwargs)
        return (du * 1.5 if u.dtype == torch.bfloat16 else du, *rest)

    monkeypatch.setattr(triton_scan, "scan_bwd", wrong_in_bf16)
    x = scan_of_length(12, torch.bfloat16)
    with caplog.at_level(logging.WARNING, logger="vmambair"):
        assert not triton_variant_passes("scan", x[0], x[2])
        assert triton_variant_passes("scan", x[0].float(), x[2])
    message = one_warning(caplog)
    assert "bfloat16" in message and "wrong result: scan du" in message
    leaves = [t.float().requires_grad_() for t in x]
    low = [t.to(torch.bfloat16) if i in (0, 1, 3, 4) else t for i, t in enumerate(leaves)]
    selective_scan(*low, True).float().sum().backward()  # the reference path: the true du
    ref = [t.detach().double().requires_grad_() for t in low]
    selective_scan_sequential(*ref, True).sum().backward()
    assert float((leaves[0].grad.double() - ref[0].grad).abs().max() / ref[0].grad.abs().max()) < 2e-2


def test_real_bf16_kernels_pass_their_variant_self_tests() -> None:
    """The real (interpreted) kernels in bf16 pass at the half-precision tolerance: no false rejection."""
    assert probe.check_variant(CPU, probe.KernelVariant("scan", TINY, torch.bfloat16, 4)) is None
    assert probe.check_variant(CPU, probe.KernelVariant("omni", TINY, torch.bfloat16, 4)) is None


def test_an_omni_variant_that_fails_runs_unfused_with_the_generic_kernel(
        auto_is_triton: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(triton_omni, "_omni_bwd_kernel", FailingLaunch(OutOfResources(262144, 232448, "shared memory")))
    generic = SelectiveLaunch(triton_scan._selective_scan_fwd_kernel, lambda kw: False, RuntimeError())
    monkeypatch.setattr(triton_scan, "_selective_scan_fwd_kernel", generic)
    gen = torch.Generator().manual_seed(6)
    c, n, r = 2, 4, 1
    omni = [torch.randn(1, c, 3, 5, generator=gen), torch.randn(4, r + 2 * n, c, generator=gen) * 0.5,
            torch.randn(4, c, r, generator=gen), torch.randn(4, c, generator=gen) - 2,
            torch.randn(4 * c, n, generator=gen), torch.randn(4 * c, generator=gen)]
    with caplog.at_level(logging.WARNING, logger="vmambair"):
        y = planar_scan(*omni)
    assert "omni kernel" in one_warning(caplog) and "OutOfResources" in one_warning(caplog)
    ref = planar_scan_unfused(*[t.double() for t in omni], backend="sequential")
    assert float((y.double() - ref).abs().max() / ref.abs().max()) < 1e-5
    assert any(kw["STORE_STATES"] is False for kw in generic.launched[-1:])  # the map's scan ran on the kernel


# --------------------------------------------------------------------------- failures that are not the kernel's


@pytest.mark.parametrize("error", [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 MiB"),
    RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"),
])
def test_out_of_memory_in_the_self_test_is_raised_not_cached(error: Exception, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first scan of a whole image runs when memory is tightest: an OOM there must reach the tiling
    retry, not downgrade the process to the reference scan for good."""
    monkeypatch.setattr(triton_scan, "_selective_scan_fwd_kernel", FailingLaunch(error))
    with pytest.raises(type(error)):
        probe.choose_backend(CPU, ONLY_TRITON)
    assert probe.probe_results() == {}
    monkeypatch.undo()
    monkeypatch.setattr(probe, "probe_config", lambda: TINY)
    monkeypatch.setattr(probe, "PROBE_D_STATE", 4)
    assert probe.choose_backend(CPU, ONLY_TRITON).backend == "triton"  # tested again, and passes


def test_a_sticky_cuda_error_ends_the_run_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from vmambair_core.errors import DeviceFailureError  # noqa: PLC0415

    sticky = RuntimeError("Triton Error [CUDA]: an illegal memory access was encountered")
    monkeypatch.setattr(triton_scan, "_selective_scan_bwd_kernel", FailingLaunch(sticky))
    with pytest.raises(DeviceFailureError) as info:
        probe.choose_backend(CPU, ONLY_TRITON)
    message = str(info.value)
    assert "\n" not in message and "illegal memory access" in message and "--backend reference" in message
    assert probe.probe_results() == {}  # not remembered as "triton rejected"
