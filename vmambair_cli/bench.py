"""`vmambair bench`: latency, throughput, memory, parameters and MACs per preset, size, backend, precision."""

from __future__ import annotations

import dataclasses
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vmambair_core.bench import BenchReport, run_bench, weights_network
from vmambair_core.device import PRECISIONS, resolve_device
from vmambair_core.bench.peers import PEERS
from vmambair_core.scan import BACKENDS
from vmambair_core.errors import ConfigError
from vmambair_core.threads import set_threads

from .errors import run_guarded
from .options import JsonOpt, ThreadsOpt
from .tables import print_table

DEFAULT_PRESETS = "realsr,sisr,derain"
DEFAULT_SIZES = {"cuda": "64,128,256,512", "cpu": "16,32"}
DEFAULT_REPEATS = {"cuda": (20, 5), "cpu": (3, 1)}


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _sizes(text: str) -> list[int]:
    try:
        return [int(t) for t in _split(text)]
    except ValueError:
        raise ConfigError(f"--sizes takes comma-separated integers (LQ side lengths), got {text!r}") from None


def report_to_dict(report: BenchReport) -> dict:
    return dataclasses.asdict(report)


def _render(report: BenchReport, con: Console) -> None:
    con.print(f"[bold]vmambair bench[/] · {report.device} · torch {report.torch_version} · {report.date}")
    t = Table(title="median latency, output throughput, peak memory, size")
    for col in ("preset", "LQ", "backend", "prec", "mode", "ms", "unfused ms", "gain", "MP/s out",
                "peak MiB", "params", "GMACs"):
        t.add_column(col, no_wrap=True,
                     justify="left" if col in ("preset", "backend", "prec", "mode") else "right")
    peer_names = [p.peer for p in report.results[0].peers] if report.results else []
    for name in peer_names:
        t.add_column(f"vs {name}", no_wrap=True, justify="right")
    for r in report.results:
        mem = "-" if r.peak_memory_mib is None else f"{r.peak_memory_mib:,.0f}"
        backend = r.backend if r.backend == r.resolved_backend else f"{r.backend}→{r.resolved_backend}"
        t.add_row(r.preset, f"{r.size}²" + (f" ×{r.batch}" if r.batch > 1 else ""), backend, r.precision, r.mode,
                  f"{r.latency_ms:.2f}", f"{r.unfused_latency_ms:.2f}", f"{r.fused_gain:.2f}×",
                  f"{r.output_mpix_per_s:.3g}", mem, f"{r.parameters / 1e6:.2f}M", f"{r.gmacs_total:.2f}",
                  *(f"{p.ratio:.2f}× ({p.latency_ms:.0f} ms)" for p in r.peers))
    print_table(con, t)
    if peer_names:
        con.print("[dim]vs <peer>: VmambaIR's time / the peer's on the same input (below 1×: VmambaIR is faster); "
                  "peers: " + "; ".join(f"{n} = {PEERS[n][0]}" for n in peer_names) + ", random weights.[/]")
    if report.scaling:
        s = Table(title="scaling: time ∝ pixels^exponent; ms per output megapixel per size")
        for col in ("preset", "backend", "prec", "mode", "exponent", "ms / MP out", "spread"):
            s.add_column(col)
        for f in report.scaling:
            per = ", ".join(f"{sz}²: {v:.1f}" for sz, v in zip(f.sizes, f.ms_per_output_mpix, strict=True))
            s.add_row(f.preset, f.backend, f.precision, f.mode, f"{f.exponent:.2f}", per, f"{f.spread:.0%}")
        print_table(con, s)
    con.print(f"[dim]FLOPs: {report.flop_convention}. Memory: {report.memory_method}.[/]")
    for note in report.notes:
        con.print(f"[dim]Note: {note}.[/]")


def bench(
    preset: Annotated[str | None, typer.Option(
        "--preset", "-p", help="Comma-separated presets: the authors' full-size networks (default: realsr,sisr,derain).",
        show_default=False)] = None,
    weights: Annotated[str | None, typer.Option(
        "--weights", "-w", help="Time what restore would run instead: comma-separated registry names (e.g. "
        "realsr-lite, the bundled default) or weights files.", show_default=False)] = None,
    sizes: Annotated[str | None, typer.Option(
        "--sizes", "-s", help="Comma-separated LQ side lengths (multiples of 8). Default: 64,128,256,512 on CUDA, "
        "16,32 on CPU.")] = None,
    backend: Annotated[str, typer.Option(
        "--backend", help=f"Comma-separated scan backends: {', '.join(BACKENDS)}.",
    )] = "auto",
    precision: Annotated[str, typer.Option("--precision", help=f"Comma-separated, of {', '.join(PRECISIONS)} (bf16, fp16: GPU; auto: autocast).")] = "fp32",
    repeats: Annotated[int | None, typer.Option(
        "--repeats", "-n", help="Timed runs per case (median reported). Default 20 on CUDA, 3 on CPU.")] = None,
    warmup: Annotated[int | None, typer.Option(
        "--warmup", help="Untimed runs before timing. Default 5 on CUDA, 1 on CPU.")] = None,
    device: Annotated[str, typer.Option("--device", "-d", help="cpu, cuda[:N] or auto.")] = "auto",
    train: Annotated[bool, typer.Option(
        "--train", help="Time a training step (forward + L1 backward + Adam step) instead of a forward.")] = False,
    batch: Annotated[int, typer.Option("--batch", help="Images per forward/step.")] = 1,
    against: Annotated[str, typer.Option(
        "--against", help="Comma-separated peer networks timed on the same input: rrdbnet (Real-ESRGAN x4plus), "
        "compact (realesr-general-x4v3). VmambaIR's time is shown as a ratio to each.")] = "",
    json_out: JsonOpt = False,
    threads: ThreadsOpt = None,
) -> None:
    """Time the networks: median latency, output MP/s, peak memory, parameters, MACs (convs/linears/
    einsums + every scan), the fused-vs-unfused planar-scan ratio and the time-vs-pixels exponent."""
    set_threads(threads)
    err = Console(stderr=True)

    def body() -> BenchReport:
        if preset is not None and weights is not None:
            raise ConfigError("pass --preset (the full-size networks) or --weights (what restore runs), not both")
        dev = resolve_device(device)
        reps, warm = DEFAULT_REPEATS[dev.type]
        networks = [weights_network(w) for w in _split(weights)] if weights else _split(preset or DEFAULT_PRESETS)
        return run_bench(
            networks, _sizes(sizes if sizes is not None else DEFAULT_SIZES[dev.type]), _split(backend),
            _split(precision), device=dev, repeats=reps if repeats is None else repeats,
            warmup=warm if warmup is None else warmup, train=train, batch=batch, against=_split(against),
            progress=None if json_out else (lambda msg: err.print(f"[dim]… {msg}[/]")),
        )

    report = run_guarded(body, json_out=json_out)
    if json_out:
        typer.echo(json.dumps(report_to_dict(report), indent=2))
        return
    con = Console()  # a pipe gets 80 columns (or $COLUMNS); tables too wide for it are stacked
    _render(report, con)
    if weights is None:
        con.print("[dim]Timed: the authors' full-size networks; --weights realsr-lite (or another name or file) "
                  "times what restore runs.[/]", soft_wrap=True)
