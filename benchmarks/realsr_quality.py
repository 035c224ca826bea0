"""Print the realsr quality table (markdown) from `vmambair eval --json` files: LABEL=FILE arguments.

Columns: PSNR/SSIM on BSD100-realesrgan and BSD100-mild, NIQE and the fixed-pattern amplitude on
RealSRSet (lower is better), seconds per RealSRSet image. Written for
benchmarks/realsr_quality.sh.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _row(label: str, path: Path) -> dict[str, object]:
    results = {r["benchmark"]: r for r in json.loads(path.read_text(encoding="utf-8"))["results"]}
    row: dict[str, object] = {"method": label}
    for bench in ("BSD100-realesrgan", "BSD100-mild"):
        mean = results.get(bench, {}).get("mean", {})
        row[bench] = (mean.get("psnr"), mean.get("ssim"))
    real = results.get("RealSRSet", {})
    mean = real.get("mean", {})
    row["niqe"], row["pattern"], row["seconds"] = mean.get("niqe"), mean.get("pattern_amplitude"), mean.get("seconds")
    row["model"] = real.get("model") or next(iter(results.values()))["model"]
    return row


def _f(x: object, digits: int) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def main(argv: list[str]) -> int:
    rows = [_row(label, Path(file)) for label, file in (arg.split("=", 1) for arg in argv)]
    print("| method | BSD100-realesrgan PSNR / SSIM | BSD100-mild PSNR / SSIM | RealSRSet NIQE ↓ | pattern ↓ | s/image (RealSRSet) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        heavy, mild = r["BSD100-realesrgan"], r["BSD100-mild"]
        print(f"| {r['method']} | {_f(heavy[0], 2)} / {_f(heavy[1], 4)} | {_f(mild[0], 2)} / {_f(mild[1], 4)} | "  # type: ignore[index]
              f"{_f(r['niqe'], 2)} | {_f(r['pattern'], 2)} | {_f(r['seconds'], 2)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
