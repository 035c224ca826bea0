"""Which scan backends can run here, and why not: used by ``auto`` and by ``vmambair info``."""

from __future__ import annotations

import importlib.util

import torch


def backend_status(device_type: str = "cpu") -> dict[str, str | None]:
    """Concrete backend -> None if usable on ``device_type``, else a one-line reason."""
    status: dict[str, str | None] = {"reference": None, "sequential": None}
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
