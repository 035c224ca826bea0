"""The CPU fast-path measurements in one run (a script, not a test): what docs/performance.md §3c reports.

1. realsr preset forward at 64² and 128² LQ against Real-ESRGAN's RRDBNet x4plus and SRVGGNetCompact
   (``vmambair bench --against``), scan backends ``auto`` (numba) and ``reference``;
2. cost per output pixel of the realsr forward from 64² to 256² LQ (numba);
3. one training step of the small CPU training config (sisr, dim 16, one block per level, batch 16 of
   24² LQ / 96² GT, L1 + Adam): ``reference`` and ``auto``.

Each part is written to ``OUT/<part>.json`` as soon as it is done. Run it on a quiet machine: the
ratios are only meaningful when nothing else competes for the cores.

    python benchmarks/cpu_fastpath.py --threads 2 --out /tmp/fastpath
    python benchmarks/cpu_fastpath.py --threads 1 --parts train --backends reference   # an older checkout
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import torch

from vmambair_core.bench import run_bench
from vmambair_core.models.config import tiny_config
from vmambair_core.threads import set_threads

PARTS = ("against", "scaling", "train")


def _save(out: Path, name: str, report: object, started: float, threads: int) -> None:
    doc = dataclasses.asdict(report)
    doc["threads"] = threads
    doc["machine"] = platform.processor() or platform.machine()
    doc["wall_s"] = round(time.monotonic() - started, 1)
    (out / f"{name}.json").write_text(json.dumps(doc, indent=1))
    for r in report.results:  # type: ignore[attr-defined]
        peers = " ".join(f"{p.peer} {p.latency_ms:.0f} ms (x{p.ratio:.2f})" for p in r.peers)
        print(f"{name}: {r.preset} {r.size}² {r.backend}->{r.resolved_backend} {r.mode}: "
              f"{r.latency_ms:.0f} ms (min {r.latency_min_ms:.0f}) {peers}", flush=True)
    for f in getattr(report, "scaling", ()):
        print(f"{name}: scaling {f.preset} {f.backend}: exponent {f.exponent:.2f}, "
              f"ms/output Mpix {[round(v) for v in f.ms_per_output_mpix]}, spread {f.spread:.0%}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {PARTS}")
    ap.add_argument("--backends", default="auto,reference")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    set_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    backends = tuple(args.backends.split(","))
    parts = args.parts.split(",")
    common = dict(device="cpu", repeats=args.repeats, warmup=1)
    if "against" in parts:
        t0 = time.monotonic()
        rep = run_bench(["realsr"], [64, 128], backends, against=("rrdbnet", "compact"), **common)
        _save(args.out, "against", rep, t0, args.threads)
    if "scaling" in parts:
        t0 = time.monotonic()
        rep = run_bench(["realsr"], [64, 128, 192, 256], ("auto",), **common)
        _save(args.out, "scaling", rep, t0, args.threads)
    if "train" in parts:
        t0 = time.monotonic()
        cfg = tiny_config("sisr", dim=16, blocks=1)
        rep = run_bench([cfg], [24], backends, train=True, batch=16, **common)
        _save(args.out, "train", rep, t0, args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; results in {args.out}")


if __name__ == "__main__":
    main()
