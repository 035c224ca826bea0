"""Environment report behind `vmambair info`: plain data, rendered by the CLI."""

from __future__ import annotations

import platform
from typing import Any

import torch

from .models import PRESET_NAMES, PRESETS, parameter_count
from .models.config import TASK_DESCRIPTIONS
from .scan import backend_status, resolve_backend
from .threads import thread_report


def count_parameters(cfg_name: str) -> int:
    """Parameters of a preset, counted on the meta device (no memory, no init)."""
    return parameter_count(PRESETS[cfg_name])


def cuda_self_tests() -> dict[str, str]:
    """``auto``'s choice on every CUDA device after the GPU kernels' self-test there (``scan.probe``), and on
    any other device where a GPU backend was self-tested (Triton's CPU interpreter in tests)."""
    from .scan.backends import all_backends  # noqa: PLC0415
    from .scan.probe import probe_results  # noqa: PLC0415

    for i in range(torch.cuda.device_count() if torch.cuda.is_available() else 0):
        resolve_backend("auto", torch.device("cuda", i))
    gpu = {b.name for b in all_backends() if b.devices is not None and "cuda" in b.devices}
    return {dev: result.summary() for dev, result in sorted(probe_results().items())
            if dev.startswith("cuda") or gpu & {result.backend, *(name for name, _ in result.rejected)}}


def collect_info() -> dict[str, Any]:
    from . import __version__  # noqa: PLC0415

    devices = ["cpu"]
    if torch.cuda.is_available():
        devices += [f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())]
    device_types = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    from .weights.registry import read_registry  # noqa: PLC0415

    registry = read_registry()
    presets = []
    for name in PRESET_NAMES:
        default = registry.default_entry(name)
        cfg = PRESETS[name]
        presets.append({
            "task": name, "parameters": count_parameters(name), "num_blocks": list(cfg.num_blocks),
            "refinement": cfg.num_refinement_blocks, "channel_scan": f"{cfg.channel_scan}({cfg.channel_inner})",
            "fusion": cfg.fusion, "scale": cfg.scale, "description": TASK_DESCRIPTIONS[name],
            "default_weights": None if default is None else {
                "name": default.name, "location": default.location, "parameters": default.parameters,
                "description": default.description,
            },
        })
    return {
        "vmambair": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "devices": devices,
        "threads": thread_report(),
        "backends": {d: backend_status(d) for d in device_types},
        "auto": {d: resolve_backend("auto", d) for d in device_types},
        "self_test": cuda_self_tests(),
        "presets": presets,
    }
