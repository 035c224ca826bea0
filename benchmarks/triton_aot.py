"""Compile every Triton kernel for real GPU targets on a machine without a GPU; report registers and spills.

Each launcher (``scan_fwd``/``scan_bwd``/``omni_fwd``/``omni_bwd``) is called on small CPU tensors with its
kernels swapped for a recorder, so the exact arguments, constexprs and launch options it would use are
captured; Triton's own binder then specialises them for the target (as a launch would) and
``triton.compile`` runs the whole pipeline down to ptxas for ``GPUTarget("cuda", cc, 32)``. The ptxas
``-v`` log gives registers and spill bytes; the PTX is searched for 64-bit integer div/rem (emulated
in ~70 instructions each on NVIDIA GPUs).

Must run WITHOUT ``TRITON_INTERPRET=1`` (the interpreter never compiles). Prints one JSON document:

    python benchmarks/triton_aot.py --cc 90,80 --dtypes fp32,bf16 --tiles default,sweep
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SPILL_RE = re.compile(r"(\d+) bytes spill stores, (\d+) bytes spill loads")
REGS_RE = re.compile(r"Used (\d+) registers")
DIV64_RE = re.compile(r"\b(?:div|rem)\.[su]64\b")


@dataclass(frozen=True)
class Launch:
    kernel: Any  # the JITFunction
    args: tuple
    kwargs: dict


class _Recorder:
    """Stands in for a JITFunction: ``kernel[grid](*args, **kwargs)`` records instead of launching."""

    def __init__(self, kernel: Any, sink: list[Launch]) -> None:
        self.kernel, self.sink = kernel, sink

    def __getitem__(self, grid: Any):
        return lambda *args, **kwargs: self.sink.append(Launch(self.kernel, args, kwargs))


@contextlib.contextmanager
def recording(module: Any, names: tuple[str, ...], sink: list[Launch]):
    saved = {n: getattr(module, n) for n in names}
    try:
        for n, k in saved.items():
            setattr(module, n, _Recorder(k, sink))
        yield
    finally:
        for n, k in saved.items():
            setattr(module, n, k)


BIG_LAYER = (4 * 96, 4096)  # (rows, length) of a 64x64 planar layer with 96 channels


def default_tiles() -> list[Any]:
    """Every distinct tile choice of ``default_config`` for the network's scans: short and long sequences
    (channel scans, small and large maps), few and many rows."""
    from vmambair_core.scan.triton_scan import default_config  # noqa: PLC0415

    out: list[Any] = []
    for rows in (4, 600, 8 * 384):
        for length in (48, 1024, 4096):
            cfg = default_config(rows, length)
            if cfg not in out:
                out.append(cfg)
    return out


def capture_launches(dtype_name: str, config: Any) -> list[Launch]:
    """The four kernel launches (generic fwd/bwd, omni fwd/bwd) for a realistic layer (64x64 map, C=96, N=16)."""
    import torch  # noqa: PLC0415

    from vmambair_core.scan import triton_omni, triton_scan  # noqa: PLC0415

    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16}[dtype_name]
    gen = torch.Generator().manual_seed(0)
    b, c, side, n, g = 1, 96, 64, 16, 4
    d, length, r = 4 * c, side * side, 6
    u, delta = (torch.randn(b, d, length, generator=gen).to(dtype) for _ in range(2))
    A = -torch.rand(d, n, generator=gen)
    B, C = (torch.randn(b, g, n, length, generator=gen).to(dtype) for _ in range(2))
    D, bias = torch.randn(d, generator=gen), torch.randn(d, generator=gen)
    x = torch.randn(b, c, side, side, generator=gen).to(dtype)
    proj = torch.randn(b, 4, r + 2 * n, length, generator=gen).to(dtype)
    wdt, wbias = torch.randn(4, c, r, generator=gen), torch.randn(4 * c, generator=gen)
    sink: list[Launch] = []
    with recording(triton_scan, ("_selective_scan_fwd_kernel", "_selective_scan_bwd_kernel"), sink):
        _, _, cfg = triton_scan.scan_fwd(u, delta, A, B, C, D, bias, True, store_states=True, config=config)
        n_chunks = -(-length // cfg.block_l)
        states = torch.zeros(b, d, n_chunks, n)
        triton_scan.scan_bwd(u, delta, A, B, C, D, bias, True, torch.randn(b, d, length), states, cfg)
    with recording(triton_omni, ("_omni_fwd_kernel", "_omni_bwd_kernel"), sink):
        _, _, cfg = triton_omni.omni_fwd(x, proj, wdt, wbias, A, D, store_states=True, config=config)
        n_chunks = -(-length // cfg.block_l)
        states = torch.zeros(b, d, n_chunks, n)
        triton_omni.omni_bwd(x, proj, wdt, wbias, A, D, torch.randn(b, c, side, side), states, cfg)
    return sink


def compile_launch(launch: Launch, cc: int) -> dict[str, Any]:
    """Specialise like a launch on a ``cc`` GPU would, compile to a cubin, read ptxas' resource report."""
    import triton  # noqa: PLC0415
    from triton.backends.compiler import GPUTarget  # noqa: PLC0415
    from triton.compiler import ASTSource, make_backend  # noqa: PLC0415
    from triton.runtime.jit import create_function_from_signature  # noqa: PLC0415

    jit, kwargs = launch.kernel, dict(launch.kwargs)
    target = GPUTarget("cuda", cc, 32)
    backend = make_backend(target)
    binder = create_function_from_signature(jit.signature, jit.params, backend)
    bound, specialization, options = binder(*launch.args, **kwargs)
    options, signature, constexprs, attrs = jit._pack_args(backend, kwargs, bound, specialization, options)
    log = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(log):
        compiled = triton.compile(ASTSource(jit, signature, constexprs, attrs), target=target,
                                  options=options.__dict__)
    seconds = time.perf_counter() - t0
    text = log.getvalue()
    spills = [(int(s), int(ld)) for s, ld in SPILL_RE.findall(text)]
    regs = [int(r) for r in REGS_RE.findall(text)]
    if not spills or not regs:
        raise RuntimeError(f"no ptxas resource report for {jit.__name__} (sm_{cc}): {text[-500:]!r}")
    return {"kernel": jit.__name__, "cc": cc, "registers": max(regs), "spill_stores": max(s for s, _ in spills),
            "spill_loads": max(ld for _, ld in spills), "div_rem_64": len(DIV64_RE.findall(compiled.asm["ptx"])),
            "seconds": round(seconds, 2)}


