"""`vmambair restore`: files and folders of images in, restored images out.

The work is one call, :func:`vmambair_core.inference.run.restore_images`; this module parses flags, draws
progress on stderr, prints the summary (or one JSON document on stdout) and exits with the report's code:
0 every image restored (or skipped), 3 some images failed but others were restored, 1 nothing could
be restored or the run could not start, 2 usage errors, 130 interrupted (Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from vmambair_core.data.io import DEFAULT_MAX_PIXELS
from vmambair_core.device import precision_name
from vmambair_core.errors import VmambairError
from vmambair_core.inference import TileOptions
from vmambair_core.inference.restore import SKIP_KEPT, ImageResult, RestoreJob, RestorePlan, RestoreSettings, RestoreSummary
from vmambair_core.inference.run import RestoreReport, RestoreRequest, RestoreStart, restore_images
from vmambair_core.outcome import EXIT_USAGE
from vmambair_core.threads import set_threads

from .errors import debug_enabled, fail, printable, run_guarded, shown, terminate_as_interrupt
from .options import (
    BackendOpt,
    DebugOpt,
    DeviceOpt,
    JsonOpt,
    PartnerOpt,
    PrecisionOpt,
    QuietOpt,
    StrengthOpt,
    ThreadsOpt,
    TileOpt,
    TileOverlapOpt,
    WeightsOpt,
    task_option,
)
from .tables import print_table

_SHOWN = 10  # names listed before "and N more"


def restore_cmd(
    output: Annotated[Path, typer.Option(
        "--output", "-o", show_default=False,
        help="Output folder (created if missing); with one input file, a name with an image extension (e.g. result.png) is the output file itself, in that format.",
    )],
    inputs: Annotated[
        list[Path] | None,
        typer.Argument(help="Image files and/or folders (PNG, JPEG, WebP, TIFF, BMP).", show_default=False),
    ] = None,
    input_opt: Annotated[
        list[Path] | None,
        typer.Option("--input", "-i", help="An input file or folder (repeatable), the same as a positional INPUT.", show_default=False),
    ] = None,
    task: Annotated[str | None, task_option("default: the task the --weights name or export declares, else realsr (photos).", "-t")] = None,
    weights: WeightsOpt = None,
    strength: StrengthOpt = None,
    partner: PartnerOpt = None,
    device: DeviceOpt = "auto",
    precision: PrecisionOpt = "auto",
    backend: BackendOpt = "auto",
    tile: TileOpt = None,
    tile_overlap: TileOverlapOpt = 32,
    batch_tiles: Annotated[int, typer.Option("--batch-tiles", help="Tiles per forward call (with --tile).")] = 1,
    outscale: Annotated[float | None, typer.Option(
        "--outscale", "-s", show_default=False,
        help="Final scale of the output (any number > 0, e.g. 2 or 3.5; default: the network's, x4 or x1 for derain): the network's output is resized, area filter down, Lanczos up.",
    )] = None,
    tta: Annotated[bool, typer.Option("--tta", help="x8 self-ensemble (flips and rotations): 8x the time.")] = False,
    suffix: Annotated[str, typer.Option("--suffix", help="Appended to each output name, e.g. _x4.")] = "",
    ext: Annotated[str, typer.Option("--ext", help="Output format: auto (as the input), png, jpg, webp, tif, bmp. An image whose alpha or 16-bit samples the format cannot hold is refused before it is restored (listed, exit 3).")] = "auto",
    recursive: Annotated[bool, typer.Option("--recursive", "-r", help="Descend into subfolders; mirror them in the output.")] = False,
    skip_existing: Annotated[
        bool, typer.Option("--skip-existing", help="Treat existing outputs as done: continue an interrupted run.")
    ] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace existing outputs (default: keep them and say so).")] = False,
    quality: Annotated[
        int | None, typer.Option("--quality", help="JPEG/WebP quality 1-100 (default: JPEG 95, WebP lossless).")
    ] = None,
    max_pixels: Annotated[
        int, typer.Option("--max-pixels", help="Refuse inputs with more pixels than this (checked before decoding).",
                          show_default="2**27 = 134217728, about 134 MP")
    ] = DEFAULT_MAX_PIXELS,
    strip_metadata: Annotated[bool, typer.Option(
        "--strip-metadata", help="Write no EXIF and no ICC colour profile (default: both carried over from each input; "
        "EXIF into PNG, JPEG, WebP and TIFF outputs, its orientation reset to 1 where it was applied).")] = False,
    json_out: JsonOpt = False,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Restore images with a VmambaIR network: real-world x4 SR, bicubic x4 SR or deraining.

    Grey, RGB and alpha and the bit depth (8/16) of each input are kept. Writes are atomic; existing outputs are never replaced without --overwrite; a bad file is reported and skipped (exit 3).

    Exit codes: 0 done, 1 failed, 2 usage error (a bad flag value), 3 some images failed, 130 interrupted.

    [bold]Examples[/]

    vmambair restore photos/ -o restored/    (realsr with the default weights)

    vmambair restore photo.jpg -o photo_x2.png --outscale 2

    vmambair restore photos/ -o restored/ -t realsr -w net_g_realsr.safetensors

    vmambair restore a.jpg b.png -o out/ -t sisr -w hf://OWNER/REPO/sisr.safetensors --suffix _x4 --ext png

    vmambair restore shots/ -o out/ -t derain -w derain.pth --recursive --skip-existing --tile 512
    """
    debug = debug or debug_enabled()
    set_threads(threads)
    sources = [*(inputs or []), *(input_opt or [])]
    if not sources:
        raise fail("no input given; pass image files and/or folders (or -i/--input)", EXIT_USAGE)
    try:  # the library's own checks, before any file is touched: a problem exits 2, like Typer's usage errors
        request = RestoreRequest(
            tuple(sources), output, task=task, weights=weights, strength=strength, partner=partner, device=device,
            precision=precision, backend=backend, tiles=TileOptions(tile, tile_overlap, batch_tiles), tta=tta,
            recursive=recursive, suffix=suffix, ext=ext,
            settings=RestoreSettings(skip_existing=skip_existing, overwrite=overwrite, max_pixels=max_pixels,
                                     quality=quality, outscale=outscale, strip_metadata=strip_metadata),
        )
    except VmambairError as error:
        raise fail(str(error), EXIT_USAGE) from None
    if not debug:
        _quiet_opencv()
    display = _Display(Console(stderr=True, highlight=False), quiet, json_out)
    try:
        with terminate_as_interrupt():
            report = run_guarded(lambda: restore_images(
                request, on_ready=display.ready, on_start=display.start, on_tile=display.tile, on_result=display.result,
            ), debug, json_out)
    finally:
        display.close()
    if debug and report.error is not None:
        raise report.error
    _render(report, Console(highlight=False), display.err, quiet, json_out)


