"""Batch restoration of image files: plan inputs to outputs, then read → restore → write, one image at a time.

What users of other restorers keep asking for is the contract here:

* one bad file never stops the batch: it becomes a ``failed`` :class:`ImageResult` with a one-line
  reason, and the caller decides the exit status;
* outputs are written atomically (:func:`~vmambair_core.data.io.write_image`), so an existing output
  is always complete and ``skip_existing`` can safely continue an interrupted run;
* an existing output is never replaced unless ``overwrite`` is set, and an input is never overwritten;
* mode (grey, grey+alpha, RGB, RGBA) and bit depth (8/16) of each input are kept; alpha is resized
  apart from the network (bicubic) and re-attached;
* problems that would ruin every image (output folder not writable, disk errors while writing, a
  network that does not fit its input) are raised, not reported per image.

Nothing here prints: :func:`restore_files` yields one result per image, and ``on_start``/``on_tile``
callbacks let a front end draw progress.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..atomic import clean_stale_temps
from ..data.io import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    check_quality,
    read_image,
    resize_alpha,
    unstorable,
    write_image,
)
from ..errors import ConfigError, InputError, VmambairError
from ..outputs import input_clash, path_key
from .engine import Restorer
from .outscale import check_outscale, outscale_size, resize_planes
from .tiling import DeviceMemoryError

Status = Literal["ok", "skipped", "failed"]


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class RestoreJob:
    """One input file and the output file it becomes."""

    source: Path
    target: Path


@dataclass(frozen=True)
class RestorePlan:
    """Every job of a run, plus files in input folders that were not taken (not an image extension)."""

    jobs: tuple[RestoreJob, ...]
    ignored: tuple[Path, ...] = ()
    output_dir: Path = Path()
    output_file: Path | None = None  # -o named the one output file (then output_dir is its folder)

    @property
    def destination(self) -> Path:
        """Where the results go, as a user reads it: the output file, else the output folder."""
        return self.output_file or self.output_dir


def normalise_ext(ext: str | None) -> str | None:
    """``png``/``.PNG`` -> ``.png``; None or ``auto`` -> None (keep each input's extension)."""
    if ext is None or ext.strip().lower() in ("", "auto"):
        return None
    value = "." + ext.strip().lower().lstrip(".")
    if value not in IMAGE_EXTENSIONS:
        raise ConfigError(f"unknown output extension {ext!r}; use auto or one of "
                          f"{', '.join(e[1:] for e in IMAGE_EXTENSIONS)}")
    return value


def check_naming(suffix: str, ext: str | None) -> str | None:
    """Check ``--suffix`` and ``--ext`` (no file is touched); returns the normalised extension."""
    if any(sep in suffix for sep in ("/", "\\", os.sep)) or suffix in (".", ".."):
        raise ConfigError(f"--suffix {suffix!r} must not contain a path separator")
    return normalise_ext(ext)


def plan_restore(
    inputs: Sequence[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    *,
    recursive: bool = False,
    suffix: str = "",
    ext: str | None = None,
) -> RestorePlan:
    """Map files and folders to output paths under ``output_dir``; check the plan before any work.

    A file given directly lands in ``output_dir`` under its own name; the images of a folder keep their
    path relative to that folder (subfolders only with ``recursive``, mirrored in the output). Names
    become ``<stem><suffix><ext>`` (``ext`` None keeps the input's). Two inputs aiming at one output,
    or an output that would replace its own input, is a :class:`ConfigError` naming them.

    One input file and an ``output_dir`` with an image extension that is not an existing folder
    (``-o result.png``) name the output file itself, written in the format of its extension.
    """
    out_ext = check_naming(suffix, ext)
    out = Path(output_dir).expanduser()
    if not inputs:
        raise ConfigError("no input given; pass image files and/or folders")
    single = _output_file(inputs, out, suffix, out_ext)
    if single is not None:
        _check_targets([single])
        return RestorePlan((single,), (), out.parent, out)
    pairs: list[tuple[Path, Path, bool]] = []  # (source, path relative to the output folder, named by the user)
    ignored: list[Path] = []
    for raw in inputs:
        path = Path(raw).expanduser()
        if path.is_dir():
            found, skipped = _folder_images(path, recursive=recursive, exclude=out)
            pairs += [(f, f.relative_to(path), False) for f in found]
            ignored += skipped
        elif path.is_file():
            pairs.append((path, Path(path.name), True))
        elif path.exists():
            raise ConfigError(f"{path}: neither a file nor a folder")
        elif path.is_symlink():
            raise ConfigError(f"{path}: a link that leads nowhere (its target is missing, or links loop)")
        else:
            raise ConfigError(f"{path}: no such file or folder")
    planned = [
        (RestoreJob(source, out / rel.parent / f"{rel.stem}{suffix}{out_ext or rel.suffix}"), named)
        for source, rel, named in pairs
    ]
    # Outputs written beside their inputs (-o on the input folder with a --suffix) are not inputs of
    # the next run: without this, every re-run would restore the previous results again.
    producer = {path_key(job.target): path_key(job.source) for job, _ in planned}

    def is_output(job: RestoreJob) -> bool:
        source = path_key(job.source)
        return producer.get(source, source) != source

    jobs = [job for job, named in planned if named or not is_output(job)]
    ignored += [job.source for job, named in planned if not named and is_output(job)]
    _check_targets(jobs)
    return RestorePlan(tuple(jobs), tuple(ignored), out)


def _output_file(
    inputs: Sequence[str | os.PathLike[str]], out: Path, suffix: str, out_ext: str | None
) -> RestoreJob | None:
    """The one job when ``out`` names an output file (see :func:`plan_restore`), else None."""
    if len(inputs) != 1 or out.suffix.lower() not in IMAGE_EXTENSIONS or out.is_dir():
        return None
    source = Path(inputs[0]).expanduser()
    if not source.is_file():
        return None
    if suffix or (out_ext is not None and out_ext != out.suffix.lower()):
        raise ConfigError(f"-o {out} names the output file (its extension sets the format); "
                          "--suffix and --ext apply only when -o is a folder")
    return RestoreJob(source, out)


def _folder_images(folder: Path, *, recursive: bool, exclude: Path) -> tuple[list[Path], list[Path]]:
    """Image files of ``folder`` (sorted; hidden entries skipped); the output folder is never walked."""
    excluded = path_key(exclude)
    images: list[Path] = []
    others: list[Path] = []
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        if not recursive:
            dirs.clear()
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and path_key(here / d) != excluded)
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = here / name
            # Only regular files (links followed): a FIFO would block the read, a device never end.
            (images if path.suffix.lower() in IMAGE_EXTENSIONS and path.is_file() else others).append(path)
    return images, others


def _check_targets(jobs: Sequence[RestoreJob]) -> None:
    """No output may be an input of the run (its own or another job's), nor two outputs one file."""
    for job in jobs:
        if path_key(job.target) == path_key(job.source):
            raise ConfigError(
                f"{job.source}: the output would replace the input itself; choose another output folder, "
                "a --suffix or an --ext"
            )
    clash = input_clash((job.target for job in jobs), (job.source for job in jobs))
    if clash is not None:
        raise ConfigError(
            f"{clash[1]} is an input of this run and would be overwritten by the output {clash[0]}; "
            "choose another output folder, a --suffix or an --ext"
        )
    seen: dict[str, Path] = {}
    for job in jobs:
        key = path_key(job.target)
        if key in seen:
            raise ConfigError(
                f"{seen[key]} and {job.source} would both be written to {job.target}; "
                "restore them in separate runs or into separate output folders"
            )
        seen[key] = job.source


def prepare_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the output folder and prove it is writable now, before a model is loaded or an image read."""
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise VmambairError(f"output folder {out} is an existing file; give a folder with -o")
    try:
        out.mkdir(parents=True, exist_ok=True)
        descriptor, probe = tempfile.mkstemp(prefix=".vmambair-write-test-", dir=out)
        os.close(descriptor)
        os.unlink(probe)
    except OSError as error:
        raise VmambairError(f"output folder {out} cannot be written ({error.strerror or error})") from None
    return out


# --------------------------------------------------------------------------- running


@dataclass(frozen=True)
class ImageResult:
    """What happened to one input. ``reason`` is set for ``skipped`` and ``failed``.

    Sizes are (width, height); ``megapixels`` counts input pixels; ``tile`` is the tile size that
    produced the output (None: the whole image in one pass) and ``backoffs`` how often an
    out-of-memory halved it.
    """

    source: Path
    target: Path
    status: Status
    reason: str | None = None
    seconds: float = 0.0
    input_size: tuple[int, int] | None = None
    output_size: tuple[int, int] | None = None
    mode: str | None = None
    bit_depth: int | None = None
    tile: int | None = None
    backoffs: int = 0

    @property
    def megapixels(self) -> float:
        return 0.0 if self.input_size is None else self.input_size[0] * self.input_size[1] / 1e6

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready record (paths as strings, sizes as [width, height])."""
        return {
            "source": str(self.source), "target": str(self.target), "status": self.status, "reason": self.reason,
            "seconds": round(self.seconds, 4), "megapixels": round(self.megapixels, 6),
            "input_size": None if self.input_size is None else list(self.input_size),
            "output_size": None if self.output_size is None else list(self.output_size),
            "mode": self.mode, "bit_depth": self.bit_depth, "tile": self.tile, "backoffs": self.backoffs,
        }


@dataclass(frozen=True)
class RestoreSettings:
    """Per-run file policies (the network side lives in :class:`~vmambair_core.inference.Restorer`).

    ``skip_existing``: an existing output counts as done (continuing a run). ``overwrite``: replace
    existing outputs. Neither: existing outputs are kept and reported as skipped. ``quality`` applies
    to JPEG/WebP outputs; ``max_pixels`` refuses larger inputs before decoding them. ``outscale``:
    the output's size as a multiple of the input's (None: the network's scale), see :mod:`.outscale`.
    ``strip_metadata``: write no EXIF and no ICC profile (by default both are carried over).
    """

    skip_existing: bool = False
    overwrite: bool = False
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    quality: int | None = None
    outscale: float | None = None
    strip_metadata: bool = False

    def __post_init__(self) -> None:
        if self.skip_existing and self.overwrite:
            raise ConfigError("--skip-existing and --overwrite contradict each other; pass one of them")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise ConfigError(f"--max-pixels must be positive, got {self.max_pixels}")
        check_quality(self.quality)
        check_outscale(self.outscale)


SKIP_DONE = "output exists (--skip-existing)"
SKIP_KEPT = "output exists; kept (pass --overwrite to replace it, or --skip-existing)"

StartFn = Callable[[int, RestoreJob], None]
TileFn = Callable[[int, int], None]


def restore_files(
    jobs: Iterable[RestoreJob],
    restorer: Restorer,
    settings: RestoreSettings = RestoreSettings(),
    *,
    on_start: StartFn | None = None,
    on_tile: TileFn | None = None,
) -> Iterator[ImageResult]:
    """Restore each job in turn and yield its :class:`ImageResult` as soon as its file is written.

    ``on_start(index, job)`` runs before each image, ``on_tile(done, total)`` after each network call.
    Per-image problems (unreadable or too large input, a format that cannot hold the result, device
    memory exhausted even at the smallest tile) become ``failed`` results; errors that would repeat for
    every image (writing to disk, a network/input mismatch) are raised. KeyboardInterrupt propagates;
    the atomic write leaves no partial file behind. Temporary files of ours that a killed run left in
    an output folder (over an hour old) are removed when the run first writes there.
    """
    cleaned: set[Path] = set()
    for index, job in enumerate(jobs):
        if job.target.parent not in cleaned:  # temporaries a killed run left in this output folder
            clean_stale_temps(job.target.parent)
            cleaned.add(job.target.parent)
        if on_start is not None:
            on_start(index, job)
        yield restore_one(job, restorer, settings, on_tile=on_tile)


def restore_one(
    job: RestoreJob, restorer: Restorer, settings: RestoreSettings = RestoreSettings(), *, on_tile: TileFn | None = None
) -> ImageResult:
    """Read, restore and write one image (see :func:`restore_files` for what fails and what raises)."""
    started = time.perf_counter()
    if job.target.exists() or job.target.is_symlink():
        if job.target.is_dir():
            return ImageResult(job.source, job.target, "failed", f"output path {job.target} is a folder")
        if settings.skip_existing:
            return ImageResult(job.source, job.target, "skipped", SKIP_DONE)
        if not settings.overwrite:
            return ImageResult(job.source, job.target, "skipped", SKIP_KEPT)

    def failed(reason: str, **extra: Any) -> ImageResult:
        return ImageResult(job.source, job.target, "failed", reason, time.perf_counter() - started, **extra)

    try:
        image = read_image(job.source, max_pixels=settings.max_pixels)
    except InputError as error:
        return failed(str(error))
    facts: dict[str, Any] = {"input_size": (image.width, image.height), "mode": image.mode, "bit_depth": image.bit_depth}
    problem = unstorable(job.target, image.mode, image.bit_depth)
    if problem is not None:  # refused before the network runs, not after
        return failed(_unstorable_reason(job, problem, image.bit_depth), **facts)

    try:
        output = restorer(image.to_tensor(), on_tile=on_tile)
    except DeviceMemoryError as error:
        return failed(f"{job.source}: {error}", **facts)
    rgb = output[0].permute(1, 2, 0).cpu().numpy()
    del output
    if settings.outscale is not None:
        size = outscale_size(image.height, image.width, settings.outscale)
        if size != rgb.shape[:2]:
            rgb = resize_planes(rgb, size)
    height, width = rgb.shape[:2]
    alpha = image.alpha
    if alpha is not None and alpha.shape != (height, width):
        alpha = resize_alpha(alpha, (height, width))
    facts.update(output_size=(width, height), tile=restorer.last.tile, backoffs=restorer.last.backoffs)

    try:
        job.target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise VmambairError(f"cannot create {job.target.parent} ({error.strerror or error})") from None
    try:
        write_image(job.target, np.ascontiguousarray(rgb), alpha=alpha, bit_depth=image.bit_depth,
                    mode=image.mode, quality=settings.quality,
                    icc_profile=None if settings.strip_metadata else image.icc_profile,
                    exif=None if settings.strip_metadata else image.exif)
    except (ConfigError, InputError) as error:
        # The chosen format cannot hold this image (16-bit or alpha), or the network produced NaN:
        # specific to this image, so the batch goes on.
        return failed(str(error), **facts)
    return ImageResult(job.source, job.target, "ok", None, time.perf_counter() - started, **facts)


def _unstorable_reason(job: RestoreJob, problem: str, bit_depth: int) -> str:
    what, formats = ("alpha", ".png, .webp or .tif") if problem == "alpha" else (f"{bit_depth}-bit samples", ".png or .tif")
    return (f"{job.source}: {job.target.suffix} cannot store its {what}, so it was not restored; "
            f"write it as {formats} (--ext, or the name given to -o)")


@dataclass(frozen=True)
class RestoreSummary:
    """Totals over a run's results (what the CLI's table and ``--json`` report)."""

    ok: int
    skipped: int
    failed: int
    megapixels: float
    seconds: float

    @classmethod
    def of(cls, results: Sequence[ImageResult]) -> RestoreSummary:
        done = [r for r in results if r.status == "ok"]
        return cls(
            ok=len(done),
            skipped=sum(r.status == "skipped" for r in results),
            failed=sum(r.status == "failed" for r in results),
            megapixels=sum(r.megapixels for r in done),
            seconds=sum(r.seconds for r in results),
        )
