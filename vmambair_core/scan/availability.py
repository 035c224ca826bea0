"""Which scan backends can run here, and why not: used by ``auto`` and by ``vmambair info``."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from functools import lru_cache

import torch

MAMBA_SSM_MIN = (2, 3, 2)
"""Older mamba-ssm kernels index with 32-bit strides, which overflow on large maps (pyproject's ``cuda`` extra)."""
MAMBA_SSM_INSTALL_HINT = (
    "install it into this environment with `pip install --no-build-isolation 'mamba-ssm>=2.3.2'`: it fetches the "
    "prebuilt kernel for, or compiles against, the torch installed here (build isolation would use a freshly "
    "downloaded torch); offline add MAMBA_FORCE_BUILD=TRUE and --no-deps, which compiles with the CUDA toolkit's nvcc"
)


def mamba_ssm_version_problem() -> str | None:
    """Why the installed mamba-ssm must not be used (too old), or None (new enough, or version unknown)."""
    try:
        version = importlib.metadata.version("mamba_ssm")
    except importlib.metadata.PackageNotFoundError:
        return None
    found = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if found is None:
        return None
    if tuple(int(part or 0) for part in found.groups()) >= MAMBA_SSM_MIN:
        return None
    return (f"mamba-ssm {version} is older than {'.'.join(map(str, MAMBA_SSM_MIN))}, whose kernels index with 32-bit "
            f"strides that overflow on large maps; {MAMBA_SSM_INSTALL_HINT}")


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
        status["mamba_ssm"] = f"mamba-ssm is not installed ({MAMBA_SSM_INSTALL_HINT})"
    elif (too_old := mamba_ssm_version_problem()) is not None:
        status["mamba_ssm"] = too_old
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
