"""`vmambair restore`: files and folders of images in, restored images out.

The work is :mod:`vmambair_core.inference.restore`; this module parses flags, draws progress on
stderr, prints the summary (or one JSON document on stdout) and picks the exit code:
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
from vmambair_core.errors import VmambairError
from vmambair_core.device import precision_name, resolve_device, resolve_precision
from vmambair_core.inference import Restorer, TileOptions
from vmambair_core.inference.restore import (
    SKIP_KEPT,
    ImageResult,
    RestoreJob,
    RestorePlan,
    RestoreSettings,
    RestoreSummary,
    check_naming,
    plan_restore,
    prepare_output_dir,
    restore_files,
)
from vmambair_core.models import get_preset
from vmambair_core.threads import set_threads
from vmambair_core.weights import infer_task, load
from vmambair_core.weights.blend import blend_for

from .errors import (
    EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, debug_enabled, fail, run_guarded,
    printable, shown, terminate_as_interrupt,
)
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
    task: Annotated[str | None, typer.Option("--task", "-t", help="realsr, sisr or derain; default: the task the --weights name or export declares, else realsr (photos).")] = None,
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
        "EXIF into PNG, JPEG and WebP outputs, its orientation reset to 1 where it was applied).")] = False,
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
    settings = _check_usage(skip_existing, overwrite, max_pixels, quality, tile, tile_overlap, batch_tiles, suffix, ext,
                            outscale, strip_metadata)
    if not debug:
        _quiet_opencv()
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)

    def setup() -> tuple[RestorePlan, Restorer, str, str, str]:
        chosen, why = (task, "") if task is not None else infer_task(weights)
        get_preset(chosen)  # an unknown task fails before the inputs are walked
        plan = plan_restore(sources, output, recursive=recursive, suffix=suffix, ext=ext)
        if not plan.jobs:
            where = ", ".join(str(p) for p in sources)
            raise VmambairError(f"no images found in {where} (looked for png, jpg, jpeg, webp, tif, tiff, bmp"
                                f"{'' if recursive else '; add --recursive for subfolders'})")
        dev = resolve_device(device)
        resolve_precision(precision, dev)  # a bad --precision fails before the model is loaded
        model = load(blend_for(chosen, weights, strength, partner), chosen, device=dev, scan_backend=backend)
        net, origin = model.net, model.origin
        prepare_output_dir(plan.output_dir)  # after the weights: a run refused for them leaves no empty folder
        restorer = Restorer(net, dev, precision=precision, tile=tile, overlap=tile_overlap,
                            tiles_per_batch=batch_tiles, tta=tta)
        return plan, restorer, origin, chosen, why

    plan, restorer, origin, chosen_task, why = run_guarded(setup, debug, json_out)
    if not quiet and not json_out:
        err.print(f"[bold]{chosen_task}[/]{shown(f' ({why})' if why else '')} x{restorer.scale} on {restorer.device} ({precision_name(restorer.dtype)}) "
                  f"· weights {shown(origin)} · {len(plan.jobs)} image(s) → {shown(str(plan.destination))}", soft_wrap=True)

    results: list[ImageResult] = []
    started = time.perf_counter()
    interrupted, fatal = False, None
    try:
        with terminate_as_interrupt():
            _run(plan, restorer, settings, results, err, quiet)
    except KeyboardInterrupt:
        interrupted = True
    except (VmambairError, OSError, MemoryError) as error:  # would repeat for every image: stop the batch
        if debug:
            raise
        fatal = str(error) if isinstance(error, VmambairError) else f"{type(error).__name__}: {error}"
    wall = time.perf_counter() - started
    summary = RestoreSummary.of(results)

    if json_out:
        typer.echo(json.dumps(_document(chosen_task, origin, restorer, plan, settings, results, summary, wall, interrupted, fatal), indent=2))
    nothing_restored = fatal is None and not interrupted and summary.failed == len(results) == len(plan.jobs)
    if nothing_restored and len(results) == 1:  # a single image that failed reads like any other error
        raise fail(_failure_line(results[0]))
    if not json_out and not quiet and not nothing_restored:
        print_table(out, _summary_table(summary, len(plan.jobs), wall))
        if summary.ok:
            out.print(f"results in {shown(str(plan.destination))}", soft_wrap=True)
    _report_tail(err, plan, results, summary, quiet)
    if nothing_restored:
        raise fail(f"none of the {len(results)} images could be restored")
    if fatal is not None:
        raise fail(f"{fatal} (stopped after {len(results)} of {len(plan.jobs)} image(s))")
    if interrupted:
        err.print(f"[yellow]Interrupted[/] after {len(results)} of {len(plan.jobs)} image(s); every written output is "
                  "complete. Run the same command with --skip-existing to continue.", soft_wrap=True)
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(_exit_code(summary))


def _check_usage(
    skip_existing: bool, overwrite: bool, max_pixels: int, quality: int | None, tile: int | None, overlap: int,
    batch_tiles: int, suffix: str, ext: str, outscale: float | None, strip_metadata: bool,
) -> RestoreSettings:
    """The library's own checks, run before any file is touched; a problem exits 2, like Typer's usage errors."""
    try:
        TileOptions(tile, overlap, batch_tiles)
        check_naming(suffix, ext)
        return RestoreSettings(skip_existing=skip_existing, overwrite=overwrite, max_pixels=max_pixels, quality=quality,
                               outscale=outscale, strip_metadata=strip_metadata)
    except VmambairError as error:
        raise fail(str(error), EXIT_USAGE) from None


def _quiet_opencv() -> None:
    """OpenCV's own decoder warnings would duplicate (and garble) our one-line reasons."""
    import cv2  # noqa: PLC0415

    with contextlib.suppress(AttributeError, cv2.error):
        logging = cv2.utils.logging
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)


