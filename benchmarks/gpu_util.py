"""Shared helpers of the GPU check scripts (gpu_triton_check.py, gpu_omni_bench.py).

``setup(device)`` must run before anything imports triton: on CPU it switches Triton to its
interpreter, so the same scripts run as a smoke test (toy sizes) on a machine without a GPU.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any


def setup(device: str) -> None:
    if device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
        if "triton" in sys.modules:
            raise SystemExit("triton was imported before TRITON_INTERPRET=1 could be set")


def rel_err(a, ref) -> float:
    """max |a - ref| / max |ref|, computed in float64 on the CPU."""
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    return float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def environment() -> dict[str, Any]:
    import torch  # noqa: PLC0415

    info: dict[str, Any] = {"python": platform.python_version(), "torch": torch.__version__,
                            "cuda": torch.version.cuda, "platform": platform.platform()}
    try:
        import triton  # noqa: PLC0415

        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = None
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        import selective_scan_cuda  # noqa: F401, PLC0415

        info["mamba_ssm"] = True
    except ImportError:
        info["mamba_ssm"] = False
    return info


def write_json(path: str | Path, doc: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str))
