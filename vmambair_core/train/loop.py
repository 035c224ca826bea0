"""The training loop: one function from a config and a run folder to trained, exported weights.

Single process or torchrun workers run the same code (``distributed.setup`` reads the
environment). Rank 0 alone writes logs, validation results, samples and the export; every
rank takes part in checkpoints (each saves its own RNG and queue states). Ctrl-C or SIGTERM
lets the current iteration finish, saves a checkpoint on every rank and raises
:class:`TrainingInterrupted` (the CLI exits 130); ``resume=True`` continues from the newest
checkpoint with the config read back from it: the same data, random draws and schedule as an
uninterrupted run (exact), and weights within the floating-point noise two runs differ by anyway.

A run goes through four phases, each one function below, with a :class:`Run` carrying the state
between them: ``_settle_config`` (resume or start, memory check, run folder) -> ``_open_run``
(model, optimisers, data, logs: the random draws in a fixed order) -> ``_iterate`` (steps, logs,
validation, checkpoints, stops) -> ``_export`` (``model.safetensors``).
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from vmambair_core.device import resolve_precision
from vmambair_core.errors import CheckpointError, ConfigError
from vmambair_core.models import build_model
from vmambair_core.scan import resolve_backend
from vmambair_core.train import distributed as dist_utils
from vmambair_core.train.batches import BatchMaker, LoaderSynthesis
from vmambair_core.train.checkpoint import (
    LoadedCheckpoint,
    latest_checkpoint,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    seed_everything,
    set_rng_state,
)
from vmambair_core.train.config import TrainConfig, config_to_dict, save_config
from vmambair_core.train.data import (
    PatchDataset, PatchSpec, PositionSampler, absolute_roots, check_readable, discover_datasets, make_loader,
)
from vmambair_core.train.distributed import DistEnv
from vmambair_core.train.export import export_weights
from vmambair_core.train.monitor import LossWindow, NullReporter, Reporter, RunLogs
from vmambair_core.train.preflight import settle_accumulation
from vmambair_core.train.recipes import config_from_dict
from vmambair_core.train.resume import continue_config
from vmambair_core.train.steps import Parts, build_parts, train_step, wrap_for_training
from vmambair_core.train.stopping import StopPoll, TrainingInterrupted, stop_on_signals
from vmambair_core.train.validate import ValImage, load_val_set, run_validation
from vmambair_core.models.blocks import icnr_sr_tail_
from vmambair_core.weights import load_into, read_weights, resolve_weights

EXPORT_NAME = "model.safetensors"
#: What a run writes into its folder. A new run refuses a folder holding any of them unless told to
#: overwrite: an exported model, its config and logs are results, not scratch.
RUN_ARTEFACTS = (EXPORT_NAME, "config.json", "train.log", "metrics.csv", "val.csv", "checkpoints", "samples", "tensorboard")


@dataclass(frozen=True)
class TrainResult:
    """Where a finished run left its results (``checkpoint``: the newest one)."""

    run_dir: Path
    iterations: int
    checkpoint: Path
    weights: Path | None  # the export (rank 0), None on other ranks
    val: dict[str, float] | None


def patch_spec(cfg: TrainConfig, paired: bool) -> PatchSpec:
    """What the loader delivers: pairs, bicubic pairs (sisr), or GT crops degraded on the device."""
    if paired:
        mode = "paired"
    elif cfg.task == "sisr":
        mode = "bicubic"
    else:
        mode = "hr"
    crop = cfg.data.hr_crop if (mode == "hr" and cfg.task == "realsr") else None
    return PatchSpec(mode, cfg.data.patch_size, cfg.scale, cfg.data.hflip, cfg.data.rotate, crop)  # type: ignore[arg-type]


def _prepare_run_dir(cfg: TrainConfig, run_dir: Path, env: DistEnv, overwrite: bool) -> None:
    """Refuse a folder holding another run's artefacts (``overwrite``: remove them), then write the config."""
    found = [name for name in RUN_ARTEFACTS if (run_dir / name).exists() or (run_dir / name).is_symlink()]
    if found and not overwrite:
        resumable = "pass --resume to continue it, " if latest_checkpoint(run_dir) is not None else ""
        raise ConfigError(f"{run_dir} already holds a run ({', '.join(found)}): {resumable}pass --overwrite to "
                          "replace it, or use another -o")
    dist_utils.barrier(env)  # every process has looked before the master removes anything
    if env.master:
        for name in found:
            path = run_dir / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.json")
    dist_utils.barrier(env)


