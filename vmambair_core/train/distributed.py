"""One process or many: DDP set-up from torchrun's environment, and the torchrun launcher.

nanoGPT's recipe: if torchrun's ``RANK`` is set, join the process group (NCCL on GPUs, gloo on
CPU), take the device from ``LOCAL_RANK``, and let only rank 0 log and save; otherwise run the
same code in one process. ``launch_torchrun`` starts N workers through PyTorch's own launcher::

    python -m torch.distributed.run --standalone --nproc-per-node 8 -m vmambair_cli train ...
    # several machines: --nnodes 2 --node-rank {0,1} --master-addr HOST --master-port 29500
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from vmambair_core.device import resolve_device, set_current_device
from vmambair_core.errors import BackendUnavailableError, ConfigError
from vmambair_core.outcome import EXIT_INTERRUPTED


@dataclass(frozen=True)
class DistEnv:
    """Where this process stands: ``rank`` of ``world_size``, its ``device``, whether DDP is on."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def ddp(self) -> bool:
        return self.world_size > 1

    @property
    def master(self) -> bool:
        return self.rank == 0


def torchrun_env() -> tuple[int, int, int] | None:
    """(rank, local_rank, world_size) when started by torchrun, else None."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    return int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0")), int(os.environ["WORLD_SIZE"])


COLLECTIVE_TIMEOUT = timedelta(hours=2)
"""How long a rank waits in a collective: the others wait in a barrier while rank 0 validates (full-size
images) and writes checkpoints, which NCCL's default of 10 minutes would cut short, killing the run."""
def _several_device(device: str) -> str:
    """The device spelling several processes accept (each takes its own GPU, or the CPU)."""
    spec = device.strip().lower()
    if spec not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"with several processes --device must be auto, cpu or cuda (one GPU each), got {device!r}")
    return spec


def setup(device: str = "auto") -> DistEnv:
    """Join torchrun's process group if there is one; pick this process's device and make it current."""
    env = torchrun_env()
    if env is None or env[2] == 1:
        single = resolve_device(device)
        set_current_device(single)
        return DistEnv(device=single)
    rank, local_rank, world = env
    spec = _several_device(device)
    dev = resolve_device("cuda" if spec == "auto" and torch.cuda.is_available() else spec)
    if dev.type == "cuda":
        dev = torch.device("cuda", local_rank)
        set_current_device(dev)
        dist.init_process_group(backend="nccl", timeout=COLLECTIVE_TIMEOUT)
    else:
        dist.init_process_group(backend="gloo", timeout=COLLECTIVE_TIMEOUT)
    return DistEnv(rank=rank, local_rank=local_rank, world_size=world, device=dev)


def teardown(env: DistEnv) -> None:
    if env.ddp and dist.is_initialized():
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    if env.ddp:
        dist.barrier()


def any_rank(env: DistEnv, flag: bool) -> bool:
    """True on every rank when ``flag`` is true on any (all ranks stop at the same iteration)."""
    return any_ranks(env, (flag,))[0]


def any_ranks(env: DistEnv, flags: Sequence[bool]) -> tuple[bool, ...]:
    """:func:`any_rank` of several flags in one all-reduce (one host sync)."""
    if not env.ddp:
        return tuple(flags)
    t = torch.tensor([1.0 if f else 0.0 for f in flags], device=env.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return tuple(bool(v > 0) for v in t.tolist())


def max_across(env: DistEnv, value: int) -> int:
    """The largest ``value`` of all ranks, on every rank."""
    if not env.ddp:
        return value
    t = torch.tensor([float(value)], device=env.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return int(t.item())


def mean_across(env: DistEnv, values: dict[str, float]) -> dict[str, float]:
    """Average logged scalars over ranks (only for display; the gradients are already averaged)."""
    if not env.ddp or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], device=env.device, dtype=torch.float64)
    dist.all_reduce(t)
    return {k: float(v) / env.world_size for k, v in zip(keys, t.tolist())}


# --------------------------------------------------------------------------- launching


def torchrun_args(
    nproc: int,
    *,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str | None = None,
    master_port: int | None = None,
) -> list[str]:
    """torchrun's own flags. One node without an address: ``--standalone`` (a free local port)."""
    if nproc < 1 or nnodes < 1 or not 0 <= node_rank < nnodes:
        raise ConfigError(f"need gpus >= 1, nnodes >= 1 and 0 <= node_rank < nnodes; got {nproc}, {nnodes}, {node_rank}")
    args = [f"--nproc-per-node={nproc}"]
    if nnodes == 1 and master_addr is None and master_port is None:
        return ["--standalone", *args]
    if nnodes > 1 and master_addr is None:
        raise ConfigError("several nodes need --master-addr (the host of node 0) on every node")
    args += [f"--nnodes={nnodes}", f"--node-rank={node_rank}", f"--master-addr={master_addr or '127.0.0.1'}"]
    args.append(f"--master-port={master_port if master_port is not None else 29500}")
    return args


def check_gpu_count(nproc: int, device: str, visible: int | None = None) -> None:
    """``--gpus N`` means N CUDA GPUs: refuse at once when fewer are visible (``visible``: for tests).

    N CPU processes are asked for plainly, with ``device="cpu"``; they share the cores and each
    holds its own copy of the model and batch.
    """
    if _several_device(device) == "cpu":
        return
    n = torch.cuda.device_count() if visible is None else visible
    if n < nproc:
        seen = "no CUDA GPU is" if n == 0 else f"only {n} CUDA GPU{'s are' if n > 1 else ' is'}"
        fewer = f"use --gpus {n} or, " if n else ""
        raise BackendUnavailableError(f"--gpus {nproc} asks for {nproc} GPUs but {seen} visible here; {fewer}for {nproc} CPU "
                          "processes that share the cores (each with its own copy of the model and batch) add --device cpu")


def launch_torchrun(
    launcher_args: Sequence[str],
    entry: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    report: Path | None = None,
    log: Path | None = None,
) -> int:
    """Run ``python -m torch.distributed.run LAUNCHER_ARGS ENTRY`` and wait; returns its exit code.

    With ``report`` and ``log`` torchrun runs through ``vmambair_core.train.launch``: its own log
    and traceback go to ``log``, the failed workers to ``report`` (``launch.read_report``).

    torchrun gets its own session, so a Ctrl-C in the terminal reaches only this process, which
    forwards one signal; torchrun passes it to every worker, and the workers save a checkpoint
    and exit. The result is then 130 (interrupted) whatever torchrun reports.
    """
    runner = ["vmambair_core.train.launch", str(report), str(log)] if report and log else ["torch.distributed.run"]
    cmd = [sys.executable, "-m", *runner, *launcher_args, *entry]
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, start_new_session=True)
    received: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if not received:
            proc.send_signal(signum)
        received.append(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        rc = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    return EXIT_INTERRUPTED if received else rc
