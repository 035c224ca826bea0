"""CPU timing of the scans: sequential loop, chunked reference and compiled numba (a script, not a test).

Shapes follow one VmambaIR planar scan: 4 directions x 96 channels = 384 sequences, grouped B/C
(g = 4), N = 16, A = -(1..16) as initialised, dt = softplus(delta + bias) in the dt_init range
[0.001, 0.1]. ``--dt-scale`` multiplies dt (trained models have larger steps: the chunks shorten).
``--planar`` times one whole planar scan layer instead (a 64x64 map, 96 channels, the realsr
module's parameters): the reference's materialised-copies data flow against the fused numba scan.

    python benchmarks/cpu_scan.py                    # L=4096, forward, no grad
    python benchmarks/cpu_scan.py --length 16384 --threads 1 --backward
    python benchmarks/cpu_scan.py --planar --backward
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor

from vmambair_core.scan.reference import selective_scan_chunked, selective_scan_sequential

try:
    from vmambair_core.scan.numba_scan import planar_scan_numba, selective_scan_numba
except ImportError:  # numba is a dependency, but the script still times the reference without it
    planar_scan_numba = selective_scan_numba = None


def make_inputs(length: int, *, batch: int, d: int, n: int, g: int, dt_scale: float, seed: int = 0) -> list[Tensor]:
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, d, length, generator=gen)
    dt = (torch.rand(batch, d, length, generator=gen) * 0.099 + 0.001) * dt_scale
    delta = torch.log(torch.expm1(dt))  # softplus(delta) == dt
    A = -torch.arange(1, n + 1, dtype=torch.float32).repeat(d, 1)
    B = torch.randn(batch, g, n, length, generator=gen)
    C = torch.randn(batch, g, n, length, generator=gen)
    D = torch.ones(d)
    bias = torch.zeros(d)
    return [u, delta, A, B, C, D, bias]


def timings(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """(median, min) wall time after one warm-up call; min is the better estimate on a busy machine."""
    fn()  # warm-up: allocator, thread pool
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def planar_layer(args: argparse.Namespace) -> None:
    """One planar scan layer of the realsr preset: reference (copies + chunked scan) vs fused numba."""
    from vmambair_core.models.config import VmambaIRConfig  # noqa: PLC0415
    from vmambair_core.models.oss import OmniSelectiveScan  # noqa: PLC0415
    from vmambair_core.scan.cross_scan import planar_scan_unfused  # noqa: PLC0415

    torch.manual_seed(0)
    oss = OmniSelectiveScan(args.channels, VmambaIRConfig(d_state=args.n))
    params = [oss.x_proj_weight, oss.dt_projs_weight, oss.dt_projs_bias, oss.A_logs, oss.Ds]
    x = torch.randn(args.batch, args.channels, args.side, args.side, requires_grad=args.backward)

    def runner(fn: Callable[[], Tensor]) -> Callable[[], None]:
        def run() -> None:
            if args.backward:
                fn().sum().backward()
            else:
                with torch.no_grad():
                    fn()
        return run

    mode = "forward+backward" if args.backward else "forward"
    print(f"planar scan layer: b={args.batch} C={args.channels} {args.side}x{args.side} N={args.n} "
          f"threads={args.threads} {mode}, median of {args.repeats}")
    ref_med, ref_min = timings(runner(lambda: planar_scan_unfused(x, *params, backend="reference")), args.repeats)
    print(f"  reference (copies + chunked): median {ref_med * 1e3:8.1f} ms   min {ref_min * 1e3:8.1f} ms")
    if planar_scan_numba is None:
        print("  numba: not installed")
        return
    nb_med, nb_min = timings(runner(lambda: planar_scan_numba(x, *params)), args.repeats)
    print(f"  numba (fused):                median {nb_med * 1e3:8.1f} ms   min {nb_min * 1e3:8.1f} ms")
    print(f"  speed-up: {ref_med / nb_med:.1f}x (medians), {ref_min / nb_min:.1f}x (mins)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--length", type=int, default=4096)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--d", type=int, default=384)
    p.add_argument("--n", type=int, default=16)
    p.add_argument("--g", type=int, default=4)
    p.add_argument("--dt-scale", type=float, default=1.0)
    p.add_argument("--chunk-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--backward", action="store_true", help="time forward + backward instead of forward only")
    p.add_argument("--planar", action="store_true", help="time one planar scan layer (reference vs numba)")
    p.add_argument("--side", type=int, default=64, help="map side of --planar")
    p.add_argument("--channels", type=int, default=96, help="channels of --planar")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.planar:
        planar_layer(args)
        return
    inputs = make_inputs(args.length, batch=args.batch, d=args.d, n=args.n, g=args.g, dt_scale=args.dt_scale)

    def runner(fn: Callable[..., Tensor], **kw: int) -> Callable[[], Tensor]:
        if not args.backward:
            def fwd() -> Tensor:
                with torch.no_grad():
                    return fn(*inputs, True, **kw)
            return fwd
        leaves = [t.clone().requires_grad_() for t in inputs]

        def fwd_bwd() -> Tensor:
            y = fn(*leaves, True, **kw)
            y.sum().backward()
            return y
        return fwd_bwd

    with torch.no_grad():
        y_seq = selective_scan_sequential(*inputs, True)
        y_chk = selective_scan_chunked(*inputs, True, chunk_size=args.chunk_size)
        err = float((y_chk - y_seq).abs().max() / y_seq.abs().max())
    mode = "forward+backward" if args.backward else "forward"
    print(f"b={args.batch} d={args.d} n={args.n} g={args.g} L={args.length} dt_scale={args.dt_scale} "
          f"threads={args.threads} {mode}, median of {args.repeats}")
    seq_med, seq_min = timings(runner(selective_scan_sequential), args.repeats)
    print(f"  sequential loop:  median {seq_med * 1e3:8.1f} ms   min {seq_min * 1e3:8.1f} ms")
    chk_med, chk_min = timings(runner(selective_scan_chunked, chunk_size=args.chunk_size), args.repeats)
    print(f"  chunked (T<={args.chunk_size}): median {chk_med * 1e3:8.1f} ms   min {chk_min * 1e3:8.1f} ms")
    print(f"  speed-up: {seq_med / chk_med:.1f}x (medians), {seq_min / chk_min:.1f}x (mins); "
          f"max|chunked - sequential| / max|sequential| = {err:.1e}")
    if selective_scan_numba is not None:
        nb_med, nb_min = timings(runner(selective_scan_numba), args.repeats)
        with torch.no_grad():
            nb_err = float((selective_scan_numba(*inputs, True) - y_seq).abs().max() / y_seq.abs().max())
        print(f"  numba:            median {nb_med * 1e3:8.1f} ms   min {nb_min * 1e3:8.1f} ms")
        print(f"  numba vs chunked: {chk_med / nb_med:.1f}x (medians), {chk_min / nb_min:.1f}x (mins); "
              f"max|numba - sequential| / max|sequential| = {nb_err:.1e}")


if __name__ == "__main__":
    main()