def _run(
    plan: RestorePlan, restorer: Restorer, settings: RestoreSettings, results: list[ImageResult], err: Console,
    quiet: bool,
) -> None:
    """The loop, with an images bar and a tiles bar on a terminal (failures printed as they happen), or one
    plain line per image when stderr is a log or a program wrapping the CLI."""
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    plain = not quiet and not err.is_terminal
    started = time.perf_counter()
    with Progress(*columns, console=err, transient=True, disable=quiet or not err.is_terminal) as progress:
        images = progress.add_task("images", total=len(plan.jobs))
        tiles = progress.add_task("tiles", total=None)

        def on_start(index: int, job: RestoreJob) -> None:
            progress.update(images, description=f"images [dim]{shown(job.source.name)}[/]")
            progress.reset(tiles, total=None)

        def on_tile(done: int, total: int) -> None:
            progress.update(tiles, completed=done, total=total)

        for result in restore_files(plan.jobs, restorer, settings, on_start=on_start, on_tile=on_tile):
            results.append(result)
            if result.status == "failed" and err.is_terminal:  # a log gets the list at the end only
                progress.console.print(f"[red]failed[/] {shown(_failure_line(result))}", soft_wrap=True)
            progress.advance(images)
            if plain:
                err.print(_progress_line(len(results), len(plan.jobs), result, time.perf_counter() - started),
                          markup=False, highlight=False, soft_wrap=True)


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


def _report_tail(err: Console, plan: RestorePlan, results: list[ImageResult], summary: RestoreSummary, quiet: bool) -> None:
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


def _document(
    task: str, origin: str, restorer: Restorer, plan: RestorePlan, settings: RestoreSettings, results: list[ImageResult],
    summary: RestoreSummary, wall: float, interrupted: bool, fatal: str | None,
) -> dict[str, Any]:
    code = EXIT_INTERRUPTED if interrupted else EXIT_ERROR if fatal else _exit_code(summary)
    return {
        "task": task,
        "scale": restorer.scale,
        "weights": origin,
        "device": str(restorer.device),
        "precision": precision_name(restorer.dtype),
        "tile": restorer.tile,
        "tile_overlap": restorer.overlap,
        "tta": restorer.tta,
        "output_dir": str(plan.output_dir),
        "output_file": None if plan.output_file is None else str(plan.output_file),
        "outscale": settings.outscale,
        "images": [r.to_dict() for r in results],
        "ignored": [str(p) for p in plan.ignored],
        "summary": {
            "planned": len(plan.jobs), "ok": summary.ok, "skipped": summary.skipped, "failed": summary.failed,
            "megapixels": round(summary.megapixels, 6), "seconds": round(wall, 3),
        },
        "interrupted": interrupted,
        "error": fatal,
        "exit_code": code,
    }


def _exit_code(summary: RestoreSummary) -> int:
    if not summary.failed:
        return EXIT_OK
    return EXIT_PARTIAL if summary.ok or summary.skipped else EXIT_ERROR
