"""One ``eval`` run as one call: :func:`run_eval` takes an :class:`EvalRequest` and :class:`EvalOutputs` and
returns an :class:`EvalReport`; a front end only draws what the callbacks and the report tell it.

Everything that can fail before the first image is done first (:mod:`.session`: sets, predictors, the
weights; then the outputs and LPIPS), and ``on_ready`` then says what will be scored. Images that fail
are kept in the results (exit 3, or 1 when none was scored); the CSV is written atomically at the end.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from vmambair_core.atomic import atomic_write_bytes
from vmambair_core.evaluate.benchmarks import EvalSet
from vmambair_core.evaluate.predictors import Predictor
from vmambair_core.evaluate.runner import EvalResult, check_outputs, evaluate, prepare_lpips, saved_image_dir
from vmambair_core.evaluate.session import EvalRequest, build_predictors, build_sets, lpips_wanted, niqe_wanted
from vmambair_core.metrics.lpips import LPIPS, LpipsNet
from vmambair_core.outcome import exit_code

__all__ = ["CSV_COLUMNS", "EvalOutputs", "EvalPlan", "EvalReport", "run_eval", "write_csv"]

CSV_COLUMNS = ("benchmark", "image", "gt", "lq", "psnr", "ssim", "lpips", "niqe", "pattern_amplitude", "seconds",
               "error", "model", "channel", "y_mode", "crop_border")
LPIPS_FOLDER_HINT = " (here: --lpips-weights FILE, or a folder holding the backbone and the heads)"


@dataclass(frozen=True)
class EvalOutputs:
    """What a run writes and reads beside the request: the LPIPS backbone, saved images, the CSV, a limit.

    ``strength``/``partner`` blend the request's weights with their partner, as ``restore`` does.
    """

    lpips_net: LpipsNet = "vgg"
    lpips_weights: Path | None = None
    save_images: Path | None = None
    csv: Path | None = None
    overwrite: bool = False
    limit: int | None = None
    strength: float | None = None
    partner: str | None = None


@dataclass
class EvalPlan:
    """Everything checked before the first image: sets, a predictor per set, LPIPS (or why not), notes to show."""

    sets: tuple[EvalSet, ...]
    predictors: dict[str, Predictor]
    lpips_for: dict[str, bool]
    niqe_for: dict[str, bool]
    lpips: LPIPS | None = None
    lpips_note: str | None = None
    notes: tuple[str, ...] = field(default=())  # the sets' notes; those starting "warning" always matter

    @property
    def weights_lines(self) -> list[str]:
        """``label · weights origin`` once per network that runs weights (the first lines of ``eval``)."""
        unique = {id(p): p for p in self.predictors.values() if getattr(p, "weights", "")}
        return [f"{p.label} · weights {p.weights}" for p in unique.values()]  # type: ignore[attr-defined]


@dataclass(frozen=True)
class EvalReport:
    """The results of every set, and the exit status they give."""

    results: tuple[EvalResult, ...]

    @property
    def failed(self) -> list[str]:
        """``benchmark/image`` of every image that could not be scored."""
        return [f"{r.benchmark}/{f.name}" for r in self.results for f in r.failed]

    @property
    def exit_code(self) -> int:
        scored = sum(len(r.scored) for r in self.results)
        return exit_code(done=scored, failed=len(self.failed))

    def to_dict(self) -> dict[str, object]:
        """The ``--json`` document."""
        return {"results": [r.to_dict() for r in self.results]}


def run_eval(
    request: EvalRequest,
    outputs: EvalOutputs = EvalOutputs(),
    *,
    on_ready: Callable[[EvalPlan], None] | None = None,
    on_set: Callable[[EvalSet, int], None] | None = None,
    on_image: Callable[[EvalSet], None] | None = None,
) -> EvalReport:
    """Check, load, score every set, write the CSV. ``on_set(data, images)`` before each set,
    ``on_image(data)`` after each image (progress bars)."""
    plan = _prepare(request, outputs)
    if on_ready is not None:
        on_ready(plan)
    off_note = ("LPIPS off (--no-lpips)" if request.lpips is False
                else "LPIPS off: the paper reports none here (--lpips to add it)")
    results: list[EvalResult] = []
    for data in plan.sets:
        if on_set is not None:
            on_set(data, len(data.head(outputs.limit).pairs))
        use = plan.lpips_for[data.name]
        results.append(evaluate(
            data, plan.predictors[data.name], lpips=plan.lpips if use else None,
            lpips_note=plan.lpips_note if use else off_note, limit=outputs.limit,
            save_dir=None if outputs.save_images is None else saved_image_dir(outputs.save_images, data),
            on_image=None if on_image is None else lambda _score, data=data: on_image(data),
            no_reference=plan.niqe_for[data.name],
        ))
    if outputs.csv is not None:
        write_csv(outputs.csv, results)
    return EvalReport(tuple(results))


def _prepare(request: EvalRequest, outputs: EvalOutputs) -> EvalPlan:
    if outputs.strength is not None or outputs.partner is not None:
        from vmambair_core.weights import infer_task  # noqa: PLC0415 - heavy, only to blend
        from vmambair_core.weights.blend import blend_for  # noqa: PLC0415

        task = request.task or infer_task(request.weights)[0]
        request = replace(request, weights=blend_for(task, request.weights, outputs.strength, outputs.partner))  # type: ignore[arg-type]
    sets = build_sets(request)
    check_outputs(sets, save_images=outputs.save_images, csv=outputs.csv, overwrite=outputs.overwrite)
    plan = EvalPlan(sets, build_predictors(request, sets), {d.name: lpips_wanted(request, d) for d in sets},
                    {d.name: niqe_wanted(request, d) for d in sets}, notes=tuple(n for d in sets for n in d.notes))
    if any(plan.lpips_for.values()):
        from vmambair_core.device import resolve_device  # noqa: PLC0415

        plan.lpips, plan.lpips_note = prepare_lpips(outputs.lpips_net, outputs.lpips_weights,
                                                    device=resolve_device(request.device))
        if plan.lpips_note:
            plan.lpips_note += LPIPS_FOLDER_HINT
    return plan


def write_csv(path: Path, results: list[EvalResult]) -> None:
    """One row per image; written atomically: a full disk or an interruption leaves the previous file,
    never a cut one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = io.StringIO(newline="")
    w = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
    w.writeheader()
    for r in results:
        for i in r.images:
            d = i.to_dict()
            w.writerow({
                "benchmark": r.benchmark, "image": d["image"], "gt": d["gt"] or "", "lq": d["lq"] or "",
                "psnr": _cell(i.psnr), "ssim": _cell(i.ssim), "lpips": _cell(i.lpips), "niqe": _cell(i.niqe),
                "pattern_amplitude": _cell(i.pattern), "seconds": f"{i.seconds:.6f}",
                "error": i.error or "", "model": r.model, "channel": r.convention.channel,
                "y_mode": r.convention.y_mode, "crop_border": r.convention.crop_border,
            })
    atomic_write_bytes(path, fh.getvalue().encode("utf-8"))


def _cell(x: float | None) -> str:
    return "" if x is None else repr(x)
