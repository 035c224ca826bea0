"""Before any GPU minute is spent: does everything the GPU scripts run import here, and is there a GPU?

Imports every module of ``vmambair_core`` and ``vmambair_cli`` from the checkout (the GPU machine has
the checkout, not an installed project) plus triton, then needs a CUDA device. Modules that exist only
for an optional backend the GPU machine lacks by design (their import names a package in OPTIONAL)
are reported, not fatal. On the GPU it also runs ``auto``'s kernel self-test on every device and
prints its verdict. Exit status: 0 ready, 1 an import fails, 3 no CUDA GPU (0 with --cpu-smoke).

    python benchmarks/gpu_preflight.py [--cpu-smoke]
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_util  # noqa: E402  (puts the checkout on sys.path)

PACKAGES = ("vmambair_core", "vmambair_cli")
OPTIONAL = {"numba", "mamba_ssm", "selective_scan_cuda"}  # optional backends, absent on the GPU machine


def import_everything() -> tuple[list[str], list[str]]:
    """(fatal failures, skipped optional modules), one line each."""
    failures: list[str] = []
    optional: list[str] = []
    names: list[str] = []
    for package in PACKAGES:
        try:
            pkg = importlib.import_module(package)
        except Exception as exc:  # noqa: BLE001 - report every failure kind the same way
            failures.append(f"{package}: {type(exc).__name__}: {exc}")
            continue
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, f"{package}.", onerror=names.append)
                  if not m.name.endswith(".__main__")]  # that one runs the CLI
    for name in names:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            (optional if (exc.name or "").split(".")[0] in OPTIONAL else failures).append(f"{name}: {exc}")
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    for extra in ("triton", "triton.language"):
        try:
            importlib.import_module(extra)
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{extra}: {type(exc).__name__}: {exc}")
    return failures, optional


def main() -> int:
    failures, optional = import_everything()
    import vmambair_core  # noqa: PLC0415

    origin = Path(vmambair_core.__file__).resolve().parents[1]
    print(f"vmambair_core from {origin}; {len(failures)} import failure(s)", flush=True)
    for line in optional:
        print(f"  optional, absent: {line}")
    for line in failures:
        print(f"  IMPORT FAILED: {line}")
    if failures:
        return 1
    try:
        gpu_util.require_cuda("gpu_preflight")
    except SystemExit as exc:
        print(exc, flush=True)
        return 0 if "--cpu-smoke" in sys.argv[1:] else 3
    import torch  # noqa: PLC0415

    from vmambair_core.info import cuda_self_tests  # noqa: PLC0415

    for i in range(torch.cuda.device_count()):
        print(f"cuda:{i}: {torch.cuda.get_device_name(i)}")
    for dev, summary in cuda_self_tests().items():
        print(f"kernel self-test on {dev}: auto uses {summary}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
