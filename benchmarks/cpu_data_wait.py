"""How long a CPU training loop waits for realsr data per step (a script, not a test).

Runs the training loop's own pieces (loader, ``BatchMaker``, ``train_step``) for a small realsr
config and times, per iteration, the wait for the next batch (``next(loader)`` + ``BatchMaker``)
against the training step. Works on older checkouts too (where the loader cannot degrade), so the
same script gives the before/after numbers of docs/performance.md:

    PYTHONPATH=. python benchmarks/cpu_data_wait.py --data ../shared/data/sr_train/BSD200
    PYTHONPATH=/path/to/old/checkout python benchmarks/cpu_data_wait.py --data ...
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import statistics
import time
from datetime import datetime, timezone

import torch

from vmambair_core.models import build_model
from vmambair_core.train import resolve_config
from vmambair_core.train import batches as batches_module
from vmambair_core.train.batches import BatchMaker
from vmambair_core.train.data import PatchDataset, PositionSampler, discover_dataset, make_loader
from vmambair_core.train.loop import patch_spec
from vmambair_core.train.steps import build_parts, train_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="HR-only training folder")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--patch", type=int, default=256, help="GT patch side")
    ap.add_argument("--hr-crop", type=int, default=600, help="HR crop degraded per image (recipe: 600)")
    ap.add_argument("--pool", type=int, default=180, help="pair pool size (recipe: 180; 0 off)")
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--blocks", type=int, default=1)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--fill", action=argparse.BooleanOptionalAction, default=True,
                    help="start with a full pool of random pairs (times the steady state without 180/batch warm-up steps)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    cfg = resolve_config("realsr", overrides={
        "model.dim": args.dim, "model.blocks": args.blocks, "data.batch_size": args.batch,
        "data.patch_size": args.patch, "data.hr_crop": args.hr_crop, "data.pool_size": args.pool,
        "data.root": args.data, "iters": 1000,
    })
    cpu = torch.device("cpu")
    layout = discover_dataset(cfg.data.root, scale=cfg.scale)
    spec = patch_spec(cfg, layout.paired)
    kwargs = {}
    off_thread = "finish" in inspect.signature(make_loader).parameters
    if off_thread:
        kwargs["finish"] = batches_module.LoaderSynthesis(cfg, 0, cfg.data.batch_size)
    loader = iter(make_loader(PatchDataset(layout, spec, cfg.seed), PositionSampler(len(layout), seed=cfg.seed,
                              batch_size=cfg.data.batch_size), workers=args.workers, **kwargs))
    maker = BatchMaker(cfg, spec.mode, cpu, rank=0)
    parts = build_parts(cfg, build_model(cfg.network()), cpu, torch.float32)
    if args.fill and args.pool:
        p = args.patch // cfg.scale
        gen = torch.Generator().manual_seed(0)
        maker.load_state_dict({"pool": {
            "size": args.pool, "filled": args.pool,
            "lq": torch.randint(0, 256, (args.pool, 3, p, p), dtype=torch.uint8, generator=gen),
            "gt": torch.randint(0, 256, (args.pool, 3, args.patch, args.patch), dtype=torch.uint8, generator=gen),
        }})

    waits, steps = [], []
    for it in range(1, args.iters + 1):
        t0 = time.perf_counter()
        lq, gt = maker(next(loader), it)
        t1 = time.perf_counter()
        losses = train_step(parts, lq, gt, cpu)
        float(losses["l_pix"])
        t2 = time.perf_counter()
        waits.append(t1 - t0)
        steps.append(t2 - t1)

    fill = args.pool // args.batch if args.pool and not args.fill else 0
    skip = 2  # loader start-up and first-step allocations

    def summary(lo: int, hi: int) -> dict[str, float]:
        w, s = sorted(waits[lo:hi]), sorted(steps[lo:hi])
        if not w:
            return {}
        return {"iters": len(w), "wait_median_s": statistics.median(w), "wait_p90_s": w[int(0.9 * (len(w) - 1))],
                "step_median_s": statistics.median(s), "wait_share": sum(w) / (sum(w) + sum(s))}

    print(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="minutes"), "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__, "threads": args.threads, "workers": args.workers, "off_thread": off_thread,
        "batch": args.batch, "patch": args.patch, "hr_crop": args.hr_crop, "pool": args.pool,
        "model": f"tiny realsr dim {args.dim}, {args.blocks} block(s)",
        "pool_filling": summary(skip, max(skip, fill)), "pool_full": summary(max(skip, fill), args.iters),
    }, indent=2))


if __name__ == "__main__":
    main()
