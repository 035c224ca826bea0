"""`vmambair train`: the authors' recipes on one device, N processes (torchrun) or several machines."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from vmambair_core.atomic import atomic_write_bytes
from vmambair_core.threads import set_threads
from vmambair_core.train import (
    EXIT_INTERRUPTED,
    LOG_NAME,
    RunFlags,
    TrainingInterrupted,
    check_gpu_count,
    check_inputs,
    describe_failure,
    launch_torchrun,
    plan_memory,
    plan_words,
    read_report,
    record_worker_error,
    run_config,
    torchrun_args,
    torchrun_env,
    train,
)

from .errors import fail, run_guarded
from .options import DebugOpt, DeviceOpt, QuietOpt, ThreadsOpt, backend_option, precision_option, task_option

T = TypeVar("T")

#: The launcher's own flags, not passed on to the workers it starts.
_LAUNCHER_FLAGS = ("gpus", "nnodes", "node_rank", "master_addr", "master_port")


class RichReporter:
    """Progress bar on stderr: iteration, losses, lr, it/s, ETA; events printed above it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console,
        )
        self.job: Any = None

    def start(self, total: int, first: int, description: str) -> None:
        self.progress.start()
        self.job = self.progress.add_task(description, total=total, completed=first, info="")

    def iteration_done(self, iteration: int) -> None:
        self.progress.update(self.job, completed=iteration)

    def log(self, iteration: int, values: dict[str, float]) -> None:
        parts = [f"{k} {v:.4g}" for k, v in values.items() if k not in ("lr", "it/s")]
        parts += [f"lr {values['lr']:.2e}", f"{values['it/s']:.2f} it/s"]
        self.progress.update(self.job, info=escape("  ".join(parts)))

    def validation(self, iteration: int, values: dict[str, float]) -> None:
        """Printed through ``message`` (the loop writes one line per validation)."""

    def message(self, text: str) -> None:
        self.console.print(escape(text), soft_wrap=True, highlight=False)

    def finish(self) -> None:
        self.progress.stop()


def _child_argv(params: dict[str, Any]) -> list[str]:
    """The same command for each torchrun worker, without the launcher's own flags."""
    argv: list[str] = []
    for name, value in params.items():
        if value is None or value is False or name in _LAUNCHER_FLAGS:
            continue
        flag = "--" + name.replace("_", "-")
        for one in value if isinstance(value, (list, tuple)) else [value]:  # repeated flags (--data A --data B)
            argv += [flag] if one is True else [flag, str(one)]
    return argv


def _worker_guarded(fn: Callable[[], T], debug: bool = False) -> T:
    """A torchrun worker: an error goes to torchrun's error file, not the terminal; the launcher says it once."""
    try:
        return fn()
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:
        if debug or not record_worker_error(exc):
            raise
        raise typer.Exit(1) from None


