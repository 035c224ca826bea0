"""Pair degraded (LQ) and ground-truth (GT) images by file name, never by sorted order: train and eval share it.

Sorted-order pairing (``zip(sorted(lq), sorted(gt))``, what several authors' scripts do) silently
shifts every pair by one when a single file is missing or duplicated (Test2800 once shipped a stray
``926_10(1).jpg``). Here pairs are matched on names, in two passes:

1. **Identical stems pair first** (the extension and letter case are ignored: ``a.png`` ~ ``a.JPG``),
   whatever tokens they contain (``img_001_SRF_4_HR.png`` in both ``LQ/`` and ``HR/`` pairs as is).
2. Only the files left over try the naming schemes of the usual copies: a GT stem may lose one known
   suffix (``_HR``, ``_SRF_4_HR``, ``_GT``) or prefix (``norain-``, ``gt-``, ``clean-``), an LQ stem one
   suffix (``x4``, ``_LR``, ``_LQ``, ``_SRF_4_LR``) or prefix (``rain-``, ``rainy-``, ``norain-``), and
   all-digit names compare as numbers (``rain-001`` ~ ``norain-1``). A file that could pair two ways
   (``ax4`` with both ``a`` and ``ax4_HR``), or two files that claim the same partner, are refused,
   naming both: guessing would score or train on the wrong pair without a word.

A name that is unpaired on one side is therefore never unpaired on the other (pass 1 took it).
Examples: ``Set5/HR/baby.png`` + ``LR_bicubic_x4/babyx4.png`` (EDSR), ``img_001_SRF_4_HR.png`` +
``img_001_SRF_4_LR.png`` (SelfExSR), ``norain-1.png`` in both ``rain/`` and ``norain/`` (the JORDER
Rain100H copy), ``rain-001.png`` + ``norain-001.png`` (JORDER originals), ``1.png`` in ``input/`` and
``target/`` (Restormer).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from vmambair_core.data.io import IMAGE_EXTENSIONS
from vmambair_core.errors import InputError

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImagePair",
    "Pairing",
    "gt_pairs",
    "gt_key",
    "list_images",
    "name_list",
    "name_keys",
    "natural_key",
    "pair_files",
    "pair_images",
]

_SHOW = 12  # names listed in an error before "... and N more"
_PREFIXES = {
    "gt": ("norain-", "norain_", "clean-", "clean_", "gt-", "gt_"),
    "lq": ("norain-", "norain_", "rainy-", "rainy_", "rain-", "rain_"),
}


@lru_cache(maxsize=None)
def _suffixes(side: str, scale: int | None) -> tuple[re.Pattern[str], ...]:
    """Suffix patterns of one side, most specific first; ``scale`` pins the ``x4``/``SRF_4`` digit."""
    n = r"\d+" if scale is None else str(scale)
    if side == "gt":
        raw = (rf"_srf_{n}_hr", r"[_-](?:hr|gt)")
    else:
        raw = (rf"_srf_{n}_lr", rf"_lrbicx{n}", r"[_-](?:lr|lq)", rf"[_-]?x{n}")
    return tuple(re.compile(f"(?:{r})$", re.IGNORECASE) for r in raw)


@dataclass(frozen=True)
class ImagePair:
    """One image: its display key, the GT file and the LQ file (None when LQ is made from GT)."""

    key: str
    gt: Path
    lq: Path | None


@dataclass(frozen=True)
class Pairing:
    """The matched pairs (in natural key order) and the files each side had without a partner."""

    pairs: tuple[ImagePair, ...]
    gt_only: tuple[str, ...]
    lq_only: tuple[str, ...]

    def problems(self) -> list[str]:
        """``GT without LQ: ...`` / ``LQ without GT: ...`` parts of an error (empty when complete)."""
        out = []
        if self.gt_only:
            out.append(f"GT without LQ: {name_list(self.gt_only)}")
        if self.lq_only:
            out.append(f"LQ without GT: {name_list(self.lq_only)}")
        return out

    def complete(self, what: str) -> tuple[ImagePair, ...]:
        """The pairs, or an InputError ``{what} do not pair up by name; ...`` when a file has no partner."""
        if problems := self.problems():
            raise InputError(f"{what} do not pair up by name; " + "; ".join(problems))
        return self.pairs


def name_list(items: Sequence[str]) -> str:
    """``a, b, c ... and 7 more``: the first names of a long list, for one-line errors."""
    shown = ", ".join(items[:_SHOW])
    return shown + (f" ... and {len(items) - _SHOW} more" if len(items) > _SHOW else "")


def list_images(folder: Path, pattern: str = "*") -> list[Path]:
    """Image files directly in ``folder`` matching ``pattern`` (hidden files and checksums ignored)."""
    return sorted(
        p
        for p in folder.glob(pattern)
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def _numeric(key: str) -> str:
    return str(int(key)) if key.isdigit() else key


def _strips(stem: str, side: str, scale: int | None) -> list[str]:
    """``stem`` with one known affix of ``side`` removed, each way that applies (never to nothing)."""
    out = []
    for pattern in _suffixes(side, scale):
        m = pattern.search(stem)
        if m and m.start() > 0:
            out.append(stem[: m.start()])
    low = stem.lower()
    out.extend(stem[len(p) :] for p in _PREFIXES[side] if low.startswith(p) and len(stem) > len(p))
    return out


def gt_key(stem: str) -> str:
    """The display key of a GT stem: its most specific known affix removed, digits compared as numbers."""
    stripped = _strips(stem, "gt", None)
    return _numeric(stripped[0] if stripped else stem)


def name_keys(stem: str, side: str, scale: int | None = None) -> frozenset[str]:
    """Every key a stem of ``side`` (``gt``/``lq``) may pair under in pass 2: as is, or one affix off."""
    return frozenset(_numeric(k.lower()) for k in (stem, *_strips(stem, side, scale)))


def natural_key(key: str) -> tuple[tuple[int, int | str], ...]:
    """Sort ``2`` before ``10`` and ``img_2`` before ``img_10``: digit runs compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in re.split(r"(\d+)", key) if part)


