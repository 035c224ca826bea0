"""Triton kernels vs the float64 reference on the GPU: outputs and ALL gradients, several shapes.

Generic scan: u, delta, A, B, C, D, delta_bias; fused omni scan: x and every projection weight
(vs planar_scan_unfused on the float64 loop). Shapes include odd maps, L far above the chunk
length, L > 65536 (int64 offsets), bf16 inputs, the channel-scan shape, and the whole realsr
network (triton vs reference backend). Writes one JSON; exit status 1 if any check fails.

    python benchmarks/gpu_triton_check.py --device cuda --out OUT/triton_check.json
    python benchmarks/gpu_triton_check.py --device cpu --out /tmp/c.json   # interpreter, toy shapes
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_util  # noqa: E402  (puts the checkout on sys.path: the project is not installed on the GPU machine)

FP32_OUT, FP32_GRAD, BF16 = 2e-5, 2e-4, 3e-2


def scan_inputs(b, d, length, n, g, seed, device, torch):
    gen = torch.Generator(device="cpu").manual_seed(seed)
    f64 = dict(dtype=torch.float64)
    u = torch.randn(b, d, length, generator=gen, **f64)
    delta = torch.randn(b, d, length, generator=gen, **f64) * 0.5 - 1.0
    A = -torch.exp(torch.randn(d, n, generator=gen, **f64) * 0.5)
    B = torch.randn(b, g, n, length, generator=gen, **f64)
    C = torch.randn(b, g, n, length, generator=gen, **f64)
    D = torch.randn(d, generator=gen, **f64)
    bias = torch.randn(d, generator=gen, **f64) * 0.5
    return [t.to(device) for t in (u, delta, A, B, C, D, bias)]


def check_scan(name, shape, dtype_name, device, torch, ref_kind="sequential", config=None):
    from vmambair_core.scan.reference import selective_scan_chunked, selective_scan_sequential  # noqa: PLC0415
    from vmambair_core.scan.triton_scan import selective_scan_triton  # noqa: PLC0415

    b, d, length, n, g = shape
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    base = scan_inputs(b, d, length, n, g, 0, device, torch)
    low = [t.to(dtype if i in (0, 1, 3, 4) else torch.float32).requires_grad_() for i, t in enumerate(base)]
    ref_in = [t.detach().double().requires_grad_() for t in low]
    ref_fn = selective_scan_sequential if ref_kind == "sequential" else selective_scan_chunked
    t0 = time.perf_counter()
    y = selective_scan_triton(*low, True, config=config)
    dy = torch.randn(y.shape, generator=torch.Generator(device="cpu").manual_seed(1), dtype=torch.float64).to(device)
    grads = torch.autograd.grad(y, low, dy.to(y.dtype))
    t_kernel = time.perf_counter() - t0
    y_ref = ref_fn(*ref_in, True)
    g_ref = torch.autograd.grad(y_ref, ref_in, dy)
    errs = {"y": gpu_util.rel_err(y, y_ref)}
    errs.update({f"d{n_}": gpu_util.rel_err(a, r) for n_, a, r in
                 zip(("u", "delta", "A", "B", "C", "D", "delta_bias"), grads, g_ref, strict=True)})
    tol_out, tol_grad = (FP32_OUT, FP32_GRAD) if dtype_name == "fp32" else (BF16, BF16)
    ok = errs["y"] < tol_out and all(v < tol_grad for k, v in errs.items() if k != "y")
    return {"kind": "scan", "name": name, "shape(b,d,l,n,g)": shape, "dtype": dtype_name, "reference": ref_kind,
            "errors": errs, "tol_out": tol_out, "tol_grad": tol_grad, "pass": ok,
            "first_call_s_incl_compile": round(t_kernel, 2)}


def omni_params(b, c, h, w, n, r, seed, device, torch):
    gen = torch.Generator(device="cpu").manual_seed(seed)
    f64 = dict(dtype=torch.float64)
    x = torch.randn(b, c, h, w, generator=gen, **f64)
    xp = torch.randn(4, r + 2 * n, c, generator=gen, **f64) * c**-0.5
    wdt = torch.randn(4, c, r, generator=gen, **f64) * r**-0.5
    bias = torch.randn(4, c, generator=gen, **f64) * 0.5 - 2.0
    a_logs = torch.log(torch.arange(1, n + 1, **f64)).repeat(4 * c, 1) + 0.1 * torch.randn(4 * c, n, generator=gen, **f64)
    ds = torch.randn(4 * c, generator=gen, **f64)
    return [t.to(device) for t in (x, xp, wdt, bias, a_logs, ds)]


def check_omni(name, shape, dtype_name, device, torch, config=None):
    from vmambair_core.scan.cross_scan import planar_scan_unfused  # noqa: PLC0415
    from vmambair_core.scan.triton_omni import planar_scan_triton  # noqa: PLC0415

    b, c, h, w, n = shape
    r = -(-c // 16)
    params = omni_params(b, c, h, w, n, r, 0, device, torch)
    ref_in = [t.clone().requires_grad_() for t in params]
    y_ref = planar_scan_unfused(*ref_in, backend="sequential")
    dy = torch.randn(y_ref.shape, generator=torch.Generator(device="cpu").manual_seed(2),
                     dtype=torch.float64).to(device)
    g_ref = torch.autograd.grad(y_ref, ref_in, dy)
    fast = [t.float().requires_grad_() for t in params]
    t0 = time.perf_counter()
    if dtype_name == "bf16":
        with torch.autocast(device, dtype=torch.bfloat16):
            y = planar_scan_triton(fast[0].to(torch.bfloat16), *fast[1:], config=config)
    else:
        y = planar_scan_triton(*fast, config=config)
    grads = torch.autograd.grad(y, fast, dy.float())
    t_kernel = time.perf_counter() - t0
    names = ("x", "x_proj_weight", "dt_projs_weight", "dt_projs_bias", "A_logs", "Ds")
    errs = {"y": gpu_util.rel_err(y, y_ref)}
    errs.update({f"d{n_}": gpu_util.rel_err(a, rr) for n_, a, rr in zip(names, grads, g_ref, strict=True)})
    tol_out, tol_grad = (FP32_OUT, FP32_GRAD) if dtype_name == "fp32" else (BF16, 2 * BF16)
    ok = errs["y"] < tol_out and all(v < tol_grad for k, v in errs.items() if k != "y")
    return {"kind": "omni", "name": name, "shape(b,c,h,w,n)": shape, "dtype": dtype_name, "reference":
            "planar_scan_unfused, sequential, float64", "errors": errs, "tol_out": tol_out, "tol_grad": tol_grad,
            "pass": ok, "first_call_s_incl_compile": round(t_kernel, 2)}


def check_network(device, torch, side):
    """realsr forward: triton backend (fused planar + generic channel scans) vs the reference backend."""
    from vmambair_core.models import build_model  # noqa: PLC0415

    torch.manual_seed(0)
    net = build_model("realsr").to(device).eval()
    img = torch.rand(1, 3, side, side, generator=torch.Generator(device="cpu").manual_seed(3)).to(device)
    with torch.no_grad():
        ref = net.set_scan_backend("reference")(img)
        fast = net.set_scan_backend("triton")(img)
        with torch.autocast(device, dtype=torch.bfloat16):
            fast16 = net(img).float()
    errs = {"fp32": gpu_util.rel_err(fast, ref), "bf16_autocast": gpu_util.rel_err(fast16, ref)}
    return {"kind": "network", "name": f"realsr {side}x{side} triton vs reference", "errors": errs,
            "tol_out": {"fp32": 1e-4, "bf16_autocast": 5e-2},
            "pass": errs["fp32"] < 1e-4 and errs["bf16_autocast"] < 5e-2}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    gpu_util.setup(args.device)
    import torch  # noqa: PLC0415

    # Everything the checks import, before the first CUDA need (the CPU rehearsal test relies on it).
    import vmambair_core.models  # noqa: F401, PLC0415
    import vmambair_core.scan.cross_scan  # noqa: F401, PLC0415
    import vmambair_core.scan.triton_omni  # noqa: F401, PLC0415
    from vmambair_core.scan.triton_scan import ScanLaunchConfig  # noqa: PLC0415

    dev = args.device
    if dev == "cuda":
        gpu_util.require_cuda("gpu_triton_check")
    if dev == "cuda":
        scan_cases = [  # (name, (b, d, l, n, g), dtype, reference, config)
            ("grouped, odd L", (2, 8, 300, 16, 2), "fp32", "sequential", None),
            ("4x96 channels, 64x64 map", (1, 384, 4096, 16, 4), "fp32", "sequential", None),
            ("odd L, bf16", (2, 6, 1000, 16, 2), "bf16", "sequential", None),
            ("channel scan (realsr, C=384)", (3, 2, 384, 16, 2), "fp32", "sequential", None),
            ("L > 65536 (int64 offsets)", (1, 4, 70001, 16, 1), "fp32", "chunked", None),
            ("tiles 4x32", (2, 16, 333, 16, 2), "fp32", "sequential", ScanLaunchConfig(4, 32, 4)),
        ]
        omni_cases = [  # (name, (b, c, h, w, n), dtype, config)
            ("odd map 17x23", (2, 48, 17, 23, 16), "fp32", None),
            ("64x64 x 96", (1, 96, 64, 64, 16), "fp32", None),
            ("64x64 x 96 bf16 autocast", (1, 96, 64, 64, 16), "bf16", None),
            ("tall 40x9, 3 channels, tiles 2x32", (1, 3, 40, 9, 16), "fp32", ScanLaunchConfig(2, 32, 4)),
        ]
        network_side = 64
    else:
        tiny = ScanLaunchConfig(2, 8, 4)
        scan_cases = [("toy grouped", (1, 4, 21, 4, 2), "fp32", "sequential", tiny),
                      ("toy bf16", (1, 2, 13, 4, 1), "bf16", "sequential", tiny)]
        omni_cases = [("toy odd map", (1, 3, 3, 5, 4), "fp32", tiny)]
        network_side = None
    results: list[dict] = []
    env = gpu_util.environment()

    def record(res: dict, complete: bool = False) -> None:  # rewrite after every check: a timeout keeps results
        results.append(res)
        print(f"{'ok ' if res['pass'] else 'FAIL'} {res['kind']} {res['name']}: {res['errors']}", flush=True)
        gpu_util.write_json(args.out, {"environment": env, "device": dev, "complete": complete,
                                       "all_pass": all(r["pass"] for r in results), "checks": results})

    jobs = [lambda a=a: check_scan(a[0], a[1], a[2], dev, torch, a[3], a[4]) for a in scan_cases]
    jobs += [lambda a=a: check_omni(a[0], a[1], a[2], dev, torch, a[3]) for a in omni_cases]
    if network_side:
        jobs.append(lambda: check_network(dev, torch, network_side))
    for i, job in enumerate(jobs):
        record(job(), complete=i == len(jobs) - 1)
    return 0 if all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