def _render(report: RestoreReport, out: Console, err: Console, quiet: bool, json_out: bool) -> None:
    """The summary (or the JSON document), the list of failures, and the exit code the report gives."""
    plan, summary, results = report.start.plan, report.summary, report.results
    if json_out:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    if report.nothing_restored and len(results) == 1:  # a single image that failed reads like any other error
        raise fail(_failure_line(results[0]))
    if not json_out and not quiet and not report.nothing_restored:
        print_table(out, _summary_table(summary, len(plan.jobs), report.seconds))
        if summary.ok:
            out.print(f"results in {shown(str(plan.destination))}", soft_wrap=True)
    _report_tail(err, plan, list(results), quiet)
    if report.nothing_restored:
        raise fail(f"none of the {len(results)} images could be restored")
    if report.stop_reason is not None:
        raise fail(f"{report.stop_reason} (stopped after {len(results)} of {len(plan.jobs)} image(s))")
    if report.interrupted:
        err.print(f"[yellow]Interrupted[/] after {len(results)} of {len(plan.jobs)} image(s); every written output is "
                  "complete. Run the same command with --skip-existing to continue.", soft_wrap=True)
    raise typer.Exit(report.exit_code)


def _quiet_opencv() -> None:
    """OpenCV's own decoder warnings would duplicate (and garble) our one-line reasons."""
    import cv2  # noqa: PLC0415

    with contextlib.suppress(AttributeError, cv2.error):
        logging = cv2.utils.logging
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)


