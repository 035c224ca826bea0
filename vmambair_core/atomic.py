"""Atomic file writes: readers (and a crash at any moment) see the old file or the new one, never half.

One implementation for images, weights, checkpoints and configs: a temporary file beside the target
(created like ``open()`` would, so the umask applies), fsync, ``os.replace``, then fsync the folder
so the rename itself is durable. On any failure, Ctrl-C included, the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


#: A temporary file or folder of ours: ``.<name>.<8 hex digits>.tmp`` (see :func:`temp_name`).
TEMP_PATTERN = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")
#: Older than this, a temporary file of ours belongs to a process that was killed (SIGKILL, power loss):
#: a live writer touches its file continuously, so an hour-old one is never in use.
STALE_SECONDS = 3600.0


def temp_name(name: str) -> str:
    """A fresh hidden temporary name beside ``name`` (random, so concurrent writers never share one)."""
    return f".{name[:120]}.{secrets.token_hex(4)}.tmp"


def clean_stale_temps(folder: Path, *, older_than: float = STALE_SECONDS) -> list[Path]:
    """Remove the temporary files and folders of ours in ``folder`` last modified ``older_than`` seconds ago.

    What a killed process left behind; anything else (other names, recent temporaries of a process
    still writing) is kept. Returns what was removed; unreadable entries are skipped silently.
    """
    removed: list[Path] = []
    limit = time.time() - older_than
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            with contextlib.suppress(OSError):
                if not TEMP_PATTERN.match(entry.name) or entry.stat(follow_symlinks=False).st_mtime > limit:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed.append(Path(entry.path))
    return removed


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
        temp = folder / temp_name(target.name)
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
