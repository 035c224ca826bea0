"""One omni-scan layer on the GPU: fused Triton kernel vs the unfused data flow, plus a tile sweep.

1. Tile sweep of the fused kernel at 64x64 x 96 channels (fp32): forward and forward+backward per
   (block_d, block_l, num_warps); the fastest forward tiles are written to --tiles-out so that the
   later whole-network runs use them (VMAMBAIR_TRITON_TILES).
2. Layer timings at 64x64 and 128x128 maps, 48-384 channels, fp32 and bf16 (autocast), batch 1:
   fused (planar_scan_triton) vs unfused = four materialised copies + the same Triton selective
   scan + merge (planar_scan_unfused, backend triton) and, when mamba-ssm is importable, copies +
   mamba-ssm's selective_scan_cuda. Forward under no_grad; backward = (forward+backward) - forward.
   Ratios and the distance to the exp-throughput floor (4*C*L*N exps at ~4e12 exp/s on an H100).
3. The selective scan alone (384 sequences, N=16, L=4096 and 16384): our generic kernel vs mamba-ssm,
   the shapes of docs/performance.md's quoted H100 table.

    python benchmarks/gpu_omni_bench.py --device cuda --out OUT/omni_bench.json --tiles-out WORK/best_tiles.txt
    python benchmarks/gpu_omni_bench.py --device cpu --out /tmp/o.json    # interpreter smoke run, toy sizes
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_util  # noqa: E402  (puts the checkout on sys.path: the project is not installed on the GPU machine)

EXP_PER_S_H100 = 4e12  # SFU exp2: 16/clk/SM x 132 SMs x ~1.9 GHz (docs/performance.md)


def layer_params(c, h, w, n, device, torch):
    r = -(-c // 16)
    gen = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(1, c, h, w, generator=gen)
    xp = torch.randn(4, r + 2 * n, c, generator=gen) * c**-0.5
    wdt = torch.randn(4, c, r, generator=gen) * r**-0.5
    bias = torch.randn(4, c, generator=gen) * 0.5 - 3.0
    a_logs = torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(4 * c, 1)
    ds = torch.ones(4 * c)
    return [t.to(device) for t in (x, xp, wdt, bias, a_logs, ds)]


def median_ms(fn, device, torch, repeats, warmup):
    from vmambair_core.bench import time_runs  # noqa: PLC0415

    return statistics.median(time_runs(fn, torch.device(device), repeats=repeats, warmup=warmup))


def time_layer(fn, params, precision, device, torch, repeats, warmup):
    """(forward ms, forward+backward ms) of one planar-scan implementation."""
    import contextlib  # noqa: PLC0415

    def ctx():
        return torch.autocast(device, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()

    x_in = params[0].to(torch.bfloat16) if precision == "bf16" else params[0]
    leaves = [x_in.detach().requires_grad_()] + [p.detach().requires_grad_() for p in params[1:]]

    def fwd():
        with torch.no_grad(), ctx():
            return fn(x_in, *params[1:])

    def fwd_bwd():
        with ctx():
            y = fn(*leaves)
        y.backward(torch.ones_like(y))

    return median_ms(fwd, device, torch, repeats, warmup), median_ms(fwd_bwd, device, torch, repeats, warmup)


def sweep_tiles(device, torch, side, c, tiles, repeats, warmup):
    from vmambair_core.scan.triton_omni import planar_scan_triton  # noqa: PLC0415
    from vmambair_core.scan.triton_scan import ScanLaunchConfig  # noqa: PLC0415

    params = layer_params(c, side, side, 16, device, torch)
    rows = []
    for bd, bl, nw in tiles:
        cfg = ScanLaunchConfig(bd, bl, nw)
        try:
            fwd, fb = time_layer(lambda *a, cfg=cfg: planar_scan_triton(*a, config=cfg), params, "fp32", device,
                                 torch, repeats, warmup)
            rows.append({"block_d": bd, "block_l": bl, "num_warps": nw, "fwd_ms": fwd, "fwd_bwd_ms": fb})
        except Exception as exc:  # noqa: BLE001 - a tile that does not compile/fit is a result, not a crash
            rows.append({"block_d": bd, "block_l": bl, "num_warps": nw, "error": f"{type(exc).__name__}: {exc}"[:300]})
        print(f"tiles {bd}x{bl}/{nw}w: {rows[-1]}", flush=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--out", required=True)
    ap.add_argument("--tiles-out", default=None, help="write the fastest forward tiles here (block_d=..,...)")
    args = ap.parse_args()
    gpu_util.setup(args.device)
    import os  # noqa: PLC0415

    import torch  # noqa: PLC0415

    import vmambair_core.bench  # noqa: F401, PLC0415  (time_runs; imported before the first CUDA need)
    from vmambair_core.scan import backend_status  # noqa: PLC0415
    from vmambair_core.scan.cross_scan import planar_scan_unfused  # noqa: PLC0415
    from vmambair_core.scan.triton_omni import planar_scan_triton  # noqa: PLC0415
    from vmambair_core.scan.triton_scan import SWEEP_TILES, TILES_ENV, selective_scan_triton  # noqa: PLC0415

    dev = args.device
    if dev == "cuda":
        gpu_util.require_cuda("gpu_omni_bench")
    t_start = time.time()
    have_mamba = dev == "cuda" and backend_status("cuda")["mamba_ssm"] is None
    if dev == "cuda":
        tiles = list(SWEEP_TILES)
        sweep_shape, maps, channels, precisions = (64, 96), (64, 128), (48, 96, 192, 384), ("fp32", "bf16")
        repeats, warmup, scan_lengths, scan_rows = 10, 3, (4096, 16384), 384
    else:  # interpreter smoke run: every code path, toy sizes
        tiles = [(1, 8, 4), (2, 16, 4)]
        sweep_shape, maps, channels, precisions = (4, 3), (4,), (2,), ("fp32",)
        repeats, warmup, scan_lengths, scan_rows = 1, 0, (24,), 4

    doc = {"environment": gpu_util.environment(), "device": dev, "mamba_ssm": have_mamba, "complete": False,
           "sweep_shape": {"map": sweep_shape[0], "channels": sweep_shape[1]}, "best_tiles": None,
           "tile_sweep": [], "layers": [], "scan_alone": [],
           "notes": "batch 1, N=16, median of CUDA-event timings; bwd = median(fwd+bwd) - median(fwd); "
                    "unfused_* = planar_scan_unfused (cross-scan copies, einsum projections, scan, cross-merge)"}

    def save() -> None:  # after every section: a step cut by its timeout still leaves its results
        doc["seconds"] = round(time.time() - t_start, 1)
        gpu_util.write_json(args.out, doc)

    sweep = sweep_tiles(dev, torch, sweep_shape[0], sweep_shape[1], tiles, repeats, warmup)
    doc["tile_sweep"] = sweep
    good = [r for r in sweep if "fwd_ms" in r]
    best = min(good, key=lambda r: r["fwd_ms"]) if good else None
    if best:
        spec = f"block_d={best['block_d']},block_l={best['block_l']},num_warps={best['num_warps']}"
        os.environ[TILES_ENV] = spec  # everything below (fused and our unfused kernel) uses these tiles
        if args.tiles_out:
            Path(args.tiles_out).write_text(spec + "\n")
    doc["best_tiles"] = best
    save()

    variants = {"fused": planar_scan_triton,
                "unfused_triton": lambda *a: planar_scan_unfused(*a, backend="triton")}
    if have_mamba:
        variants["unfused_mamba_ssm"] = lambda *a: planar_scan_unfused(*a, backend="mamba_ssm")
    layers = doc["layers"]
    for precision in precisions:  # the fp32 table first: it carries the targets
        for side in maps:
            for c in channels:
                params = layer_params(c, side, side, 16, dev, torch)
                row = {"map": side, "channels": c, "precision": precision,
                       "exp_floor_us": 4 * c * side * side * 16 / EXP_PER_S_H100 * 1e6}
                for name, fn in variants.items():
                    fwd, fb = time_layer(fn, params, precision, dev, torch, repeats, warmup)
                    row[f"{name}_fwd_ms"], row[f"{name}_bwd_ms"] = fwd, max(fb - fwd, 0.0)
                for base in [v for v in variants if v != "fused"]:
                    row[f"gain_fwd_vs_{base}"] = row[f"{base}_fwd_ms"] / row["fused_fwd_ms"]
                    row[f"gain_bwd_vs_{base}"] = row[f"{base}_bwd_ms"] / max(row["fused_bwd_ms"], 1e-9)
                row["fused_fwd_over_exp_floor"] = row["fused_fwd_ms"] * 1e3 / row["exp_floor_us"]
                layers.append(row)
                save()
                print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)

    scans = doc["scan_alone"]
    for length in scan_lengths:
        gen = torch.Generator(device="cpu").manual_seed(0)
        g = 4 if scan_rows % 4 == 0 else 1
        u = torch.randn(1, scan_rows, length, generator=gen).to(dev)
        delta = (torch.randn(1, scan_rows, length, generator=gen) * 0.5 - 3).to(dev)
        A = -torch.arange(1, 17, dtype=torch.float32).repeat(scan_rows, 1).to(dev)
        B = torch.randn(1, g, 16, length, generator=gen).to(dev)
        C = torch.randn(1, g, 16, length, generator=gen).to(dev)
        D, bias = torch.ones(scan_rows, device=dev), torch.zeros(scan_rows, device=dev)
        impls = {"triton": selective_scan_triton}
        if have_mamba:
            from vmambair_core.scan.mamba_ssm_scan import selective_scan_mamba_ssm  # noqa: PLC0415

            impls["mamba_ssm"] = selective_scan_mamba_ssm
        for name, fn in impls.items():
            row = {"impl": name, "rows": scan_rows, "length": length}
            for precision in ("fp32", "bf16"):
                dt = torch.bfloat16 if precision == "bf16" else torch.float32
                args_p = [t.to(dt) for t in (u, delta)] + [A] + [t.to(dt) for t in (B, C)] + [D, bias]
                with torch.no_grad():
                    row[f"fwd_{precision}_ms"] = median_ms(lambda: fn(*args_p, True), dev, torch, repeats, warmup)
            leaves = [t.clone().requires_grad_() for t in (u, delta, A, B, C, D, bias)]

            def fb(fn=fn, leaves=leaves):
                y = fn(*leaves, True)
                y.backward(torch.ones_like(y))

            row["fwd_bwd_fp32_ms"] = median_ms(fb, dev, torch, repeats, warmup)
            scans.append(row)
            save()
            print(row, flush=True)

    doc["complete"] = True
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
