"""The Triton kernels compile for real GPUs (sm_90, sm_80) on a machine without one, within a spill budget.

``benchmarks/triton_aot.py`` captures each launcher's exact launch, specialises it as Triton would on
the target, and runs the whole compiler down to ptxas (whose ``-v`` report gives registers and spill
bytes). It must run without ``TRITON_INTERPRET=1`` (set by the interpreter tests in this process), so it
runs in a subprocess. Budgets (``triton_scan``): the default tiles spill nothing; every tile config
the benchmark may sweep spills at most SWEEP_SPILL_BUDGET bytes. The fused kernels' per-step index math
is 32-bit: no 64-bit integer div/rem (emulated in software on NVIDIA GPUs) may appear in any kernel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton", reason="triton is not installed (pip install 'vmambair[triton]')")
pytest.importorskip("triton.backends.nvidia", reason="this Triton build has no NVIDIA backend")

from vmambair_core.scan.triton_scan import DEFAULT_SPILL_BUDGET, SWEEP_SPILL_BUDGET  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
KERNELS = {"_selective_scan_fwd_kernel", "_selective_scan_bwd_kernel", "_omni_fwd_kernel", "_omni_bwd_kernel"}
pytestmark = [pytest.mark.triton, pytest.mark.slow]


def compile_for_gpus(*args: str, timeout: int) -> list[dict]:
    env = {k: v for k, v in os.environ.items() if k not in ("TRITON_INTERPRET", "VMAMBAIR_TRITON_TILES")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "triton_aot.py"), *args], capture_output=True,
                          text=True, env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)["compiles"]


def assert_within_budget(rows: list[dict]) -> None:
    over = [r for r in rows
            if r["spill_stores"] > (DEFAULT_SPILL_BUDGET if r["tiles"] == "default" else SWEEP_SPILL_BUDGET)]
    assert not over, over
    assert not [r for r in rows if r["div_rem_64"]], [r for r in rows if r["div_rem_64"]]


def test_big_layer_tiles_compile_for_sm90_without_spills() -> None:
    """The representative subset: the tiles of the network's big planar layers, the three heaviest kernels."""
    rows = compile_for_gpus("--cc", "90", "--dtypes", "bf16", "--tiles", "big", "--kernels",
                            "_selective_scan_bwd_kernel,_omni_fwd_kernel,_omni_bwd_kernel", timeout=600)
    assert {r["kernel"] for r in rows} == KERNELS - {"_selective_scan_fwd_kernel"}
    assert all(r["registers"] <= 255 for r in rows)
    assert_within_budget(rows)


def test_every_kernel_dtype_and_tile_config_compiles_for_sm90_and_sm80() -> None:
    """All four kernels x fp32/bf16 x (every default tile choice + every sweep config) x sm_90/sm_80."""
    rows = compile_for_gpus("--cc", "90,80", "--dtypes", "fp32,bf16", "--tiles", "default,sweep", timeout=3600)
    assert {r["kernel"] for r in rows} == KERNELS and {r["cc"] for r in rows} == {80, 90}
    assert {r["dtype"] for r in rows} == {"fp32", "bf16"}
    assert_within_budget(rows)