def _load_init(net: torch.nn.Module, spec: str, task: str) -> None:
    """``model.init``: a weights file, a registry name (``realsr-lite``) or a Hub file, as ``--weights`` reads it."""
    weights = read_weights(resolve_weights(task, spec).path)
    load_into(net, weights)  # type: ignore[arg-type]


def train(
    cfg: TrainConfig | None,
    run_dir: str | Path,
    *,
    device: str = "auto",
    resume: bool = False,
    workers: int | None = None,
    reporter: Reporter | None = None,
    expect_task: str | None = None,
    max_minutes: float | None = None,
    stop_at: int | None = None,
    overwrite: bool = False,
    memory_check: bool = True,
) -> TrainResult:
    """Train ``cfg`` into ``run_dir`` (or, with ``resume``, continue the run saved there).

    ``cfg`` may be None when resuming (the checkpoint's config is used; a given one must equal
    it, except for a larger ``iters``, which extends the run with the saved schedule, see
    ``train.resume``; ``expect_task`` refuses a run of another task). ``workers`` overrides
    ``data.workers`` (it does not change the data drawn). ``max_minutes`` ends training early, as if ``iters`` had
    been reached (checkpoint, validation, export), once that much wall time has passed in this
    call; the schedule is not compressed, and ``--resume`` can continue to ``iters`` later. ``stop_at`` does the
    same at a fixed iteration of the planned schedule, so an export stopped early can be remade at the same iteration.
    A new run refuses a ``run_dir`` holding another run's artefacts (:data:`RUN_ARTEFACTS`) unless ``overwrite``,
    which removes them first.
    Before the run folder is written, ``memory_check`` measures a real training step and chooses
    ``cfg.accum`` (or checks a given one) so the run fits in memory (``train.preflight``).
    """
    if resume and overwrite:
        raise ConfigError("--resume continues the run in the folder and --overwrite replaces it; pass one of them")
    if max_minutes is not None and max_minutes <= 0:
        raise ConfigError(f"max_minutes must be positive, got {max_minutes!r}")
    env = dist_utils.setup(device)
    try:
        chosen = reporter if env.master and reporter is not None else NullReporter()
        return _train(cfg, Path(run_dir), env, resume, workers, chosen, expect_task, max_minutes, stop_at, overwrite,
                      memory_check)
    finally:
        dist_utils.teardown(env)


