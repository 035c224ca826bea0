"""Selective scan: one entry point, several backends with the same signature and semantics.

``reference`` is the chunked PyTorch scan (any device, float64-capable), ``sequential`` the plain
loop (ground truth), ``numba`` the compiled CPU scan, ``triton`` the fused GPU kernel and
``mamba_ssm`` the Mamba authors' CUDA kernel. ``auto`` picks the fastest one that can run on the
inputs' device and dtype.
"""

from __future__ import annotations

import functools
from typing import Callable, Literal, get_args

import torch
from torch import Tensor

from ..errors import BackendUnavailableError, ConfigError
from .reference import selective_scan_chunked, selective_scan_sequential

BackendName = Literal["auto", "reference", "sequential", "numba", "triton", "mamba_ssm"]
BACKENDS: tuple[str, ...] = get_args(BackendName)

ScanFn = Callable[..., Tensor]


def _load_backend(name: str) -> ScanFn:
    """Return the scan function of a concrete backend or raise why it cannot run here."""
    if name == "reference":
        return selective_scan_chunked
    if name == "sequential":
        return selective_scan_sequential
    if name == "numba":
        try:
            from .numba_scan import selective_scan_numba  # noqa: PLC0415
        except ImportError as exc:
            raise BackendUnavailableError(
                f"scan backend 'numba' is unavailable: {exc}. Install it with `pip install numba`."
            ) from None
        return selective_scan_numba
    if name == "triton":
        try:
            from .triton_scan import selective_scan_triton  # noqa: PLC0415
        except ImportError as exc:
            raise BackendUnavailableError(
                f"scan backend 'triton' is unavailable: {exc}. Install it with `pip install triton`."
            ) from None
        return selective_scan_triton
    if name == "mamba_ssm":
        from .mamba_ssm_scan import selective_scan_mamba_ssm  # noqa: PLC0415

        return selective_scan_mamba_ssm
    raise ConfigError(f"unknown scan backend {name!r}; choose one of {', '.join(BACKENDS)}")


def backend_status(device_type: str = "cpu") -> dict[str, str | None]:
    """Each concrete backend -> None when it can run on ``device_type``, else the reason it cannot."""
    from .availability import backend_status as _status  # noqa: PLC0415

    return _status(device_type)


def resolve_backend(backend: str, device: str | torch.device, dtype: torch.dtype | None = None) -> str:
    """Turn ``auto`` into a concrete backend for a device (and input dtype); validate explicit names.

    float64 inputs stay on ``reference``: the compiled kernels are float32/bf16/fp16 only. On a CUDA
    device ``auto`` takes the first GPU backend that passes its self-test there (``probe``); on the CPU
    it is ``numba`` when it works here (``availability.cpu_backend``), else ``reference``. Resolved once
    per (device, float64 or not) and cached: later calls cost a dict lookup.
    """
    if backend not in BACKENDS:
        raise ConfigError(f"unknown scan backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend != "auto":
        return backend
    dev = torch.device(device)
    index = dev.index
    if dev.type == "cuda" and index is None and torch.cuda.is_available():  # tensors always carry an index
        index = torch.cuda.current_device()
    return _resolve_auto(dev.type, index, dtype == torch.float64)


@functools.cache
def _resolve_auto(device_type: str, index: int | None, float64: bool) -> str:
    if device_type == "cuda" and not float64:
        from .probe import choose_backend  # noqa: PLC0415

        return choose_backend(torch.device("cuda", index), backend_status("cuda")).backend
    if device_type == "cpu" and not float64:
        from .availability import cpu_backend  # noqa: PLC0415

        return cpu_backend()[0]
    return "reference"


def clear_backend_cache() -> None:
    """Forget every ``auto`` resolution and self-test result (tests; after installing a backend)."""
    from .availability import cpu_backend  # noqa: PLC0415
    from .probe import clear_probe_results  # noqa: PLC0415

    _resolve_auto.cache_clear()
    cpu_backend.cache_clear()
    clear_probe_results()


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
    name = resolve_backend(backend, u.device, u.dtype)
    if name == "triton" and backend == "auto" and not triton_variant_passes("scan", u, A):
        name = "reference"
    return _load_backend(name)(u, delta, A, B, C, D, delta_bias, delta_softplus)


def triton_variant_passes(kind: str, activations: Tensor, A: Tensor) -> bool:
    """Whether ``auto`` may launch the Triton ``kind`` kernel (``scan`` or ``omni``) as these inputs would
    compile it: each (tiles, dtype, state size) is self-tested at its first launch on a device (``probe``)."""
    from .probe import KernelVariant, variant_passes  # noqa: PLC0415

    if kind == "scan":
        from .triton_scan import launch_config  # noqa: PLC0415
    else:
        from .triton_omni import launch_config  # noqa: PLC0415
    variant = KernelVariant(kind, launch_config(activations, A), activations.dtype, A.shape[1])
    return variant_passes(activations.device, variant)


__all__ = [
    "BACKENDS",
    "BackendName",
    "backend_status",
    "clear_backend_cache",
    "resolve_backend",
    "selective_scan",
    "selective_scan_chunked",
    "selective_scan_sequential",
    "triton_variant_passes",
]
