"""CPU rehearsal of the GPU scripts: on a machine like the GPU machine they get past every import.

The GPU machine has PyTorch, Triton, typer, rich, safetensors, huggingface_hub and OpenCV (with their
own dependencies), no network, no mamba-ssm, and the checkout without the project installed. Each
subprocess here sees only those packages: a ``sitecustomize`` import hook refuses every other
non-stdlib package, and resolves ``vmambair_*`` only from the checkout *through sys.path*, so a script
that forgets to put the checkout on its path fails as it would there. Every GPU script must then stop
at its first CUDA need with a one-line "no CUDA GPU" message, with no traceback.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")]

GPU_MACHINE_DISTRIBUTIONS = ("torch", "triton", "typer", "rich", "safetensors", "huggingface-hub",
                             "opencv-python-headless", "opencv-python", "numpy")


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def gpu_machine_modules() -> set[str]:
    """Top-level import names of the GPU machine's packages and everything they require (installed here),
    from the distributions' own metadata (extras left out)."""
    from importlib import metadata  # noqa: PLC0415

    from packaging.requirements import Requirement  # noqa: PLC0415

    closure: set[str] = set()
    todo = [_canonical(d) for d in GPU_MACHINE_DISTRIBUTIONS]
    while todo:
        name = todo.pop()
        if name in closure:
            continue
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        closure.add(name)
        for line in requires:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(_canonical(req.name))
    return {module for module, dists in metadata.packages_distributions().items()
            if any(_canonical(d) in closure for d in dists)}

SITECUSTOMIZE = '''
import importlib.abc, importlib.machinery, os, sys

ALLOWED = set({allowed!r})
CHECKOUT = os.path.realpath({checkout!r})
STDLIB = os.path.realpath(os.path.dirname(os.__file__))


def inside(origin, root):
    return bool(origin) and os.path.realpath(origin).startswith(root + os.sep)


class GpuMachineOnly(importlib.abc.MetaPathFinder):
    """Packages the GPU machine lacks do not exist; the project exists only as the checkout on sys.path."""

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if "." in name or top in sys.stdlib_module_names or top in ALLOWED:
            return None  # submodules follow their parent
        spec = importlib.machinery.PathFinder.find_spec(name, [p for p in sys.path if p])
        origin = spec.origin if spec is not None else None
        if inside(origin, CHECKOUT):
            return spec
        if inside(origin, STDLIB) and "site-packages" not in origin:  # private stdlib, e.g. _sysconfigdata_*
            return None
        raise ModuleNotFoundError(f"No module named {{name!r}} on the GPU machine (only its packages, and the "
                                  "checkout where sys.path has it: the project is not installed there)", name=name)


sys.meta_path.insert(0, GpuMachineOnly())
'''


@pytest.fixture(scope="module")
def gpu_machine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    site = tmp_path_factory.mktemp("gpu-machine-site")
    allowed = gpu_machine_modules()
    assert {"torch", "triton", "typer", "cv2", "numpy", "huggingface_hub"} <= allowed
    assert not {"scipy", "PIL", "numba", "pytest", "skimage"} & allowed
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE.format(allowed=sorted(allowed),
                                                                checkout=str(REPO)))
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "TRITON_INTERPRET", "VMAMBAIR_TRITON_TILES", "PYTHONSAFEPATH")}
    env.update(PYTHONPATH=str(site), PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="", OMP_NUM_THREADS="1")
    return env


def run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def test_the_rehearsal_really_hides_what_the_gpu_machine_lacks(gpu_machine: dict[str, str], tmp_path: Path) -> None:
    for module in ("scipy", "PIL", "numba", "pytest", "vmambair_core", "vmambair_weights"):
        proc = run([sys.executable, "-c", f"import {module}"], gpu_machine, tmp_path)
        assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr, (module, proc.stderr[-500:])
    ok = run([sys.executable, "-c", "import torch, triton, typer, rich, safetensors, huggingface_hub, cv2, numpy"],
             gpu_machine, tmp_path)
    assert ok.returncode == 0, ok.stderr[-2000:]


def assert_stops_at_cuda(proc: subprocess.CompletedProcess) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    assert "no CUDA GPU" in out, out[-2000:]
    assert "ModuleNotFoundError" not in out and "Traceback" not in out, out[-3000:]


def test_preflight_imports_every_module_then_needs_a_gpu(gpu_machine: dict[str, str], tmp_path: Path) -> None:
    proc = run([sys.executable, str(REPO / "benchmarks" / "gpu_preflight.py")], gpu_machine, tmp_path)
    assert proc.returncode == 3, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "0 import failure(s)" in proc.stdout and f"vmambair_core from {REPO}" in proc.stdout
    assert_stops_at_cuda(proc)


@pytest.mark.parametrize("script", ["gpu_triton_check.py", "gpu_omni_bench.py", "gpu_cuda_paths.py"])
def test_python_gpu_scripts_stop_at_cuda(script: str, gpu_machine: dict[str, str], tmp_path: Path) -> None:
    proc = run([sys.executable, str(REPO / "benchmarks" / script), "--device", "cuda", "--out",
                str(tmp_path / "out.json")], gpu_machine, tmp_path)
    assert_stops_at_cuda(proc)
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("script", ["gpu_check.sh", "gpu_train_sisr.sh"])
def test_shell_gpu_scripts_stop_at_cuda(script: str, gpu_machine: dict[str, str], tmp_path: Path) -> None:
    env = dict(gpu_machine, OUT=str(tmp_path / "out"), WORK=str(tmp_path / "work"), DATA=str(tmp_path / "none"))
    (tmp_path / "work").mkdir()
    proc = run(["bash", str(REPO / "benchmarks" / script)], env, tmp_path)
    assert_stops_at_cuda(proc)
    log = (tmp_path / "out" / "log.txt").read_text()
    assert "no CUDA GPU" in log and "ModuleNotFoundError" not in log
