"""Output paths against input paths: a run never writes over a file it reads.

Paths are compared after following links (``os.path.realpath``, which never raises, so a symlink loop
is compared as written and reported later by whoever opens it) and case-folded where the OS folds case.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def path_key(path: str | os.PathLike[str]) -> str:
    """The identity of a path for comparisons: links resolved, ``~`` expanded, case folded where the OS does."""
    return os.path.normcase(os.path.realpath(os.path.expanduser(os.fspath(path))))


def input_clash(outputs: Iterable[Path], inputs: Iterable[Path]) -> tuple[Path, Path] | None:
    """The first ``(output, input)`` pair naming one file, or None: such an output would destroy an input."""
    by_key = {path_key(p): p for p in inputs}
    for output in outputs:
        hit = by_key.get(path_key(output))
        if hit is not None:
            return output, hit
    return None
