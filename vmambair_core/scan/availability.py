"""Which scan backends can run here, and why not: used by ``auto`` and by ``vmambair info``."""

from __future__ import annotations

import importlib.util
from functools import lru_cache

import torch


def backend_status(device_type: str = "cpu") -> dict[str, str | None]:
    """Concrete backend -> None if usable on ``device_type``, else a one-line reason."""
    status: dict[str, str | None] = {"reference": None, "sequential": None}
    status["numba"] = cpu_backend()[1] if device_type == "cpu" else "runs on the CPU only"
    cuda_ok = device_type == "cuda" and torch.cuda.is_available()
    if importlib.util.find_spec("triton") is None:
        status["triton"] = "triton is not installed (pip install triton)"
    elif importlib.util.find_spec("vmambair_core.scan.triton_scan") is None:
        status["triton"] = "this version of vmambair has no Triton kernel yet"
    elif not cuda_ok:
        status["triton"] = "needs a CUDA GPU"
    else:
        status["triton"] = None
    if importlib.util.find_spec("selective_scan_cuda") is None:
        status["mamba_ssm"] = "mamba-ssm is not installed (pip install 'vmambair[cuda]')"
    elif importlib.util.find_spec("vmambair_core.scan.mamba_ssm_scan") is None:
        status["mamba_ssm"] = "this version of vmambair has no mamba-ssm adapter yet"
    elif not cuda_ok:
        status["mamba_ssm"] = "needs a CUDA GPU"
    else:
        status["mamba_ssm"] = None
    return status


@lru_cache(maxsize=1)
def cpu_backend() -> tuple[str, str | None]:
    """The backend ``auto`` uses for float32/bf16 on the CPU, and why not numba when it is not.

    ("numba", None) when the compiled scan imports, compiles and matches the reference on a tiny
    problem here; else ("reference", one-line reason). Probed once per process: the first probe on
    a machine compiles the forward kernel (seconds), later processes load numba's cache.
    """
    if importlib.util.find_spec("numba") is None:
        return "reference", "numba is not installed (pip install numba); using the slower reference"
    try:
        from .numba_scan import probe  # noqa: PLC0415

        probe()
    except Exception as exc:  # noqa: BLE001 - any import/compile/run failure means: use the reference
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return "reference", f"the numba scan does not work here ({type(exc).__name__}: {reason[:160]}); using the reference"
    return "numba", None
