"""`vmambair eval`: score the network or a baseline on the paper's benchmarks, beside the published numbers.

The work is one call, :func:`vmambair_core.evaluate.run.run_eval`; this module parses flags, draws progress
on stderr, prints the table (or one JSON document on stdout) and exits with the report's code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from vmambair_core.evaluate import BENCHMARKS, ENV_DATA_ROOT, EvalRequest, EvalResult
from vmambair_core.evaluate.noref import NIQE_NOTE, pattern_note
from vmambair_core.evaluate.run import EvalOutputs, EvalPlan, EvalReport, run_eval
from vmambair_core.threads import set_threads

from .errors import run_guarded, shown, terminate_as_interrupt
from .options import (
    BackendOpt, DebugOpt, DeviceOpt, JsonOpt, PartnerOpt, QuietOpt, StrengthOpt, ThreadsOpt, TileOpt, TileOverlapOpt,
    WeightsOpt, precision_option, task_option,
)
from .tables import print_table


def _fmt(x: float | None, digits: int) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _render(con: Console, results: list[EvalResult]) -> None:
    """PSNR/SSIM/LPIPS columns only where some set has ground truth; NIQE/pattern only where computed."""
    with_ref = any(r.reference for r in results)
    with_nr = any(r.no_reference for r in results)
    t = Table(title="vmambair eval", title_justify="left")
    t.add_column("benchmark", no_wrap=True)
    t.add_column("method")  # wraps when the terminal is narrow: the number columns keep their digits
    cols = ("images", *(("PSNR", "SSIM", "LPIPS") if with_ref else ()), *(("NIQE↓", "pattern↓") if with_nr else ()),
            "s/image")
    for col in cols:
        t.add_column(col, justify="right", no_wrap=True)
    for r in results:
        cells = [shown(r.benchmark), f"[bold]{shown(r.model)}[/]", f"{len(r.scored)}/{r.images_in_set}"]
        if with_ref:
            cells += [f"[bold]{_fmt(r.mean_psnr, 2)}[/]", f"[bold]{_fmt(r.mean_ssim, 4)}[/]", _fmt(r.mean_lpips, 4)]
        if with_nr:
            cells += [f"[bold]{_fmt(r.mean_of('niqe'), 3)}[/]", _fmt(r.mean_of("pattern"), 3)]
        t.add_row(*cells, _fmt(r.mean_seconds, 3))
        for p in (p for p in r.published if p.method in ("VmambaIR", "bicubic")):
            t.add_row("", f"[dim]{shown(p.method)} ({p.short_source})[/]", "", f"[dim]{_fmt(p.psnr, 2)}[/]",
                      f"[dim]{_fmt(p.ssim, 4)}[/]", f"[dim]{_fmt(p.lpips, 4)}[/]", *(("", "") if with_nr else ()))
        t.add_section()
    print_table(con, t)
    if with_nr:
        con.print(shown(NIQE_NOTE), soft_wrap=True)
        for scale in sorted({r.scale for r in results if r.no_reference and r.scale > 1}):
            con.print(shown(pattern_note(scale)), soft_wrap=True)
    for r in results:
        if not r.reference:
            notes = [r.lq, "NIQE only (no PSNR/SSIM/LPIPS without ground truth)"]
        else:
            notes = [r.convention.describe(), r.lq]
            notes.append(f"LPIPS = {r.lpips_name}" if r.lpips_name else r.lpips_note or "no LPIPS")
        if r.limited:
            notes.append(f"--limit: {len(r.images)} of {r.images_in_set} images, means not comparable with papers")
        con.print(f"[bold]{shown(r.benchmark)}[/] ({shown(r.location)}, {shown(r.layout)}): "
                  + shown("; ".join(notes)), soft_wrap=True)
        for f in r.failed:
            con.print(f"  [red]failed[/] {shown(f.name)}: {shown(f.error or '')}", soft_wrap=True)
    if any(r.published for r in results):
        con.print("[dim]Published rows (dim) are the paper's Tables 1-3 and the bicubic baseline SR papers print; "
                  "`--json` lists every compared method.[/]", soft_wrap=True)


def eval_cmd(
    bench: Annotated[str | None, typer.Option("--bench", "-b", help=f"Benchmark(s), comma-separated: {', '.join(BENCHMARKS)}.")] = None,
    lq: Annotated[Path | None, typer.Option("--lq", help="Folder of degraded inputs, paired by file name with --gt; alone (no ground truth): outputs scored by NIQE.")] = None,
    gt: Annotated[Path | None, typer.Option("--gt", help="Folder of ground truth; alone, LR is made from it by MATLAB bicubic x1/4.")] = None,
    data_root: Annotated[Path | None, typer.Option("--data-root", envvar=ENV_DATA_ROOT, help="Folder holding the benchmark folders (Set5/, Rain100H/, or sr/Set5/, ...).")] = None,
    model: Annotated[Literal["vmambair", "bicubic", "identity", "realesrgan"], typer.Option("--model", help="vmambair (the network; --weights may also be a Real-ESRGAN file), bicubic (MATLAB bicubic x4 of the LR, no network), identity (the input itself) or realesrgan (--weights RealESRGAN_x4plus.pth or realesr-general-x4v3.pth, the official files).")] = "vmambair",
    task: Annotated[str | None, task_option("default: the benchmark's.", "-t")] = None,
    weights: WeightsOpt = None,
    strength: StrengthOpt = None,
    partner: PartnerOpt = None,
    lr_from: Annotated[Literal["hr", "files"] | None, typer.Option("--lr-from", help="Bicubic SR sets: hr (default) makes LR from HR, MATLAB-exact; files reads the set's LR folder.")] = None,
    y_mode: Annotated[Literal["matlab", "basicsr"], typer.Option("--y-mode", help="Y channel: matlab (rgb2ycbcr rounded to integers, the papers' numbers) or basicsr (BasicSR's float Y).")] = "matlab",
    channel: Annotated[Literal["y", "rgb"] | None, typer.Option("--channel", help="Score y (default) or rgb.")] = None,
    crop_border: Annotated[int | None, typer.Option("--crop-border", help="Pixels cropped from each side before scoring (default: the scale for SR, 0 for deraining).")] = None,
    lpips: Annotated[bool | None, typer.Option("--lpips/--no-lpips", help="LPIPS (default: on where the paper reports it). Skipped with a note when its weights are missing.")] = None,
    lpips_weights: Annotated[Path | None, typer.Option("--lpips-weights", help="LPIPS backbone file (vgg16-397923af.pth), or a folder with it and the heads (vgg.pth).")] = None,
    lpips_net: Annotated[Literal["vgg", "alex"], typer.Option("--lpips-net", help="LPIPS backbone: vgg (the authors') or alex.")] = "vgg",
    niqe: Annotated[bool | None, typer.Option("--niqe/--no-niqe", help="No-reference scores, lower is better: NIQE and the fixed-pattern amplitude of xN outputs (default: on where there is no ground truth, e.g. RealSRSet or --lq alone).")] = None,
    save_images: Annotated[Path | None, typer.Option("--save-images", help="Write the outputs as PNG files under this folder, one subfolder per benchmark.")] = None,
    csv_path: Annotated[Path | None, typer.Option("--csv", help="Write one row per image to this CSV file.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing --csv file (inputs are never overwritten).")] = False,
    json_out: JsonOpt = False,
    device: DeviceOpt = "auto",
    precision: Annotated[str, precision_option("default fp32: what the published numbers use.")] = "fp32",
    tile: TileOpt = None,
    tile_overlap: TileOverlapOpt = 32,
    backend: BackendOpt = "auto",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N images of each set (name order), for quick checks.")] = None,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Score VmambaIR, a baseline or Real-ESRGAN on benchmarks (PSNR/SSIM, LPIPS; NIQE without ground truth), with the paper's numbers beside.

    Exit codes: 0 all images scored; 1 error; 3 some images failed (listed).
    """
    set_threads(threads)
    err = Console(stderr=True, highlight=False)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    bar = Progress(*columns, console=err, disable=quiet)
    jobs: dict[str, TaskID] = {}

    def ready(plan: EvalPlan) -> None:
        if not quiet and not json_out:  # the first line says which weights are scored
            for line in plan.weights_lines:
                err.print(shown(line), soft_wrap=True)
        for note in plan.notes:
            if not quiet or note.startswith("warning"):
                err.print(f"[yellow]{shown(note)}[/]", soft_wrap=True)
        if plan.lpips_note and not quiet:
            err.print(f"[yellow]{shown(plan.lpips_note)}[/]", soft_wrap=True)
        bar.start()

    def run() -> EvalReport:
        request = EvalRequest(
            benches=tuple(b.strip() for b in bench.split(",") if b.strip()) if bench else (),
            gt_dir=gt, lq_dir=lq, data_root=data_root, model=model, task=task, weights=weights, lq_source=lr_from,
            y_mode=y_mode, channel=channel, crop_border=crop_border, lpips=lpips, niqe=niqe, device=device,
            precision=precision, tile=tile, tile_overlap=tile_overlap, scan_backend=backend,
        )
        outputs = EvalOutputs(lpips_net=lpips_net, lpips_weights=lpips_weights, save_images=save_images, csv=csv_path,
                              overwrite=overwrite, limit=limit, strength=strength, partner=partner)
        return run_eval(request, outputs, on_ready=ready,
                        on_set=lambda data, total: jobs.__setitem__(data.name, bar.add_task(data.name, total=total)),
                        on_image=lambda data: bar.advance(jobs[data.name]))

    try:
        with terminate_as_interrupt():  # a SIGTERM while a benchmark cache is built removes its temporary folder
            report = run_guarded(run, debug, json_out)
    finally:
        bar.stop()
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif not quiet:
        _render(Console(highlight=False), list(report.results))
    if report.failed:
        err.print(f"[red]{len(report.failed)} image(s) failed[/]: {shown(', '.join(report.failed))}", soft_wrap=True)
    raise typer.Exit(report.exit_code)