@dataclass
class Run:
    """An open run: what the phases share. ``iteration``, ``checkpoint`` and ``val`` advance as it trains."""

    cfg: TrainConfig
    run_dir: Path
    env: DistEnv
    reporter: Reporter
    resumed: bool
    start: int
    notes: str
    """Memory plan and data layout, for the first line."""
    dtype: torch.dtype
    parts: Parts
    batches: BatchMaker
    loader: Iterator[Any]
    val_images: list[ValImage]
    logs: RunLogs | None
    iteration: int
    checkpoint: Path | None
    val: dict[str, float] | None = None

    def note(self, text: str) -> None:
        """One event, to ``train.log`` (rank 0) and the reporter."""
        if self.logs is not None:
            self.logs.text.write(text)
        self.reporter.message(text)

    def save(self, it: int) -> Path:
        """Checkpoint iteration ``it`` on every rank (each adds its RNG and queue states)."""
        cfg, env = self.cfg, self.env
        shared = {**self.parts.state_dict(), "config": config_to_dict(cfg),
                  "network": dataclasses.asdict(cfg.network()),
                  "data": {"position": it * cfg.data.batch_size * env.world_size}}
        per_rank = {"rng": rng_state(env.device), "batches": self.batches.state_dict()}
        meta = {"task": cfg.task, "stage": cfg.stage, "network": cfg.network().name}
        folder = save_checkpoint(self.run_dir, it, env, shared=shared, per_rank=per_rank, meta=meta,
                                 keep_last=cfg.keep_last)
        self.note(f"checkpoint {folder}")
        return folder

    def validate(self, it: int) -> dict[str, float]:
        """PSNR/SSIM of the EMA (or raw) generator on the validation set, logged; rank 0 only."""
        parts = self.parts
        net_eval = parts.ema.module if parts.ema is not None else parts.net
        values = run_validation(
            net_eval, self.val_images, device=self.env.device, dtype=self.dtype, crop_border=self.cfg.val.crop_border,
            sample_dir=self.run_dir / "samples" / f"iter_{it:08d}", samples=self.cfg.val.samples,
        )
        assert self.logs is not None
        self.logs.val.append({"iteration": it, **values})
        self.logs.scalars(it, values, "val")
        self.reporter.validation(it, values)
        self.note(f"validation at {it}: PSNR {values['psnr']:.3f} dB, SSIM {values['ssim']:.4f} "
                  f"({int(values['images'])} images)")
        return values


def _train(
    cfg: TrainConfig | None,
    run_dir: Path,
    env: DistEnv,
    resume: bool,
    workers: int | None,
    reporter: Reporter,
    expect_task: str | None,
    max_minutes: float | None,
    stop_at: int | None = None,
    overwrite: bool = False,
    memory_check: bool = True,
) -> TrainResult:
    """The phases: settle the config, open the run, iterate, export."""
    settled, ckpt, memory_note = _settle_config(cfg, run_dir, env, resume=resume, workers=workers,
                                                expect_task=expect_task, stop_at=stop_at, overwrite=overwrite,
                                                memory_check=memory_check)
    run = _open_run(settled, ckpt, memory_note, run_dir, env, reporter)
    _announce(run)
    try:
        _iterate(run, max_minutes, stop_at)
        assert run.checkpoint is not None
        weights = _export(run)
        dist_utils.barrier(env)
        return TrainResult(run_dir, run.iteration, run.checkpoint, weights, run.val)
    finally:
        reporter.finish()
        if run.logs is not None:
            run.logs.close()


def _settle_config(
    cfg: TrainConfig | None, run_dir: Path, env: DistEnv, *, resume: bool, workers: int | None,
    expect_task: str | None, stop_at: int | None, overwrite: bool, memory_check: bool,
) -> tuple[TrainConfig, LoadedCheckpoint | None, str]:
    """The config the run trains with, its checkpoint (resume) and the memory words; the run folder written.

    Resuming, the checkpoint's config wins (``cfg`` may only extend ``iters``); a new run gets
    absolute data roots, so ``--resume`` finds the data from any working directory.
    """
    ckpt: LoadedCheckpoint | None = None
    if resume:
        folder = latest_checkpoint(run_dir)
        if folder is None:
            raise CheckpointError(f"nothing to resume: {run_dir / 'checkpoints'} holds no checkpoint")
        ckpt = load_checkpoint(folder, env)
        saved = config_from_dict(ckpt.shared["config"])
        if expect_task is not None and expect_task != saved.task:
            raise ConfigError(f"{run_dir} holds a {saved.task} run; it cannot resume as --task {expect_task}")
        cfg = continue_config(saved, cfg)
        if env.master and cfg != saved:  # extended: config.json says what the run now is
            save_config(cfg, run_dir / "config.json")
    elif cfg is None:
        raise ConfigError("a new run needs a config")
    else:
        cfg = replace(
            cfg, data=replace(cfg.data, root=absolute_roots(cfg.data.root)),
            val=replace(cfg.val, root=absolute_roots(cfg.val.root) if cfg.val.root else cfg.val.root),
        )
    start = ckpt.iteration if ckpt is not None else 0
    if stop_at is not None and not start < stop_at <= cfg.iters:  # before any folder is written or model built
        raise ConfigError(f"stop_at {stop_at} is not after the run's iteration {start} and within its {cfg.iters} iterations")
    checked, memory_note = settle_accumulation(cfg, env) if memory_check else (cfg, "memory check off")
    if ckpt is None:
        _prepare_run_dir(checked, run_dir, env, overwrite)
    elif env.master and checked != cfg:  # a run saved before accum was chosen: config.json gets it now
        save_config(checked, run_dir / "config.json")
    cfg = checked
    if workers is not None:
        cfg = replace(cfg, data=replace(cfg.data, workers=workers))
    return cfg, ckpt, memory_note