def _by_stem(paths: Iterable[Path], side: str) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in paths:
        k = p.stem.casefold()
        if k in out:
            raise InputError(f"{p.parent}: {out[k].name} and {p.name} are the same {side} image name; keep one of them")
        out[k] = p
    return out


def _short(path: Path) -> str:
    """``folder/name``: enough to tell the two sides apart in an error."""
    return f"{path.parent.name}/{path.name}"


def _keyed_pairs(matched: list[tuple[Path, Path]]) -> tuple[ImagePair, ...]:
    """Pairs keyed by ``gt_key`` (the GT stem itself where two pairs would share one), in natural order."""
    keys = [gt_key(gt.stem) for gt, _ in matched]
    clash = {k for k, n in Counter(keys).items() if n > 1}
    pairs = [ImagePair(gt.stem if k in clash else k, gt, lq) for k, (gt, lq) in zip(keys, matched)]
    return tuple(sorted(pairs, key=lambda p: natural_key(p.key)))


def pair_files(lq: Iterable[Path], gt: Iterable[Path], *, scale: int | None = None) -> Pairing:
    """Match LQ and GT files by name (see the module docstring); ambiguity is an InputError naming both."""
    gts, lqs = _by_stem(gt, "GT"), _by_stem(lq, "LQ")
    matched = [(gts.pop(k), lqs.pop(k)) for k in sorted(set(gts) & set(lqs))]  # pass 1: identical stems
    by_key: dict[str, set[str]] = {}
    for stem, path in gts.items():
        for k in name_keys(path.stem, "gt", scale):
            by_key.setdefault(k, set()).add(stem)
    claimed: dict[str, Path] = {}
    for path in lqs.values():
        found = sorted(set().union(*(by_key.get(k, set()) for k in name_keys(path.stem, "lq", scale))))
        if len(found) > 1:
            raise InputError(
                f"LQ {_short(path)} could pair with GT {_short(gts[found[0]])} or {_short(gts[found[1]])}; "
                "rename one so each LQ file matches one GT name"
            )
        if not found:
            continue
        if found[0] in claimed:
            raise InputError(
                f"LQ {_short(claimed[found[0]])} and {path.name} both pair with GT {_short(gts[found[0]])}; "
                "keep one of them"
            )
        claimed[found[0]] = path
    matched += [(gts[stem], path) for stem, path in claimed.items()]
    taken = set(claimed.values())
    return Pairing(
        _keyed_pairs(matched),
        tuple(sorted((p.name for s, p in gts.items() if s not in claimed), key=natural_key)),
        tuple(sorted((p.name for p in lqs.values() if p not in taken), key=natural_key)),
    )


def pair_images(
    lq_dir: Path, gt_dir: Path, *, lq_pattern: str = "*", gt_pattern: str = "*", scale: int | None = None
) -> Pairing:
    """Match the images of two folders (or of one folder with two glob patterns) by name."""
    return pair_files(list_images(lq_dir, lq_pattern), list_images(gt_dir, gt_pattern), scale=scale)


def gt_pairs(gt_dir: Path, pattern: str = "*") -> tuple[ImagePair, ...]:
    """The GT files of a folder as pairs without LQ (LQ made from GT), in natural key order.

    Two files with one key (``a.png`` and ``a.jpg``, ``1.png`` and ``001.png``) are an error: a set
    would count one image twice.
    """
    out: dict[str, Path] = {}
    for p in list_images(gt_dir, pattern):
        k = gt_key(p.stem)
        if k in out:
            raise InputError(f"{gt_dir}: {out[k].name} and {p.name} both count as GT image {k!r}; keep one of them")
        out[k] = p
    return tuple(ImagePair(k, out[k], None) for k in sorted(out, key=natural_key))
