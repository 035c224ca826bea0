"""When a run stops early: a signal (Ctrl-C, SIGTERM), seen by every rank at the same iteration.

A signal only sets a flag (:func:`stop_on_signals`); the loop finishes the iteration, saves a
checkpoint and raises :class:`TrainingInterrupted`. Under DDP the ranks compare their flags
(:class:`StopPoll`) so all of them stop at one iteration.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vmambair_core.train import distributed as dist_utils
from vmambair_core.train.distributed import DistEnv


class TrainingInterrupted(KeyboardInterrupt):
    """Raised after Ctrl-C/SIGTERM once the checkpoint of ``iteration`` is on disk."""

    def __init__(self, iteration: int, checkpoint: Path) -> None:
        super().__init__(f"interrupted at iteration {iteration}; checkpoint {checkpoint}")
        self.iteration, self.checkpoint = iteration, checkpoint


@dataclass
class StopFlag:
    """The first signal received (None: none); set from the signal handler."""

    signum: int | None = None


@contextlib.contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """SIGINT/SIGTERM set a flag instead of killing the process; repeats are ignored."""
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, _frame: object) -> None:
        if flag.signum is None:
            flag.signum = signum

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@dataclass(frozen=True)
class StopPoll:
    """When the ranks compare their reasons to stop (a signal, the time limit).

    Comparing is an all-reduce plus ``.item()``: a host sync. Under DDP it happens every
    ``every`` iterations (``log_every``, where the loss log syncs anyway) at the same iterations
    on every rank, so all ranks still stop at one iteration; a single process needs no
    agreement and looks at its flags after every iteration.
    """

    env: DistEnv
    every: int

    def __call__(self, iteration: int, signalled: bool, out_of_time: bool) -> tuple[bool, bool]:
        """(stop requested, time is up) as every rank sees it; (False, False) between polls."""
        if self.env.ddp and iteration % self.every:
            return False, False
        stop, late = dist_utils.any_ranks(self.env, (signalled, out_of_time))
        return stop, late