def _open_run(cfg: TrainConfig, ckpt: LoadedCheckpoint | None, memory_note: str, run_dir: Path, env: DistEnv,
              reporter: Reporter) -> Run:
    """Model, optimisers, data and logs, in the order of their random draws (resume depends on it)."""
    resume = ckpt is not None
    start = ckpt.iteration if ckpt is not None else 0
    layout = discover_datasets(cfg.data.root, scale=cfg.scale)
    check_readable(layout)
    spec = patch_spec(cfg, layout.paired)
    dtype = resolve_precision(cfg.precision, env.device)
    resolve_backend(cfg.model.scan_backend, env.device, dtype)  # auto's kernel self-test before the big allocations
    seed_everything(cfg.seed)
    net = build_model(cfg.network(), scan_backend=cfg.model.scan_backend).to(env.device)
    if cfg.model.init and ckpt is None:
        _load_init(net, cfg.model.init, cfg.task)
    elif cfg.model.icnr and ckpt is None:
        icnr_sr_tail_(net.tail)
    parts = build_parts(cfg, net, env.device, dtype)
    batches = BatchMaker(cfg, spec.mode, env.device, env.rank)
    if ckpt is not None:
        parts.load_state_dict(ckpt.shared)
        batches.load_state_dict(ckpt.per_rank["batches"])
        if ckpt.shared["data"]["position"] != start * cfg.data.batch_size * env.world_size:
            raise CheckpointError(f"{ckpt.folder}: data position {ckpt.shared['data']['position']} does not match "
                                  f"iteration {start} x global batch; the checkpoint is inconsistent")
    wrap_for_training(parts, cfg, env)

    sampler = PositionSampler(
        len(layout), seed=cfg.seed, batch_size=cfg.data.batch_size, world_size=env.world_size, rank=env.rank,
        start_iteration=start,
    )
    on_cpu = env.device.type == "cpu"  # CPU: degrade in the loader workers, overlapping the step
    finish = LoaderSynthesis(cfg, env.rank, cfg.data.batch_size * env.world_size) if on_cpu and spec.mode == "hr" else None
    loader = iter(make_loader(PatchDataset(layout, spec, cfg.seed), sampler, workers=cfg.data.workers,
                              pin_memory=env.device.type == "cuda", finish=finish))
    if ckpt is not None:  # after the loader, which draws its base seed from the global generator
        set_rng_state(ckpt.per_rank["rng"], env.device)
    val_images: list[ValImage] = load_val_set(cfg) if env.master and cfg.val.root else []
    logs = RunLogs(run_dir, parts.loss_names, resume_at=start if resume else None, tensorboard=cfg.tensorboard) \
        if env.master else None
    return Run(cfg, run_dir, env, reporter, resumed=resume, start=start,
               notes=f"{memory_note}; data: {layout.describe()}", dtype=dtype, parts=parts, batches=batches, loader=loader, val_images=val_images, logs=logs,
               iteration=start, checkpoint=ckpt.folder if ckpt is not None else None)


