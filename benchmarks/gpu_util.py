"""Shared helpers of the GPU check scripts (gpu_triton_check.py, gpu_omni_bench.py, gpu_preflight.py).

The GPU machine has the checkout but not the project installed (and no network to install it), so
importing this module puts the checkout first on ``sys.path``. ``setup(device)`` must run before
anything imports triton: on CPU it switches Triton to its interpreter, so the same scripts run as a
smoke test (toy sizes) on a machine without a GPU.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

NO_CUDA = "no CUDA GPU"


def setup(device: str) -> None:
    if device == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
        if "triton" in sys.modules:
            raise SystemExit("triton was imported before TRITON_INTERPRET=1 could be set")



def require_cuda(script: str) -> None:
    """Stop with one clear line (exit 3) where a CUDA GPU is needed and torch sees none."""
    import torch  # noqa: PLC0415

    if not torch.cuda.is_available():
        raise SystemExit(f"{script}: {NO_CUDA}: torch {torch.__version__} (CUDA build {torch.version.cuda}) sees "
                         "no CUDA device; run on the GPU machine, or pass --device cpu for the interpreter smoke run")


def synthetic_images(folder: str | Path, count: int = 8, side: int = 256) -> None:
    """Smooth random RGB PNGs (upsampled noise): HR training images that need no data upload."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        base = (rng.random((side // 8, side // 8, 3)) * 255).astype(np.uint8)
        cv2.imwrite(str(out / f"{i:03d}.png"), cv2.resize(base, (side, side), interpolation=cv2.INTER_CUBIC))


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


def psnr_between(a: str | Path, b: str | Path) -> float:
    """PSNR in dB of two 8-bit images of the same size (one restored in bf16, one in fp32)."""
    import cv2  # noqa: PLC0415
    import numpy as np  # noqa: PLC0415

    x, y = (cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in (a, b))
    if x is None or y is None or x.shape != y.shape:
        raise SystemExit(f"cannot compare {a} and {b}: missing, unreadable or of different sizes")
    mse = float(np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


BF16_MIN_PSNR = 30.0
"""A bf16 restore within this many dB of the fp32 one (the tiny bundled models score ~40+ on the CPU)."""


def restore_bf16(device: str, image: str | Path, work: str | Path) -> int:
    """`vmambair restore IMAGE --device DEVICE` in bf16 and in fp32 (the default weights); 0 when both
    succeed and agree to BF16_MIN_PSNR dB, else 1. Runs the CLI as a user would, from this checkout."""
    import subprocess  # noqa: PLC0415

    outputs = []
    for precision in ("bf16", "fp32"):
        folder = Path(work) / precision
        cmd = [sys.executable, "-m", "vmambair_cli", "restore", str(image), "-o", str(folder), "--device", device,
               "--precision", precision, "--overwrite", "--quiet"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        proc = subprocess.run(cmd, env=env)
        if proc.returncode != 0:
            print(f"restore --precision {precision} --device {device} failed with exit status {proc.returncode}")
            return 1
        outputs.append(next(folder.iterdir()))
    value = psnr_between(*outputs)
    print(f"restore on {device}: bf16 vs fp32 PSNR {value:.2f} dB (need >= {BF16_MIN_PSNR})", flush=True)
    return 0 if value >= BF16_MIN_PSNR else 1


USAGE = "usage: gpu_util.py images FOLDER [COUNT SIDE] | gpu_util.py restore-bf16 DEVICE IMAGE WORKDIR"

if __name__ == "__main__":  # the helpers gpu_check.sh calls
    if len(sys.argv) >= 3 and sys.argv[1] == "images":
        synthetic_images(sys.argv[2], *(int(v) for v in sys.argv[3:5]))
    elif len(sys.argv) == 5 and sys.argv[1] == "restore-bf16":
        raise SystemExit(restore_bf16(*sys.argv[2:5]))
    else:
        raise SystemExit(USAGE)
