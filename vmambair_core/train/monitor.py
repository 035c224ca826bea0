"""What a run reports, and where: a reporter for the screen, files for the record.

The loop calls a :class:`Reporter` (the CLI's draws a rich progress bar on stderr; the default
does nothing, so the loop never asks "is logging on"). Independently, rank 0 appends to
``train.log`` (events), ``metrics.csv`` (losses, lr, speed) and ``val.csv`` (PSNR/SSIM), and to
TensorBoard when the ``tensorboard`` package is importable. On resume the CSV rows past the
checkpoint's iteration (logged, then lost with the interruption) are dropped first.
"""

from __future__ import annotations

import csv
import importlib.util
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from torch import Tensor

from vmambair_core.errors import ConfigError
from vmambair_core.train import distributed as dist_utils
from vmambair_core.train.distributed import DistEnv


class Reporter(Protocol):
    """Screen-side hooks; every method must be cheap (called on rank 0 only)."""

    def start(self, total: int, first: int, description: str) -> None: ...
    def log(self, iteration: int, values: Mapping[str, float]) -> None: ...
    def validation(self, iteration: int, values: Mapping[str, float]) -> None: ...
    def message(self, text: str) -> None: ...
    def iteration_done(self, iteration: int) -> None: ...
    def finish(self) -> None: ...


class NullReporter:
    """Reports nothing (library use, tests, ranks other than 0)."""

    def start(self, total: int, first: int, description: str) -> None: ...
    def log(self, iteration: int, values: Mapping[str, float]) -> None: ...
    def validation(self, iteration: int, values: Mapping[str, float]) -> None: ...
    def message(self, text: str) -> None: ...
    def iteration_done(self, iteration: int) -> None: ...
    def finish(self) -> None: ...


class LossWindow:
    """Loss sums between two log lines, kept on the device until they are printed."""

    def __init__(self) -> None:
        self.sums: dict[str, Tensor] = {}
        self.count, self.started = 0, time.perf_counter()

    def add(self, losses: dict[str, Tensor]) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums[k] + v if k in self.sums else v.clone()
        self.count += 1

    def flush(self, env: DistEnv) -> tuple[dict[str, float], float]:
        """Mean losses over the window (and over the ranks) and iterations per second; starts a new window."""
        values = {k: float(v) / max(1, self.count) for k, v in self.sums.items()}
        speed = self.count / max(1e-9, time.perf_counter() - self.started)
        self.__init__()  # type: ignore[misc]
        return dist_utils.mean_across(env, values), speed


class CsvLog:
    """Append-only CSV with a fixed header; ``resume_at`` drops rows logged after a checkpoint."""

    def __init__(self, path: Path, columns: list[str], resume_at: int | None = None) -> None:
        self.path, self.columns = path, columns
        if resume_at is not None and path.is_file():
            with open(path, newline="", encoding="utf-8") as fh:
                rows = [r for r in csv.DictReader(fh) if int(float(r["iteration"])) <= resume_at]
            self._write(rows)
        elif resume_at is None or not path.is_file():
            self._write([])

    def _write(self, rows: list[dict[str, Any]]) -> None:
        with open(self.path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    def append(self, row: Mapping[str, Any]) -> None:
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore").writerow(
                {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
            )


class TextLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, text: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(f"{stamp} {text}\n")


def tensorboard_writer(mode: str, folder: Path) -> Any | None:
    """A SummaryWriter when wanted and importable; ``on`` without the package is an error."""
    if mode == "off":
        return None
    if importlib.util.find_spec("tensorboard") is None:
        if mode == "on":
            raise ConfigError("tensorboard = 'on' but the tensorboard package is not installed (pip install tensorboard)")
        return None
    from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415 - optional dependency

    return SummaryWriter(log_dir=str(folder))


class RunLogs:
    """The run folder's log files (rank 0 only)."""

    def __init__(self, run_dir: Path, loss_names: list[str], *, resume_at: int | None, tensorboard: str) -> None:
        self.text = TextLog(run_dir / "train.log")
        self.metrics = CsvLog(
            run_dir / "metrics.csv", ["iteration", "elapsed_s", "lr", *loss_names, "it_per_s"], resume_at
        )
        self.val = CsvLog(run_dir / "val.csv", ["iteration", "psnr", "ssim", "images"], resume_at)
        self.tb = tensorboard_writer(tensorboard, run_dir / "tensorboard")

    def scalars(self, iteration: int, values: Mapping[str, float], prefix: str) -> None:
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(f"{prefix}/{k}", v, iteration)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
