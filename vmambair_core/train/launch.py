"""torchrun run from inside, so a failed worker comes back as data instead of a traceback.

``python -m vmambair_core.train.launch REPORT LOG TORCHRUN-ARGS...`` does what
``python -m torch.distributed.run TORCHRUN-ARGS...`` does, except that the launcher's own log
(and its 40-line ``ChildFailedError`` summary) goes to LOG instead of the terminal, and the failed
workers are written to REPORT as JSON: global rank, exit code (negative: the signal that killed
it), the worker's error message and traceback. Workers keep the terminal (rank 0's progress).

A worker records its own exception in torchrun's error file (``record_worker_error``), so the
message is its last line, not "exit code 1". :func:`describe_failure` turns the report into the
one line the CLI prints.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vmambair_core.errors import VmambairError
from vmambair_core.outcome import EXIT_INTERRUPTED

#: Set by torchrun in each worker: where the worker writes its failure (JSON, see ``record_worker_error``).
ERROR_FILE_ENV = "TORCHELASTIC_ERROR_FILE"
LOG_NAME = "workers.log"


@dataclass(frozen=True)
class WorkerFailure:
    """One failed worker as torchrun saw it."""

    rank: int
    exitcode: int
    message: str = ""
    traceback: str = ""
    timestamp: int = 0

    @property
    def signal(self) -> int | None:
        return -self.exitcode if self.exitcode < 0 else None

    @property
    def casualty(self) -> bool:
        """Stopped because another worker failed (torchrun's SIGTERM, or our save-and-exit 130)."""
        return self.signal in (signal.SIGTERM, signal.SIGINT) or self.exitcode == EXIT_INTERRUPTED


def record_worker_error(exc: BaseException) -> bool:
    """Write ``exc`` into torchrun's error file (torchrun's own JSON layout); False when not under torchrun.

    The message is the exception's last line: ours (``VmambairError``) without the type name.
    """
    path = os.environ.get(ERROR_FILE_ENV)
    if not path:
        return False
    message = str(exc) if isinstance(exc, VmambairError) else f"{type(exc).__name__}: {exc}"
    data = {"message": {"message": message, "extraInfo": {
        "py_callstack": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "timestamp": str(int(time.time())),
    }}}
    try:
        Path(path).write_text(json.dumps(data), encoding="utf-8")
    except OSError:
        return False
    return True


def _failure(rank: int, f: Any) -> WorkerFailure:
    message, trace = f.message, ""
    if isinstance(message, dict):  # written by a worker: {"message": ..., "extraInfo": {"py_callstack": ...}}
        trace = str(message.get("extraInfo", {}).get("py_callstack", ""))
        message = message.get("message", "")
    if not os.path.isfile(str(f.error_file)):
        message = ""  # torchrun's placeholder ("To enable traceback see ...") says nothing about the cause
    return WorkerFailure(int(rank), int(f.exitcode), str(message), trace, int(f.timestamp))


def root_cause(failures: list[WorkerFailure]) -> WorkerFailure | None:
    """The failure that started it: not a casualty of the teardown, the earliest, then the lowest rank."""
    if not failures:
        return None
    first = [f for f in failures if not f.casualty] or failures
    return min(first, key=lambda f: (f.timestamp, f.rank))


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def describe_failure(failures: list[WorkerFailure], log: Path | None, exitcode: int) -> str:
    """One line: which rank, why (signal 9 -> most likely out of memory, with what to try), where the log is."""
    cause = root_cause(failures)
    where = f"; full log: {log}" if log is not None else ""
    if cause is None:
        return f"training workers failed (launcher exit code {exitcode}){where}"
    who = f"training worker rank {cause.rank}"
    if cause.signal == signal.SIGKILL:
        return (f"{who} was killed by the system (signal 9), most likely out of memory: try a smaller --batch-size "
                f"or --patch-size, a larger --accum, or fewer processes{where}")
    if cause.signal is not None:
        try:
            name = signal.Signals(cause.signal).name
        except ValueError:
            name = f"signal {cause.signal}"
        return f"{who} was killed by {name} (signal {cause.signal}){where}"
    detail = _last_line(cause.message) or f"exited with code {cause.exitcode}"
    return f"{who} failed: {detail}{where}"


def read_report(path: Path) -> list[WorkerFailure]:
    """The launcher's REPORT file; empty when it is missing or unreadable (the launcher died itself)."""
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [WorkerFailure(**row) for row in rows]
    except (OSError, ValueError, TypeError):
        return []


def _write_report(path: Path, failures: list[WorkerFailure]) -> None:
    path.write_text(json.dumps([f.__dict__ for f in failures]), encoding="utf-8")


def main(argv: list[str]) -> int:
    """Run torchrun with ``argv[2:]``; its log to ``argv[1]``, failed workers to ``argv[0]``."""
    report, log, rest = Path(argv[0]), Path(argv[1]), argv[2:]
    handler = logging.FileHandler(log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.captureWarnings(True)
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    _write_report(report, [])
    try:
        run(parse_args(rest))
    except ChildFailedError as exc:
        failures = [_failure(rank, f) for rank, f in sorted(exc.failures.items())]
        _write_report(report, failures)
        with log.open("a", encoding="utf-8") as fh:  # torchrun's summary: every failure, with tracebacks
            fh.write(f"\n{exc}\n")
        return 1
    except (SignalException, KeyboardInterrupt) as exc:
        logging.getLogger(__name__).warning("launcher stopped by %s", exc)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
