"""CPU threads of a command: torch's intra-op pool, and numba's where numba is installed.

Default (None): leave torch's choice (one thread per core, or ``OMP_NUM_THREADS``). On a CPU
shared with other work one thread is often faster: each torch op waits for its slowest thread,
and a thread that loses its core stalls the whole op (see docs/performance.md).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

import torch

from .errors import ConfigError


def _numba() -> Any | None:
    """The numba module when it is installed (imported on demand: it takes a second to load)."""
    if importlib.util.find_spec("numba") is None:
        return None
    import numba  # noqa: PLC0415

    return numba


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads for torch and numba's parallel loops; None keeps the defaults."""
    if threads is None:
        return
    if threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {threads}")
    torch.set_num_threads(threads)
    # numba is not imported for this (a second of start-up): every numba launch takes torch's count
    # (``scan.numba_kernels.set_numba_threads``); a pool already loaded follows now.
    numba = sys.modules.get("numba")
    if numba is not None:  # numba cannot grow past the pool it started with
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def thread_report() -> dict[str, int | None]:
    """Threads in effect: torch intra-op and inter-op, numba (None when not installed), usable cores."""
    numba = _numba()
    return {
        "torch": torch.get_num_threads(),
        "torch_interop": torch.get_num_interop_threads(),
        "numba": None if numba is None else int(numba.get_num_threads()),
        "cores": usable_cores(),
    }