class _Display:
    """Progress on stderr: an images bar and a tiles bar on a terminal (failures printed as they happen), or
    one plain line per image when stderr is a log or a program wrapping the CLI; first, a line saying what runs."""

    def __init__(self, err: Console, quiet: bool, json_out: bool) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TimeRemainingColumn())
        self.err, self.quiet, self.json_out = err, quiet, json_out
        self.plain = not quiet and not err.is_terminal
        self.progress = Progress(*columns, console=err, transient=True, disable=quiet or not err.is_terminal)
        self.total, self.done, self.began = 0, 0, time.perf_counter()

    def ready(self, start: RestoreStart) -> None:
        restorer, self.total = start.restorer, len(start.plan.jobs)
        if not self.quiet and not self.json_out:
            why = shown(f" ({start.why})" if start.why else "")
            self.err.print(f"[bold]{start.task}[/]{why} x{restorer.scale} on {restorer.device} "
                           f"({precision_name(restorer.dtype)}) · weights {shown(start.origin)} · {self.total} "
                           f"image(s) → {shown(str(start.plan.destination))}", soft_wrap=True)
        self.progress.start()
        self.images = self.progress.add_task("images", total=self.total)
        self.tiles = self.progress.add_task("tiles", total=None)
        self.began = time.perf_counter()

    def start(self, index: int, job: RestoreJob) -> None:
        self.progress.update(self.images, description=f"images [dim]{shown(job.source.name)}[/]")
        self.progress.reset(self.tiles, total=None)

    def tile(self, done: int, total: int) -> None:
        self.progress.update(self.tiles, completed=done, total=total)

    def result(self, result: ImageResult) -> None:
        self.done += 1
        if result.status == "failed" and self.err.is_terminal:  # a log gets the list at the end only
            self.progress.console.print(f"[red]failed[/] {shown(_failure_line(result))}", soft_wrap=True)
        self.progress.advance(self.images)
        if self.plain:
            self.err.print(_progress_line(self.done, self.total, result, time.perf_counter() - self.began),
                           markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        self.progress.stop()


def _progress_line(done: int, total: int, result: ImageResult, elapsed: float) -> str:
    """``[3/10] name.png ok 1.2 s · elapsed 0:04 · ETA 0:09``: the ETA assumes the images left take as long as
    the ones done."""
    eta = elapsed / done * (total - done)
    return (f"[{done}/{total}] {printable(result.source.name)} {result.status} {result.seconds:.1f} s · "
            f"elapsed {_clock(elapsed)} · ETA {_clock(eta)}")


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _summary_table(summary: RestoreSummary, planned: int, wall: float) -> Table:
    table = Table(title="restore", title_justify="left")
    for name in ("images", "restored", "skipped", "failed", "megapixels in", "seconds", "MP/s"):
        table.add_column(name, justify="right")
    rate = f"{summary.megapixels / wall:.3f}" if wall > 0 and summary.ok else "—"
    table.add_row(str(planned), str(summary.ok), str(summary.skipped), str(summary.failed),
                  f"{summary.megapixels:.2f}", f"{wall:.1f}", rate)
    return table


def _report_tail(err: Console, plan: RestorePlan, results: list[ImageResult], quiet: bool) -> None:
    """Failures are always listed (stderr); kept outputs and ignored files unless --quiet."""
    failed = [r for r in results if r.status == "failed"]
    if failed:
        err.print(f"[bold red]{len(failed)} image(s) failed:[/]")
        for r in failed:
            err.print(f"  {shown(_failure_line(r))}", soft_wrap=True)
    if quiet:
        return
    kept = [r for r in results if r.reason == SKIP_KEPT]
    if kept:
        err.print(f"[yellow]{len(kept)} output(s) already existed and were kept[/] (pass --overwrite to replace "
                  f"them, or --skip-existing to continue a run): {shown(_names(r.target for r in kept))}", soft_wrap=True)
    if plan.ignored:
        err.print(f"[dim]{len(plan.ignored)} file(s) in the input folders are not images (or are outputs of this "
                  f"run) and were left alone: {shown(_names(plan.ignored))}[/]", soft_wrap=True)


def _failure_line(result: ImageResult) -> str:
    reason = result.reason or "failed"
    return reason if str(result.source) in reason or str(result.target) in reason else f"{result.source}: {reason}"


def _names(paths: Any) -> str:
    names = [str(p) for p in paths]
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return ", ".join(names[:_SHOWN]) + more
