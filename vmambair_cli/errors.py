"""One error edge: library errors become a one-line message and an exit code, never a traceback.

Exit codes, the same for every command (:mod:`vmambair_core.outcome`): 0 done; 1 the work failed (a file,
the weights, the device); 2 a usage error (an unknown or contradictory flag value: Typer's own and the
library's ConfigError alike); 3 some images failed while others were done (restore, eval); 130
interrupted (Ctrl-C, SIGTERM).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import typer
from rich.markup import escape
from rich.console import Console

from vmambair_core.errors import VmambairError
from vmambair_core.outcome import EXIT_ERROR, EXIT_INTERRUPTED, error_exit_code

_err = Console(stderr=True, highlight=False)
T = TypeVar("T")


def debug_enabled() -> bool:
    return os.environ.get("VMAMBAIR_DEBUG", "") not in ("", "0")


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(text: object) -> str:
    """``text`` with control characters shown as ``\\x1b``-style escapes: a file name holding an ESC
    sequence must not move the cursor, recolour or retitle the user's terminal."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def shown(text: object) -> str:
    """``text`` safe to print through rich: control characters escaped, then rich markup."""
    return escape(printable(text))


def fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    """Print ``Error: message`` on stderr and return the Exit to raise."""
    _err.print(f"[bold red]Error:[/] {shown(message)}", soft_wrap=True)
    return typer.Exit(code)


def _json_error(message: str, code: int) -> None:
    """With --json, scripts get a JSON document on stdout even when the command fails."""
    typer.echo(json.dumps({"error": message, "exit_code": code}))


def run_guarded(fn: Callable[[], T], debug: bool = False, json_out: bool = False) -> T:
    """Run a command body; map known errors to messages and exit codes (tracebacks only with --debug).

    With ``json_out`` the error is also printed as ``{"error": ..., "exit_code": ...}`` on stdout:
    use it for the steps that run before the command's own JSON document is printed.
    """
    try:
        return fn()
    except typer.Exit:
        raise
    except VmambairError as exc:
        if debug or debug_enabled():
            raise
        code = error_exit_code(exc)
        if json_out:
            _json_error(str(exc), code)
        raise fail(str(exc), code) from None
    except KeyboardInterrupt:
        _err.print("[yellow]Interrupted.[/]")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except (OSError, MemoryError) as exc:
        if debug or debug_enabled():
            raise
        if json_out:
            _json_error(f"{type(exc).__name__}: {exc}", EXIT_ERROR)
        raise fail(f"{type(exc).__name__}: {exc}") from None


def print_error(message: str) -> None:
    _err.print(f"[bold red]Error:[/] {shown(message)}", soft_wrap=True)
    sys.stderr.flush()


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so atomic writes and temporary folders are cleaned up on the way out."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "SIGTERM"):
        yield
        return

    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
