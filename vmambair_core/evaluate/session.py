"""One evaluation request (what ``vmambair eval`` parses) turned into checked sets and predictors.

Everything that can fail before the first image is done here, up front: unknown or missing benchmarks
(all of them listed in one error), a baseline that does not fit a set, weights that cannot be loaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, get_args

from vmambair_core.errors import ConfigError, InputError
from vmambair_core.evaluate.benchmarks import (
    DERAIN_CONVENTION,
    SR_CONVENTION,
    EvalSet,
    LqSource,
    MetricConvention,
    custom_set,
    get_benchmark,
    input_set,
    resolve_data_root,
)
from vmambair_core.evaluate.loader import load_benchmark
from vmambair_core.evaluate.predictors import BicubicPredictor, IdentityPredictor, Predictor, load_network_predictor
from vmambair_core.metrics.color import YMode
from vmambair_core.metrics.psnr_ssim import Channel
from vmambair_core.models import PRESET_NAMES, VmambaIR, get_preset
from vmambair_core.tasks import Task

__all__ = ["MODELS", "EvalRequest", "ModelKind", "build_sets", "build_predictors", "lpips_wanted", "niqe_wanted"]

ModelKind = Literal["vmambair", "bicubic", "identity", "realesrgan"]
MODELS: tuple[str, ...] = get_args(ModelKind)
NETWORKS: tuple[str, ...] = ("vmambair", "realesrgan")
"""Models that run weights (``--weights``); ``realesrgan`` needs an official Real-ESRGAN generator file."""


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate and how; ``None`` fields take the benchmark's convention or default.

    ``benches``, or folders: ``gt_dir`` with ``lq_dir`` (pairs), ``gt_dir`` alone (LR made by MATLAB
    bicubic from it) or ``lq_dir`` alone (inputs without ground truth, scored by NIQE).
    ``niqe``: NIQE and the pattern amplitude; None: only where there is no ground truth.
    """

    benches: tuple[str, ...] = ()
    gt_dir: Path | None = None
    lq_dir: Path | None = None
    data_root: str | os.PathLike[str] | None = None
    model: ModelKind = "vmambair"
    task: str | None = None
    weights: str | None = None
    lq_source: LqSource | None = None
    y_mode: YMode = "matlab"
    channel: Channel | None = None
    crop_border: int | None = None
    lpips: bool | None = None
    niqe: bool | None = None
    device: str = "auto"
    precision: str = "fp32"  # what the published numbers are computed in
    tile: int | None = None
    tile_overlap: int = 32
    scan_backend: str = "auto"

    def __post_init__(self) -> None:
        if bool(self.benches) == (self.gt_dir is not None or self.lq_dir is not None):
            raise ConfigError("give either --bench NAME[,NAME...] or folders (--gt DIR, --lq DIR or both), "
                              "not both or neither")
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODELS)}")
        if self.weights is not None and self.model not in NETWORKS:
            raise ConfigError(f"--weights is for --model vmambair or realesrgan, not the {self.model} baseline")
        if self.model == "realesrgan" and self.weights is None:
            raise ConfigError("--model realesrgan needs --weights with an official Real-ESRGAN generator file "
                              "(RealESRGAN_x4plus.pth or realesr-general-x4v3.pth); none ships with vmambair")
        if self.task is not None and self.task not in PRESET_NAMES:
            raise ConfigError(f"unknown task {self.task!r}; choose one of {', '.join(PRESET_NAMES)}")
        if self.crop_border is not None and self.crop_border < 0:
            raise ConfigError(f"--crop-border must be >= 0, got {self.crop_border}")
        if self.tile is not None and self.tile <= 0:
            raise ConfigError(f"--tile must be positive, got {self.tile}")

    def convention(self, base: MetricConvention) -> MetricConvention:
        """``base`` (the set's) with this request's overrides."""
        return replace(
            base, y_mode=self.y_mode, channel=self.channel or base.channel,
            crop_border=base.crop_border if self.crop_border is None else self.crop_border,
        )


def _custom_scale(req: EvalRequest) -> tuple[int, Task | None]:
    if req.model == "bicubic":
        return 4, req.task if req.task in ("sisr", "realsr") else None  # type: ignore[return-value]
    if req.model == "identity":
        return 1, "derain" if req.task == "derain" else None
    if req.model == "realesrgan":
        return 4, req.task if req.task in ("sisr", "realsr") else "realsr"  # type: ignore[return-value]
    if req.task is None:
        raise ConfigError(f"--task is needed with --gt/--lq and --model vmambair ({', '.join(PRESET_NAMES)})")
    return get_preset(req.task).scale, req.task  # type: ignore[return-value]


