"""What one `vmambair restore` of a small image loads: GUIs and scripts start the CLI once per image, so
every second of start-up counts (docs/performance.md, start-up)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parents[1]

_PROBE = """
import sys
from vmambair_cli.app import app
try:
    app(["restore", sys.argv[1], "-o", sys.argv[2], "-q", "--threads", "1"], prog_name="vmambair")
except SystemExit as exit:
    assert exit.code == 0, exit.code
heavy = sorted(m for m in ("torch._dynamo", "torch._inductor")
               if m in sys.modules)
print(",".join(heavy))
"""


def _restore_small_image(script: str, tmp_path: Path, data_dir: Path) -> str:
    """Run ``script`` (a 32x32 restore) in a fresh interpreter; return the last line it printed."""
    image = tmp_path / "small.png"
    img = cv2.imread(str(data_dir / "real_sr/RealESRGAN_inputs/input/OST_009.png"))
    assert cv2.imwrite(str(image), img[:32, :32])
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", script, str(image), str(tmp_path / "out")], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "small.png").is_file()
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def test_a_restore_loads_no_compiler_stack(tmp_path: Path, data_dir: Path) -> None:
    """torch._dynamo alone took about a second of each start: it came with the weights check's
    meta-device build (the check now reads the shapes of the network it loads into)."""
    loaded = _restore_small_image(_PROBE, tmp_path, data_dir)
    assert "torch._dynamo" not in loaded and "torch._inductor" not in loaded, loaded


_MAIN = """
import sys
from vmambair_cli.app import main
sys.argv = ["vmambair", "restore", sys.argv[1], "-o", sys.argv[2], "-q", "--threads", "1"]
try:
    main()
except SystemExit as exit:
    assert exit.code in (0, None), exit.code
print(",".join(m for m in ("numba", "vmambair_core.train", "vmambair_core.evaluate", "vmambair_core.bench")
               if m in sys.modules))
"""


def test_a_small_restore_loads_neither_numba_nor_other_commands(tmp_path: Path, data_dir: Path) -> None:
    """A 32-px restore's scans cost less than loading numba (auto waits for work that repays it), and the
    console entry point imports only the command it runs (docs/performance.md, start-up)."""
    loaded = _restore_small_image(_MAIN, tmp_path, data_dir)
    assert loaded == "", loaded