def _announce(run: Run) -> None:
    """The first line (what trains where, memory, data) and the progress bar."""
    cfg, env = run.cfg, run.env
    run.note(f"{'resuming' if run.resumed else 'starting'} {cfg.task}/{cfg.stage} ({cfg.network().name}) "
             f"at iteration {run.start} of {cfg.iters}; {env.world_size} process(es) on {env.device}; {run.notes}")
    if cfg.stage == "gan" and not cfg.model.init and not run.resumed:
        run.note("warning: the GAN stage starts from random weights; the authors start it from the L1 stage (model.init)")
    run.reporter.start(cfg.iters, run.start, f"{cfg.task}/{cfg.stage}")


def _iterate(run: Run, max_minutes: float | None, stop_at: int | None) -> None:
    """Train to ``cfg.iters`` (or ``stop_at``, or the time limit): log, validate and checkpoint on the way.

    A signal ends the iteration in progress, checkpoints it and raises :class:`TrainingInterrupted`.
    """
    cfg, env, parts, reporter = run.cfg, run.env, run.parts, run.reporter
    window, t0 = LossWindow(), time.perf_counter()
    deadline = None if max_minutes is None else time.monotonic() + 60.0 * max_minutes
    poll = StopPoll(env, cfg.log_every)
    with stop_on_signals() as stop:
        for it in range(run.start + 1, cfg.iters + 1):
            run.iteration = it
            lq, gt = run.batches(next(run.loader), it)
            window.add(train_step(parts, lq, gt, env.device, cfg.accum or 1))
            reporter.iteration_done(it)
            stop_requested, out_of_time = poll(
                it, stop.signum is not None, deadline is not None and time.monotonic() > deadline)
            ending = it == cfg.iters or out_of_time or it == stop_at
            if it % cfg.log_every == 0 or ending:
                values, speed = window.flush(env)
                lr = float(parts.opt_g.param_groups[0]["lr"])
                if run.logs is not None:
                    row = {"iteration": it, "lr": lr, **values, "it_per_s": speed}
                    run.logs.metrics.append({**row, "elapsed_s": round(time.perf_counter() - t0, 3)})
                    run.logs.scalars(it, {"lr": lr, **values}, "train")
                reporter.log(it, {"lr": lr, **values, "it/s": speed})
            if it == stop_at and it < cfg.iters:
                run.note(f"stopping at iteration {it} of {cfg.iters} as asked (stop_at); --resume continues")
            if out_of_time and it < cfg.iters:
                run.note(f"time limit ({max_minutes:g} min) reached at iteration {it} of {cfg.iters}; finishing here")
            if run.val_images and (it % cfg.val.every == 0 or ending):
                run.val = run.validate(it)
            if it % cfg.save_every == 0 or ending:
                run.checkpoint = run.save(it)
            if ending:
                break
            if stop_requested:
                run.note(f"stop requested (signal {stop.signum or 'on another rank'}); saving iteration {it}")
                if it % cfg.save_every:
                    run.checkpoint = run.save(it)
                raise TrainingInterrupted(it, run.checkpoint or run.run_dir)


def _export(run: Run) -> Path | None:
    """Rank 0 writes the EMA (or raw) generator as ``model.safetensors`` with its task metadata."""
    if not run.env.master:
        return None
    cfg, parts = run.cfg, run.parts
    source = parts.ema.module if parts.ema is not None else parts.net
    weights = export_weights(
        source.state_dict(), cfg.network(), cfg.task, run.run_dir / EXPORT_NAME, fp16=cfg.export_fp16,
        extra={"vmambair.stage": cfg.stage, "vmambair.iterations": str(run.iteration),
               "vmambair.weights": "params_ema" if parts.ema is not None else "params"},
    )
    run.note(f"exported {weights}")
    return weights