def compile_unit(unit: tuple[str, tuple[int, int, int], str, int, tuple[str, ...]]) -> list[dict[str, Any]]:
    """Compile the kernels of one (dtype, tiles, target): one launch capture, up to four compiles."""
    from vmambair_core.scan.triton_scan import ScanLaunchConfig  # noqa: PLC0415

    dtype_name, tiles, label, cc, keep = unit
    rows = []
    for launch in capture_launches(dtype_name, ScanLaunchConfig(*tiles)):
        if keep and launch.kernel.__name__ not in keep:
            continue
        row = {"dtype": dtype_name, "tiles": label, "BLOCK_D": tiles[0], "BLOCK_L": tiles[1], "num_warps": tiles[2]}
        row |= compile_launch(launch, cc)
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cc", default="90,80", help="compute capabilities, e.g. 90,80")
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--tiles", default="default,sweep",
                    help="'default' (every choice of default_config for the network's scans), 'big' (its choice for "
                         "a 64x64 layer), 'sweep' (SWEEP_TILES) and/or triples block_d x block_l x num_warps: 1x128x8")
    ap.add_argument("--kernels", default="", help="comma-separated kernel names to keep (default: all four)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="compile processes")
    args = ap.parse_args(argv)
    if os.environ.get("TRITON_INTERPRET", "0") not in ("", "0"):
        raise SystemExit("unset TRITON_INTERPRET: the interpreter never compiles")
    # A fresh cache: every kernel really goes through ptxas (its -v log is only written on a miss).
    os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="vmambair-aot-")
    os.environ["TRITON_DUMP_PTXAS_LOG"] = "1"
    from vmambair_core.scan.triton_scan import SWEEP_TILES, ScanLaunchConfig, default_config  # noqa: PLC0415

    configs: list[tuple[str, ScanLaunchConfig]] = []
    for item in filter(None, args.tiles.split(",")):
        if item == "default":
            configs += [("default", c) for c in default_tiles()]
        elif item == "big":
            configs.append(("default", default_config(*BIG_LAYER)))
        elif item == "sweep":
            configs += [("sweep", ScanLaunchConfig(*t)) for t in SWEEP_TILES]
        else:
            configs.append(("given", ScanLaunchConfig(*(int(v) for v in item.split("x")))))
    unique: dict[tuple[int, int, int], str] = {}  # tiles -> first label ("default" wins over "sweep")
    for label, config in configs:
        unique.setdefault((config.block_d, config.block_l, config.num_warps), label)
    keep = tuple(filter(None, args.kernels.split(",")))
    units = [(dtype_name, tiles, label, cc, keep) for dtype_name in filter(None, args.dtypes.split(","))
             for tiles, label in unique.items() for cc in (int(c) for c in args.cc.split(","))]
    rows: list[dict[str, Any]] = []
    # Each unit compiles in its own process (a fresh interpreter per worker; compiles are single-threaded).
    with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, len(units)))) as pool:
        for unit_rows in pool.map(compile_unit, units):
            rows += unit_rows
    print(json.dumps({"compiles": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
