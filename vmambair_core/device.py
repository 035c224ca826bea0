"""Where and in what precision things run: the one home for devices, precisions and autocast.

Inference, training, evaluation and benchmarks all resolve ``--device`` and ``--precision`` here,
so the same spelling means the same thing everywhere.

A CUDA device is always returned *with* its index (``cuda`` -> ``cuda:N``, N the current device):
``torch.device("cuda") != torch.device("cuda:0")``, yet tensors made on the former report the
latter, so an index-less device makes device checks fail on a single GPU. :func:`same_device`
compares two devices the way tensors are placed, for code that receives devices from outside.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal, get_args

import torch

from .errors import BackendUnavailableError, ConfigError

Precision = Literal["auto", "fp32", "bf16", "fp16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
DTYPES: dict[str, torch.dtype] = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def with_index(device: torch.device, current: int | None = None) -> torch.device:
    """``device`` with an explicit index: ``cuda`` -> ``cuda:{current}`` (the current CUDA device by default).

    CPU devices are returned as ``cpu`` (tensors on the CPU report no index); other types unchanged.
    ``current`` exists so the rule can be checked without a GPU.
    """
    if device.type == "cpu":
        return torch.device("cpu")
    if device.type != "cuda" or device.index is not None:
        return device
    return torch.device("cuda", torch.cuda.current_device() if current is None else current)


def same_device(a: torch.device, b: torch.device, current: int | None = None) -> bool:
    """Whether tensors on ``a`` and ``b`` live on the same device (type and index; no index = current one)."""
    return a.type == b.type and with_index(a, current) == with_index(b, current)


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(spec: str = "auto") -> torch.device:
    """``auto`` (CUDA if present, else Apple's MPS, else CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``;
    unusable ones are a clear error.

    CUDA devices come back with an index (see the module doc). On MPS the scan runs on the pure-PyTorch
    ``reference`` backend (numba is CPU-only, Triton CUDA-only).
    """
    spec = spec.strip().lower()
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu"
    try:
        dev = torch.device(spec)
    except RuntimeError:
        raise ConfigError(f"unknown device {spec!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise BackendUnavailableError(
                f"device {spec!r} asked for, but no CUDA GPU is available here; use --device cpu"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise BackendUnavailableError(f"device {spec!r}: only {torch.cuda.device_count()} GPU(s) present")
        return with_index(dev)
    if dev.type == "mps":
        if not _mps_available():
            raise BackendUnavailableError(f"device {spec!r} asked for, but Apple's MPS is not available here; "
                                          "use --device cpu")
        return torch.device("mps")
    if dev.type != "cpu":
        raise ConfigError(f"device type {dev.type!r} is not supported; use auto, cpu, cuda, cuda:N or mps")
    return dev


def set_current_device(device: torch.device) -> None:
    """Make ``device`` this process's current CUDA device (nothing for the CPU); every command calls it once
    its device is resolved.

    CUDA events and streams, the DataLoader's pin-memory thread, pinned host buffers and kernels that
    launch on the current device all use it, not the device of the tensors at hand: without this a
    single-process ``--device cuda:1`` times, stages and opens a context on GPU 0 as well.
    """
    if device.type == "cuda":
        torch.cuda.set_device(with_index(device))


def check_precision(spec: str, allowed: tuple[str, ...] = PRECISIONS) -> None:
    """Refuse a precision name outside ``allowed`` (one wording for every command)."""
    if spec not in allowed:
        raise ConfigError(f"unknown precision {spec!r}; choose one of {', '.join(allowed)}")


NATIVE_BF16_CAPABILITY = (8, 0)
"""Compute capability from which GPUs have bf16 tensor cores (Ampere on); below it bf16 is emulated."""


def native_bf16(device: torch.device) -> bool:
    """Whether the CUDA ``device`` itself computes bf16 natively (compute capability 8.0 or newer).

    Not ``torch.cuda.is_bf16_supported()``: it says yes on sm_70/75 (V100, T4), where bf16 is emulated and
    slower than fp32, and it asks about the current GPU rather than the chosen one.
    """
    return torch.cuda.get_device_capability(with_index(device)) >= NATIVE_BF16_CAPABILITY


def resolve_precision(spec: str, device: torch.device) -> torch.dtype:
    """``auto``: bf16 on GPUs with native bf16, fp16 on older GPUs (training adds a GradScaler), fp32 on
    the CPU (CPU bf16 is slow and gains nothing) and on MPS (its bf16 depends on the macOS version)."""
    check_precision(spec)
    if spec == "auto":
        if device.type == "cuda":
            return torch.bfloat16 if native_bf16(device) else torch.float16
        return torch.float32
    if spec == "fp16" and device.type == "cpu":
        raise ConfigError("precision fp16 is for GPUs; on CPU use fp32 (or bf16)")
    return DTYPES[spec]


ALLOCATION_FAILURES = (
    "out of memory", "not enough memory", "can't allocate memory",  # CUDA, MPS, the CPU allocator
    "cublas_status_alloc_failed", "cudnn_status_alloc_failed",  # cuBLAS/cuDNN workspaces on a full GPU
)
FATAL_DEVICE_ERRORS = (
    "illegal memory access", "illegal address", "unspecified launch failure", "misaligned address",
    "illegal instruction", "device-side assert", "hardware stack error", "uncorrectable ecc error",
)
"""CUDA errors after which the context is unusable: every later call on the device fails the same way."""


def is_out_of_memory(error: BaseException) -> bool:
    """An allocation failure of any torch device: CUDA's typed error, or its message elsewhere."""
    oom_type = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
    if isinstance(error, (oom_type, torch.cuda.OutOfMemoryError)):
        return True
    message = str(error).lower()
    return isinstance(error, RuntimeError) and any(m in message for m in ALLOCATION_FAILURES)


def is_fatal_device_error(error: BaseException) -> bool:
    """A sticky CUDA error (illegal address, launch failure, device assert): retrying on the device cannot help."""
    message = str(error).lower()
    return isinstance(error, RuntimeError) and any(m in message for m in FATAL_DEVICE_ERRORS)


def precision_name(dtype: torch.dtype) -> str:
    """``torch.bfloat16`` -> ``bf16`` (the spelling users type)."""
    return next((name for name, d in DTYPES.items() if d == dtype), str(dtype))


@contextlib.contextmanager
def autocast_for(device: torch.device, dtype: torch.dtype) -> Iterator[None]:
    """Autocast to ``dtype`` (no-op for fp32). Scans and norm statistics stay float32 whatever the dtype."""
    if dtype == torch.float32:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


__all__ = [
    "DTYPES", "PRECISIONS", "Precision", "autocast_for", "check_precision", "is_fatal_device_error",
    "is_out_of_memory", "native_bf16", "precision_name", "resolve_device", "resolve_precision", "same_device",
    "set_current_device", "with_index",
]