def build_sets(req: EvalRequest) -> tuple[EvalSet, ...]:
    """The requested sets, found, paired and checked; every missing or incomplete set in one error."""
    sets = _find_sets(req)
    if req.niqe is False and (blind := [d.name for d in sets if not d.reference]):
        raise ConfigError(f"{', '.join(blind)} has no ground truth: NIQE is its only score; drop --no-niqe")
    return sets


def _find_sets(req: EvalRequest) -> tuple[EvalSet, ...]:
    if req.gt_dir is None and req.lq_dir is not None:
        scale, task = _custom_scale(req)
        return (input_set(Path(req.lq_dir), scale=scale, task=task),)
    if req.gt_dir is not None:
        scale, task = _custom_scale(req)
        if req.lq_dir is None and scale == 1:
            raise ConfigError("--gt alone makes LR by bicubic x1/4: it is for x4 SR; give --lq for same-size tasks")
        base = SR_CONVENTION if scale > 1 else DERAIN_CONVENTION
        data = custom_set(Path(req.gt_dir), None if req.lq_dir is None else Path(req.lq_dir), scale=scale,
                          convention=base, task=task)
        return (data.with_convention(req.convention(data.convention)),)
    benches = [get_benchmark(name) for name in req.benches]  # unknown names fail before any disk access
    if len({b.name for b in benches}) != len(benches):
        raise ConfigError(f"a benchmark is named twice in {', '.join(req.benches)}")
    root = resolve_data_root(req.data_root)
    sets: list[EvalSet] = []
    problems: list[str] = []
    for bench in benches:
        source = req.lq_source if bench.degradation == "bicubic" else None  # --lr-from only concerns bicubic sets
        try:
            data = load_benchmark(bench, root, lq_source=source)
        except InputError as exc:
            problems.append(str(exc))
            continue
        sets.append(data.with_convention(req.convention(data.convention)))
    if problems:
        raise InputError("\n".join(problems))
    return tuple(sets)


def _task_of(req: EvalRequest, data: EvalSet) -> str:
    task = req.task or data.task
    if task is None:
        raise ConfigError(f"{data.name}: pass --task ({', '.join(PRESET_NAMES)})")
    return task


def build_predictors(
    req: EvalRequest,
    sets: tuple[EvalSet, ...],
) -> dict[str, Predictor]:
    """A predictor per set name; one network per distinct task, loaded before any image is scored.

    The network is the task's preset, or the config a ``vmambair train`` export carries in its metadata
    (so small trained variants, and tests' tiny networks, go through the same path).
    """
    out: dict[str, Predictor] = {}
    networks: dict[str, Predictor] = {}
    if req.model == "vmambair" and req.weights is not None:
        tasks = {_task_of(req, d) for d in sets}
        if len(tasks) > 1:
            raise ConfigError(f"--weights fits one task but these sets need {', '.join(sorted(tasks))}; pass --task")
    for data in sets:
        if req.model == "bicubic":
            if data.scale == 1:
                raise ConfigError(f"--model bicubic is the x4 SR baseline; {data.name} is a same-size set (try identity)")
            out[data.name] = BicubicPredictor(data.scale)
        elif req.model == "identity":
            if data.scale != 1:
                raise ConfigError(f"--model identity keeps the input size; {data.name} is x{data.scale} (try bicubic)")
            out[data.name] = IdentityPredictor()
        else:
            task = _task_of(req, data) if req.model == "vmambair" else _peer_task(data)
            if task not in networks:
                networks[task] = load_network_predictor(
                    task, req.weights, device=req.device, precision=req.precision, tile=req.tile,
                    tile_overlap=req.tile_overlap, scan_backend=req.scan_backend,
                )
                if req.model == "realesrgan" and isinstance(networks[task].restorer.net, VmambaIR):
                    raise ConfigError(f"--model realesrgan: {req.weights} holds VmambaIR weights; use --model vmambair")
            out[data.name] = networks[task]
    return out


def _peer_task(data: EvalSet) -> str:
    """``--model realesrgan`` runs one x4 network, loaded once, on every set: x4 sets only."""
    if data.scale != 4:
        raise ConfigError(f"--model realesrgan is x4 super-resolution; {data.name} is x{data.scale}")
    return "realsr"


def lpips_wanted(req: EvalRequest, data: EvalSet) -> bool:
    """``--lpips``/``--no-lpips`` if given, else on where the paper reports LPIPS (Tables 1-2 sets); never
    without ground truth."""
    if not data.reference:
        return False
    if req.lpips is not None:
        return req.lpips
    return data.benchmark is not None and data.benchmark.lpips_reported


def niqe_wanted(req: EvalRequest, data: EvalSet) -> bool:
    """``--niqe``/``--no-niqe`` if given, else on exactly where there is no ground truth."""
    return not data.reference or bool(req.niqe)
