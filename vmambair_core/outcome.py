"""How a run ended, as the exit status of the command that ran it: one rule for ``restore``, ``eval`` and ``train``.

* 0: done (every input restored, skipped or scored);
* 1: the work failed: a file, the weights, the device, or every input;
* 2: a usage error: an unknown or contradictory value (:class:`~vmambair_core.errors.ConfigError`, or
  the command line parser's own);
* 3: some inputs failed while others were done (they are listed);
* 130: interrupted (Ctrl-C or SIGTERM; 128 + SIGINT, as shells report an interrupted program).
"""

from __future__ import annotations

from .errors import ConfigError

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def exit_code(*, done: int, failed: int, interrupted: bool = False, stopped: bool = False) -> int:
    """The status of a batch: ``done`` inputs finished (or skipped), ``failed`` not; ``stopped`` by an error
    that would repeat for every input."""
    if interrupted:
        return EXIT_INTERRUPTED
    if stopped:
        return EXIT_ERROR
    if not failed:
        return EXIT_OK
    return EXIT_PARTIAL if done else EXIT_ERROR


def error_exit_code(error: BaseException) -> int:
    """The status of a run refused before its first input: 2 for a usage error, 1 for anything else."""
    return EXIT_USAGE if isinstance(error, ConfigError) else EXIT_ERROR
