"""Atomic file writes: readers (and a crash at any moment) see the old file or the new one, never half.

One implementation for images, weights, checkpoints and configs: a temporary file beside the target
(created like ``open()`` would, so the umask applies), fsync, ``os.replace``, then fsync the folder
so the rename itself is durable. On any failure, Ctrl-C included, the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); silently a no-op where folders cannot be opened."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def atomic_write(target: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``target``, then move it onto ``target``.

    ``OSError`` from the file system propagates unchanged; callers word it for their users.
    """
    target = Path(target)
    folder = target.parent
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = folder / f".{target.name[:120]}.{secrets.token_hex(4)}.tmp"
        try:
            descriptor = os.open(temp, flags, 0o666)  # 0o666 minus the umask, as open() gives
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    fsync_dir(folder)
    return target


def atomic_write_bytes(target: str | os.PathLike[str], payload: bytes) -> Path:
    return atomic_write(target, lambda handle: handle.write(payload))
