"""Selective scan: one entry point, several backends with the same signature and semantics.

``reference`` is the chunked PyTorch scan (any device, float64-capable), ``sequential`` the plain
loop (ground truth), ``numba`` the compiled CPU scan, ``triton`` the fused GPU kernel and
``mamba_ssm`` the Mamba authors' CUDA kernel: one record each in ``backends.TABLE``. ``auto`` picks
the fastest one that passes its self-test on the inputs' device and takes their dtype.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .backends import BACKENDS, FALLBACK, ScanBackend, ScanKernels, check_backend_name, get_backend, registered
from .probe import auto_choice, auto_dtype_ok, clear_probe_results, defer_auto, triton_variant_passes
from .reference import selective_scan_chunked, selective_scan_sequential

BackendName = Literal[BACKENDS]  # type: ignore[valid-type]  # the names of the table, for CLI choices
"""``auto`` or a backend of the table (``backends.BACKENDS``)."""


def backend_status(device_type: str = "cpu") -> dict[str, str | None]:
    """Each concrete backend -> None when it can run on ``device_type``, else the reason it cannot."""
    from .availability import backend_status as _status  # noqa: PLC0415

    return _status(device_type)


def resolve_backend(backend: str, device: str | torch.device, dtype: torch.dtype | None = None) -> str:
    """Turn ``auto`` into a concrete backend for a device (and input dtype); validate explicit names.

    ``auto`` is chosen once per device, at its first resolution (``probe.auto_choice``: the first
    ``auto`` backend of the table that passes its self-test there, else ``reference``); later calls cost
    a dict lookup. Inputs of a dtype no ``auto`` backend takes (float64) stay on ``reference``, untested.
    """
    check_backend_name(backend)
    if backend != "auto":
        return backend
    dev = torch.device(device)
    if dtype is not None and not auto_dtype_ok(dev.type, dtype):
        return FALLBACK
    if dev.type == "cuda" and dev.index is None and torch.cuda.is_available():  # tensors always carry an index
        dev = torch.device("cuda", torch.cuda.current_device())
    name = auto_choice(dev).backend
    return name if dtype is None or dtype in get_backend(name).dtypes else FALLBACK


def clear_backend_cache() -> None:
    """Forget ``auto``'s choices and every self-test result (tests; after installing a backend)."""
    clear_probe_results()


def backend_for_call(backend: str, activations: Tensor, macs: int) -> str:
    """The backend one scan call of ``macs`` multiply-adds runs: ``resolve_backend``'s answer, except that
    ``auto`` on a device nobody resolved it for runs ``reference`` until such calls add up to work that
    repays its choice (``probe.defer_auto``): a small image never pays numba's start-up."""
    if backend == "auto" and defer_auto(activations.device, macs):
        return FALLBACK
    return resolve_backend(backend, activations.device, activations.dtype)


def variant_trusted(backend: str, kernels: ScanKernels, kind: str, activations: Tensor, A: Tensor) -> bool:
    """Whether a call that asked for ``backend`` may launch ``kernels``' ``kind`` kernel (``scan``/``omni``)
    for these inputs: always when named; under ``auto``, a backend that compiles per launch shape
    (``variant_gate``, Triton) only once that form has passed its self-test."""
    gate = kernels.variant_gate
    return backend != "auto" or gate is None or gate(kind, activations, A)


def selective_scan(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
    *,
    backend: str = "auto",
) -> Tensor:
    """Selective scan y = scan(u, delta, A, B, C) + D*u (semantics in ``reference``'s docstring).

    u, delta: (b, d, l); A: (d, n) float32; B, C: (b, g, n, l) or (b, n, l), d % g == 0;
    D, delta_bias: (d,) or None. Returns (b, d, l) in u's dtype; state accumulates in float32.
    """
    kernels = get_backend(backend_for_call(backend, u, 9 * u.numel() * A.shape[-1])).kernels()
    if not variant_trusted(backend, kernels, "scan", u, A):
        kernels = get_backend(FALLBACK).kernels()
    return kernels.scan(u, delta, A, B, C, D, delta_bias, delta_softplus)


__all__ = [
    "BACKENDS",
    "BackendName",
    "ScanBackend",
    "ScanKernels",
    "backend_for_call",
    "backend_status",
    "check_backend_name",
    "clear_backend_cache",
    "get_backend",
    "registered",
    "resolve_backend",
    "selective_scan",
    "selective_scan_chunked",
    "selective_scan_sequential",
    "triton_variant_passes",
    "variant_trusted",
]
