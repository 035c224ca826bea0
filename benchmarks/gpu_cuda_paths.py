"""The CUDA paths the CPU tests only simulate, run for real: every scan-kernel variant the networks compile,
the chosen GPU's precision, and the checkpoint RNG state against the real CUDA generators.

1. variants: the three presets run forward in fp32, bf16 and fp16 autocast at a large and a small map
   (128- and 16-64-step chunks, the channel scans' own tiles), plus a bf16 training step (the backward
   kernels); ``auto`` self-tests each (kind, tiles, dtype, state size) at its first launch. Every variant
   and its verdict is listed; one that failed ran on the reference path (one warning line in the log).
2. precision: compute capability, native bf16 and ``--precision auto``'s choice for every GPU.
3. rng: the run GPU's generator state saved and restored through the checkpoint functions, and an
   older all-GPUs list with more entries than there are GPUs restored without IndexError.

    python benchmarks/gpu_cuda_paths.py --device cuda --out cuda_paths.json
    python benchmarks/gpu_cuda_paths.py --device cpu --out x.json   # smoke: interpreter, a tiny net, fp32 forward

The JSON is rewritten after each part, so a timeout keeps what was measured; ``all_pass`` is false until
every part has run and passed.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_util  # noqa: E402  (puts the checkout on sys.path)


def run_networks(device: Any, smoke: bool, doc: dict[str, Any], out: Path) -> None:
    """Forward passes (fp32, bf16, fp16 autocast) and one bf16 training step of each preset."""
    import torch  # noqa: PLC0415

    from vmambair_core.device import autocast_for  # noqa: PLC0415
    from vmambair_core.models import build_model, tiny_config  # noqa: PLC0415

    presets = ("realsr",) if smoke else ("realsr", "sisr", "derain")
    sizes = (8,) if smoke else (64, 24)
    dtypes = (torch.float32,) if smoke else (torch.float32, torch.bfloat16, torch.float16)
    for preset in presets:  # the smoke run: a toy network with a small state, the interpreter is slow
        net = build_model(replace(tiny_config(preset, dim=8), d_state=4) if smoke else preset).to(device)
        for size in sizes:
            x = torch.rand(1, 3, size, size, device=device)
            for dtype in dtypes:
                t0 = time.perf_counter()
                with torch.inference_mode(), autocast_for(device, dtype):
                    y = net(x)
                doc["runs"].append({"preset": preset, "size": size, "dtype": str(dtype).removeprefix("torch."),
                                    "mode": "forward", "finite": bool(torch.isfinite(y).all()),
                                    "seconds": round(time.perf_counter() - t0, 2)})
                record_variants(doc, out)
        if smoke:  # a whole backward in the interpreter takes minutes; triton_check's smoke run covers it
            continue
        t0 = time.perf_counter()
        x = torch.rand(2, 3, sizes[-1], sizes[-1], device=device)
        with autocast_for(device, torch.bfloat16):
            loss = net(x).float().abs().mean()
        loss.backward()
        finite = all(torch.isfinite(p.grad).all() for p in net.parameters() if p.grad is not None)
        doc["runs"].append({"preset": preset, "size": sizes[-1], "dtype": "bfloat16", "mode": "train",
                            "finite": bool(finite), "seconds": round(time.perf_counter() - t0, 2)})
        record_variants(doc, out)


def record_variants(doc: dict[str, Any], out: Path) -> None:
    from vmambair_core.scan.probe import variant_results  # noqa: PLC0415

    doc["variants"] = [{"device": dev, "kind": v.kind, "block_d": v.config.block_d, "block_l": v.config.block_l,
                        "num_warps": v.config.num_warps, "dtype": str(v.dtype).removeprefix("torch."),
                        "d_state": v.d_state, "verdict": reason or "passed"}
                       for (dev, v), reason in variant_results().items()]
    gpu_util.write_json(out, doc)


def precision_choices() -> list[dict[str, Any]]:
    import torch  # noqa: PLC0415

    from vmambair_core.device import native_bf16, resolve_precision  # noqa: PLC0415

    rows = []
    for i in range(torch.cuda.device_count()):
        dev = torch.device("cuda", i)
        rows.append({"device": str(dev), "name": torch.cuda.get_device_name(dev),
                     "capability": ".".join(map(str, torch.cuda.get_device_capability(dev))),
                     "native_bf16": native_bf16(dev), "auto": str(resolve_precision("auto", dev))})
    return rows


def rng_roundtrip() -> str:
    """'ok', or what went wrong, for the run GPU's generator through rng_state/set_rng_state."""
    import torch  # noqa: PLC0415

    from vmambair_core.train.checkpoint import rng_state, set_rng_state  # noqa: PLC0415

    dev = torch.device("cuda", torch.cuda.current_device())
    torch.randn(4, device=dev)  # CUDA in use, as during training
    saved = rng_state(dev)
    if not isinstance(saved.get("cuda"), torch.Tensor):
        return f"no single CUDA state saved: {type(saved.get('cuda')).__name__}"
    first = torch.rand(8, device=dev)
    set_rng_state(saved, dev)
    if not torch.equal(torch.rand(8, device=dev), first):
        return "restoring the saved state did not repeat the draws"
    older = [saved["cuda"]] * (torch.cuda.device_count() + 2)  # an all-GPUs list from a bigger machine
    set_rng_state({**saved, "cuda": older}, dev)
    return "ok" if torch.equal(torch.rand(8, device=dev), first) else "the all-GPUs list restored the wrong state"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args()
    gpu_util.setup(args.device)
    if args.device == "cuda":
        gpu_util.require_cuda("gpu_cuda_paths")
    import torch  # noqa: PLC0415

    from vmambair_core.scan import probe  # noqa: PLC0415

    smoke = args.device == "cpu"
    if smoke:  # auto never picks triton on the CPU; the smoke run sends it there as a GPU's auto would
        probe.pin_auto(torch.device("cpu"), "triton")
    device = torch.device("cpu") if smoke else torch.device("cuda", torch.cuda.current_device())
    doc: dict[str, Any] = {"device": args.device, "environment": gpu_util.environment(), "runs": [], "variants": [],
                           "precision": [], "rng": None, "complete": False, "all_pass": False}
    gpu_util.write_json(args.out, doc)
    run_networks(device, smoke, doc, args.out)
    doc["precision"] = [] if smoke else precision_choices()
    doc["rng"] = "skipped (no CUDA)" if smoke else rng_roundtrip()
    doc["complete"] = True
    doc["all_pass"] = (all(v["verdict"] == "passed" for v in doc["variants"]) and bool(doc["variants"])
                       and all(r["finite"] for r in doc["runs"]) and doc["rng"] in ("ok", "skipped (no CUDA)"))
    gpu_util.write_json(args.out, doc)
    for v in doc["variants"]:
        print(f"{v['device']} {v['kind']} block_d={v['block_d']} block_l={v['block_l']} warps={v['num_warps']} "
              f"{v['dtype']} n={v['d_state']}: {v['verdict']}")
    for row in doc["precision"]:
        print(f"{row['device']} {row['name']} sm_{row['capability']}: native bf16 {row['native_bf16']}, "
              f"auto = {row['auto']}")
    print(f"rng: {doc['rng']}; all pass: {doc['all_pass']}", flush=True)
    return 0 if doc["all_pass"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