def _keep_log(log: Path, run_dir: Path) -> Path | None:
    """The launcher's log moved into the run folder (where the user looks); None if it cannot be."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        return atomic_write_bytes(run_dir / LOG_NAME, log.read_bytes())
    except OSError:
        return None


def train_cmd(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder: config, logs, checkpoints, samples, model.safetensors.")],
    task: Annotated[str | None, task_option("not needed with --resume.", "-t")] = None,
    stage: Annotated[str | None, typer.Option("--stage", help="l1 (default) or gan (sisr, realsr).")] = None,
    data: Annotated[list[Path] | None, typer.Option("--data", help="Training folder: LQ/GT sub-folders (paired by name) or HR images only; repeat for several (e.g. T91 + BSD200).")] = None,
    val: Annotated[Path | None, typer.Option("--val", help="Validation folder (same layouts); PSNR/SSIM every --val-every iterations.")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML/JSON (or YAML with PyYAML) file of config keys; flags override it.")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in -o from its newest checkpoint with its saved config; flags must equal it, except a larger --iters (extends the run).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Start a new run in an -o folder that holds another run's export, config or logs, removing them.")] = False,
    iters: Annotated[int | None, typer.Option("--iters", min=1, help="Total iterations (the recipe's schedule is rescaled).")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Batch per process (the authors': sisr 8, realsr 9, derain 8 at most).")] = None,
    patch_size: Annotated[int | None, typer.Option("--patch-size", min=8, help="GT patch side (derain: turns progressive patches off).")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Generator learning rate.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed of the model init, the data order and every random draw.")] = None,
    init: Annotated[Path | None, typer.Option("--init", help="Initial generator weights (the GAN stage starts from the L1 stage's export).")] = None,
    vgg_weights: Annotated[Path | None, typer.Option("--vgg-weights", help="torchvision vgg19-dcbb9e9d.pth for the GAN stage's perceptual loss (or $VMAMBAIR_VGG19_WEIGHTS).")] = None,
    workers: Annotated[int | None, typer.Option("--workers", min=0, help="Data-loading processes per GPU (default: min(4, cores - 1), at least 1; the data drawn do not depend on it).")] = None,
    max_minutes: Annotated[float | None, typer.Option("--max-minutes", min=0.0, help="Stop (checkpoint, validate, export) after this much training time; --resume continues.")] = None,
    stop_at: Annotated[int | None, typer.Option("--stop-at", min=1, help="Stop (checkpoint, validate, export) at this iteration of the planned --iters schedule; --resume continues.")] = None,
    save_every: Annotated[int | None, typer.Option("--save-every", min=1, help="Checkpoint every N iterations.")] = None,
    val_every: Annotated[int | None, typer.Option("--val-every", min=1, help="Validate every N iterations (and at the end).")] = None,
    accum: Annotated[int | None, typer.Option("--accum", min=1, help="Gradient accumulation: each batch as K micro-batches, the same update as the whole batch in less memory (default: the fewest that fit, found by measuring a real step before the run starts; saved in the run's config).")] = None,
    log_every: Annotated[int | None, typer.Option("--log-every", min=1, help="Log losses every N iterations (with several processes, also how often they check for a stop).")] = None,
    device: DeviceOpt = "auto",
    precision: Annotated[str | None, precision_option("auto: bf16 on capable GPUs, fp32 on CPU.")] = None,
    compile: Annotated[bool, typer.Option("--compile", help="torch.compile the generator.")] = False,
    export_fp16: Annotated[bool, typer.Option("--export-fp16", help="Write model.safetensors in fp16.")] = False,
    gpus: Annotated[int, typer.Option("--gpus", min=1, help="Processes on this machine, one per CUDA GPU, started by torchrun (refused when fewer GPUs are visible). With --device cpu: N CPU processes that share the cores, each holding its own copy of the model and batch (N times the memory).")] = 1,
    nnodes: Annotated[int, typer.Option("--nnodes", min=1, help="Machines taking part (run the same command on each).")] = 1,
    node_rank: Annotated[int, typer.Option("--node-rank", min=0, help="This machine's index, 0 .. nnodes-1.")] = 0,
    master_addr: Annotated[str | None, typer.Option("--master-addr", help="Host of node 0 (several machines).")] = None,
    master_port: Annotated[int | None, typer.Option("--master-port", help="Port on node 0 (default 29500).")] = None,
    model_dim: Annotated[int | None, typer.Option("--model-dim", hidden=True, help="Expert: toy width (tiny_config) for smoke runs.")] = None,
    model_blocks: Annotated[int | None, typer.Option("--model-blocks", hidden=True, help="Expert: toy depth (tiny_config).")] = None,
    backend: Annotated[str | None, backend_option()] = None,
    threads: ThreadsOpt = None,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Train VmambaIR with the authors' recipe for a task and stage; Ctrl-C saves a checkpoint (exit 130).

    The run folder (-o) gets config.json, train.log, metrics.csv, val.csv, samples/, checkpoints/ and, at the end, model.safetensors (EMA weights, task metadata) that restore and eval load. `--gpus N` starts N processes through torchrun.
    """
    set_threads(threads)
    err = Console(stderr=True, highlight=False)
    flags = RunFlags(
        data=tuple(data or ()), val=val, iters=iters, batch_size=batch_size, patch_size=patch_size, lr=lr, seed=seed,
        init=init, vgg_weights=vgg_weights, save_every=save_every, val_every=val_every, log_every=log_every,
        precision=precision, compile=compile, export_fp16=export_fp16, model_dim=model_dim, model_blocks=model_blocks,
        backend=backend, accum=accum,
    )

    distributed = gpus > 1 or nnodes > 1
    launching = distributed and torchrun_env() is None
    if launching:  # before anything slow: --gpus N with fewer GPUs is refused within seconds
        run_guarded(lambda: check_gpu_count(gpus, device), debug)
    worker = torchrun_env() is not None and torchrun_env()[2] > 1  # type: ignore[index]
    guarded = _worker_guarded if worker else run_guarded
    cfg = guarded(lambda: run_config(output, task=task, stage=stage, config_file=config, flags=flags, resume=resume),
                  debug)
    if launching:
        run_guarded(lambda: check_inputs(cfg), debug)  # fail here, once, rather than in every worker
        params = {**ctx.params, "output": str(output)}  # the command line as parsed, for the workers
        if device.strip().lower() == "cpu":  # the N processes share this machine's memory: check them together
            plan = run_guarded(lambda: plan_memory(cfg, "cpu", procs=gpus), debug)
            if plan is not None:
                params["accum"] = plan.accum
                if not quiet:
                    err.print(escape(plan_words(plan, cfg)), soft_wrap=True)
        launcher = run_guarded(
            lambda: torchrun_args(gpus, nnodes=nnodes, node_rank=node_rank, master_addr=master_addr,
                                  master_port=master_port), debug,
        )
        with tempfile.TemporaryDirectory(prefix="vmambair-launch-") as tmp:
            report, log = Path(tmp) / "failures.json", Path(tmp) / LOG_NAME
            rc = launch_torchrun(launcher, ["-m", "vmambair_cli", "train", *_child_argv(params)], report=report, log=log)
            if rc == EXIT_INTERRUPTED:
                err.print(f"[yellow]Interrupted[/]: the workers were told to save a checkpoint; continue with -o {escape(str(output))} --resume")
                raise typer.Exit(EXIT_INTERRUPTED)
            if rc != 0:
                kept = _keep_log(log, output)
                raise fail(describe_failure(read_report(report), kept, rc))
        return

    master = torchrun_env() is None or torchrun_env()[0] == 0  # type: ignore[index]
    reporter = RichReporter(err) if master and not quiet else None

    def run() -> Any:
        try:
            return train(cfg, output, device=device, resume=resume, workers=workers, reporter=reporter,
                         expect_task=task, max_minutes=max_minutes, stop_at=stop_at, overwrite=overwrite)
        except TrainingInterrupted as stop:
            if master:
                err.print(f"[yellow]Interrupted[/] at iteration {stop.iteration}; checkpoint {escape(str(stop.checkpoint))}. "
                          f"Continue with: vmambair train -o {escape(str(output))} --resume")
            raise typer.Exit(EXIT_INTERRUPTED) from None

    result = guarded(run, debug)
    if master and result.weights is not None:
        typer.echo(str(result.weights))
