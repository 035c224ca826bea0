"""The scan entry point: which backend ``auto`` picks on CPU, and typed errors for the others."""

from __future__ import annotations

import pytest
import torch

from vmambair_core.errors import BackendUnavailableError, ConfigError
from vmambair_core.scan import (
    BACKENDS,
    backend_status,
    resolve_backend,
    selective_scan,
    selective_scan_chunked,
    selective_scan_sequential,
)
from vmambair_core.scan.availability import cpu_backend


def inputs(dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    b, d, n, g, length = 2, 8, 4, 2, 150  # longer than one chunk
    return [
        torch.randn(b, d, length, generator=gen).to(dtype),
        (torch.randn(b, d, length, generator=gen) - 1).to(dtype),
        -torch.rand(d, n, generator=gen) * 4,
        torch.randn(b, g, n, length, generator=gen).to(dtype),
        torch.randn(b, g, n, length, generator=gen).to(dtype),
        torch.randn(d, generator=gen),
        torch.rand(d, generator=gen),
    ]


def test_auto_on_cpu_is_the_compiled_scan_or_the_chunked_reference() -> None:
    """auto on the CPU: numba where it works (availability.cpu_backend), else the chunked reference."""
    expected = cpu_backend()[0]
    assert resolve_backend("auto", "cpu") == expected in ("numba", "reference")
    x = inputs()
    y = selective_scan(*x, True, backend="auto")
    assert torch.equal(y, selective_scan(*x, True, backend=expected))  # really that one
    y_seq = selective_scan_sequential(*x, True)
    assert float((y - y_seq).abs().max() / y_seq.abs().max()) < 1e-5
    x64 = inputs(torch.float64)
    y64 = selective_scan(*x64, True)  # auto is the default
    assert y64.dtype == torch.float64
    torch.testing.assert_close(y64, selective_scan_sequential(*x64, True), rtol=1e-10, atol=1e-10)


def test_named_cpu_backends_run_their_own_implementation() -> None:
    x = inputs()
    assert torch.equal(selective_scan(*x, True, backend="sequential"), selective_scan_sequential(*x, True))
    assert torch.equal(selective_scan(*x, True, backend="reference"), selective_scan_chunked(*x, True))
    assert resolve_backend("sequential", "cpu") == "sequential"
    assert backend_status("cpu")["reference"] is None and backend_status("cpu")["sequential"] is None


def test_unknown_backend_is_a_config_error_listing_the_choices() -> None:
    with pytest.raises(ConfigError, match="unknown scan backend 'cuda_fast'.*reference"):
        selective_scan(*inputs(), True, backend="cuda_fast")
    with pytest.raises(ConfigError, match="unknown scan backend"):
        resolve_backend("torch", "cpu")
    assert set(BACKENDS) == {"auto", "reference", "sequential", "numba", "triton", "mamba_ssm"}


@pytest.mark.parametrize("name", ["triton", "mamba_ssm"])
def test_gpu_backends_refuse_cpu_tensors(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Triton's interpreter, a GPU backend asked for by name on CPU tensors is a typed error
    that names the backend and what to do (install it, or use backend='reference' on CPU)."""
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    assert backend_status("cpu")[name] is not None
    with pytest.raises(BackendUnavailableError, match=name) as info:
        selective_scan(*inputs(), True, backend=name)
    message = str(info.value)
    assert "reference" in message or "install" in message, message


def test_auto_keeps_float64_on_the_reference() -> None:
    """The GPU kernels are float32/bf16/fp16 only: auto must not send float64 there."""
    from vmambair_core.scan import resolve_backend

    assert resolve_backend("auto", "cuda", torch.float64) == "reference"
    assert resolve_backend("reference", "cuda", torch.float64) == "reference"
