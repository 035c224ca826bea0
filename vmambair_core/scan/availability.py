"""Which scan backends can run here, and why not (from the table in ``backends``): ``auto`` and ``vmambair info``."""

from __future__ import annotations

import importlib.metadata
import re

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


def usable_before_self_test(device_type: str) -> dict[str, str | None]:
    """Every backend of the table -> None if it is installed and runs on ``device_type``, else why not."""
    from .backends import all_backends  # noqa: PLC0415 - the table imports this module's mamba-ssm facts

    return {b.name: b.unavailable(device_type) for b in all_backends()}


def backend_status(device_type: str = "cpu") -> dict[str, str | None]:
    """Concrete backend -> None if usable on ``device_type``, else a one-line reason.

    On the CPU this includes the verdict of ``auto``'s self-test (there is one CPU: ``cpu_backend``);
    a CUDA self-test is per device and is reported by ``probe.probe_results`` instead.
    """
    from .backends import auto_candidates  # noqa: PLC0415

    status = usable_before_self_test(device_type)
    preferred = next(iter(auto_candidates(device_type)), None)
    if device_type == "cpu" and preferred is not None:
        chosen, why_not = cpu_backend()
        if chosen != preferred.name and why_not is not None:
            status[preferred.name] = why_not
    return status


def cpu_backend() -> tuple[str, str | None]:
    """The backend ``auto`` uses for float32/bf16 on the CPU, and why not the preferred one (numba) when not.

    ("numba", None) when the compiled scan imports, compiles and matches the reference on a tiny
    problem here; else ("reference", one-line reason). Read from ``auto``'s one cache (``probe.auto_choice``):
    the first call self-tests (compiling the forward kernel the first time on a machine, seconds; later
    processes load numba's cache), later calls are a lookup.
    """
    from .backends import auto_candidates  # noqa: PLC0415
    from .probe import auto_choice  # noqa: PLC0415

    result = auto_choice(torch.device("cpu"))
    preferred = next(iter(auto_candidates("cpu")), None)
    if preferred is None or result.backend == preferred.name:
        return result.backend, None
    missing = preferred.unavailable("cpu")
    if missing is not None:
        return result.backend, f"{missing}; using the slower {result.backend}"
    failed = dict(result.rejected).get(preferred.name)
    if failed is None:  # not tried: a backend was pinned (probe.pin_auto)
        return result.backend, None
    return result.backend, f"the {preferred.name} scan does not work here ({failed}); using the {result.backend}"
