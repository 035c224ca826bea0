"""One ``restore`` run as one call: :func:`restore_images` takes a :class:`RestoreRequest` and returns a
:class:`RestoreReport`; a front end only draws what the callbacks and the report tell it.

Order, so that a run refused for any reason has touched nothing: the flags (:class:`RestoreRequest`
checks them when built), the task, the plan (inputs to outputs), the device and precision, the
weights, and only then the output folder. Everything up to there raises; after ``on_ready`` an error
that would repeat for every image stops the batch and is reported (``RestoreReport.error``), as is an
interrupt, so the results so far are never lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..device import precision_name, resolve_device, resolve_precision
from ..errors import VmambairError
from ..models import get_preset
from ..outcome import exit_code
from .engine import Restorer, TileOptions
from .restore import (
    ImageResult, RestoreJob, RestorePlan, RestoreSettings, RestoreSummary, StartFn, TileFn, check_naming, plan_restore,
    prepare_output_dir, restore_files,
)


@dataclass(frozen=True)
class RestoreRequest:
    """What ``vmambair restore`` was asked to do; built once from the flags, checked when built.

    ``task`` None: the task the weights declare, else ``DEFAULT_TASK`` (see ``infer_task``). ``strength``
    blends ``weights`` with their ``partner`` (:func:`~vmambair_core.weights.blend.blend_for`).
    """

    inputs: tuple[Path, ...]
    output: Path
    task: str | None = None
    weights: str | None = None
    strength: float | None = None
    partner: str | None = None
    device: str = "auto"
    precision: str = "auto"
    backend: str = "auto"
    tiles: TileOptions = field(default_factory=TileOptions)
    tta: bool = False
    recursive: bool = False
    suffix: str = ""
    ext: str = "auto"
    settings: RestoreSettings = field(default_factory=RestoreSettings)

    def __post_init__(self) -> None:
        check_naming(self.suffix, self.ext)  # tiles and settings check themselves


@dataclass(frozen=True)
class RestoreStart:
    """What a run is about to do, once everything before the first image has succeeded."""

    plan: RestorePlan
    restorer: Restorer
    task: str
    why: str  # why this task ("" when --task named it)
    origin: str  # where the weights came from


@dataclass(frozen=True)
class RestoreReport:
    """How a run went: one result per image attempted, and what stopped it early (if anything)."""

    start: RestoreStart
    settings: RestoreSettings
    results: tuple[ImageResult, ...]
    seconds: float
    interrupted: bool = False
    error: BaseException | None = None  # an error that would have repeated for every image

    @property
    def summary(self) -> RestoreSummary:
        return RestoreSummary.of(self.results)

    @property
    def stop_reason(self) -> str | None:
        """The error that stopped the batch, in one line (None: not stopped by one)."""
        if self.error is None:
            return None
        if isinstance(self.error, VmambairError):
            return str(self.error)
        return f"{type(self.error).__name__}: {self.error}"

    @property
    def nothing_restored(self) -> bool:
        """Every planned image was attempted and every one failed."""
        s = self.summary
        every = len(self.results) == len(self.start.plan.jobs)
        return self.error is None and not self.interrupted and s.failed == len(self.results) and every

    @property
    def exit_code(self) -> int:
        s = self.summary
        return exit_code(done=s.ok + s.skipped, failed=s.failed, interrupted=self.interrupted,
                         stopped=self.error is not None)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` document."""
        plan, restorer, s = self.start.plan, self.start.restorer, self.summary
        return {
            "task": self.start.task,
            "scale": restorer.scale,
            "weights": self.start.origin,
            "device": str(restorer.device),
            "precision": precision_name(restorer.dtype),
            "tile": restorer.tile,
            "tile_overlap": restorer.overlap,
            "tta": restorer.tta,
            "output_dir": str(plan.output_dir),
            "output_file": None if plan.output_file is None else str(plan.output_file),
            "outscale": self.settings.outscale,
            "images": [r.to_dict() for r in self.results],
            "ignored": [str(p) for p in plan.ignored],
            "summary": {
                "planned": len(plan.jobs), "ok": s.ok, "skipped": s.skipped, "failed": s.failed,
                "megapixels": round(s.megapixels, 6), "seconds": round(self.seconds, 3),
            },
            "interrupted": self.interrupted,
            "error": self.stop_reason,
            "exit_code": self.exit_code,
        }


def restore_images(
    request: RestoreRequest,
    *,
    on_ready: Callable[[RestoreStart], None] | None = None,
    on_start: StartFn | None = None,
    on_tile: TileFn | None = None,
    on_result: Callable[[ImageResult], None] | None = None,
) -> RestoreReport:
    """Plan, load, then restore every image (see the module docstring for what raises and what is reported).

    ``on_ready`` runs once the run can start; ``on_start``/``on_tile`` as in
    :func:`~.restore.restore_files`; ``on_result`` after each image is written (or refused).
    """
    start = _open(request)
    if on_ready is not None:
        on_ready(start)
    results: list[ImageResult] = []
    began = time.perf_counter()
    interrupted, error = False, None
    try:
        for result in restore_files(start.plan.jobs, start.restorer, request.settings, on_start=on_start,
                                    on_tile=on_tile):
            results.append(result)
            if on_result is not None:
                on_result(result)
    except KeyboardInterrupt:
        interrupted = True
    except (VmambairError, OSError, MemoryError) as exc:  # would repeat for every image: stop the batch
        error = exc
    return RestoreReport(start, request.settings, tuple(results), time.perf_counter() - began, interrupted, error)


def _open(request: RestoreRequest) -> RestoreStart:
    """Everything before the first image, in the order of the module docstring."""
    from ..weights import infer_task, load  # noqa: PLC0415 - heavy: not needed to plan or to check flags
    from ..weights.blend import blend_for  # noqa: PLC0415

    task, why = (request.task, "") if request.task is not None else infer_task(request.weights)
    get_preset(task)  # an unknown task fails before the inputs are walked
    plan = plan_restore(request.inputs, request.output, recursive=request.recursive, suffix=request.suffix,
                        ext=request.ext)
    if not plan.jobs:
        raise VmambairError(f"no images found in {_listed(request.inputs)} (looked for png, jpg, jpeg, webp, tif, "
                            f"tiff, bmp{'' if request.recursive else '; add --recursive for subfolders'})")
    device = resolve_device(request.device)
    resolve_precision(request.precision, device)  # a bad --precision fails before the model is loaded
    weights = blend_for(task, request.weights, request.strength, request.partner)
    model = load(weights, task, device=device, scan_backend=request.backend)
    prepare_output_dir(plan.output_dir)  # after the weights: a run refused for them leaves no empty folder
    tiles = request.tiles
    restorer = Restorer(model.net, device, precision=request.precision, tile=tiles.tile, overlap=tiles.overlap,
                        tiles_per_batch=tiles.tiles_per_batch, tta=request.tta)
    return RestoreStart(plan, restorer, task, why, model.origin)


def _listed(paths: Sequence[Path]) -> str:
    return ", ".join(str(p) for p in paths)


__all__ = ["RestoreJob", "RestoreReport", "RestoreRequest", "RestoreStart", "restore_images"]
