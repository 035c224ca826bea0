"""Pair degraded (LQ) and ground-truth (GT) images of a test set by file name, never by sorted order.

Sorted-order pairing (``zip(sorted(lq), sorted(gt))``, what several authors' scripts do) silently
shifts every pair by one when a single file is missing or duplicated (Test2800 once shipped a stray
``926_10(1).jpg``). Here each file gets a *key* from its stem and pairs are matched on keys:

* GT stems lose one known suffix (``_HR``, ``_SRF_4_HR``, ``_GT``) or prefix (``norain-``, ``gt-``,
  ``clean-``), LQ stems one suffix (``x4``, ``_LR``, ``_SRF_4_LR``) or prefix (``rain-``, ``rainy-``,
  ``norain-``). An LQ stem is only stripped when the stripped form is a GT key, so a file that merely
  ends in ``x4`` (``box4``) still pairs with ``box4`` as it is.
* All-digit keys compare as numbers: ``rain-001`` pairs with ``norain-1``.

Examples: ``Set5/HR/baby.png`` + ``LR_bicubic_x4/babyx4.png`` (EDSR), ``img_001_SRF_4_HR.png`` +
``img_001_SRF_4_LR.png`` (SelfExSR), ``norain-1.png`` in both ``rain/`` and ``norain/`` (the JORDER
Rain100H copy), ``rain-001.png`` + ``norain-001.png`` (JORDER originals), ``1.png`` in ``input/`` and
``target/`` (Restormer).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vmambair_core.errors import InputError

__all__ = [
    "IMAGE_EXTENSIONS",
    "ImagePair",
    "Pairing",
    "gt_images",
    "gt_key",
    "list_images",
    "lq_key_candidates",
    "natural_key",
    "pair_images",
]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})

# Longest first, so "_srf_4_hr" wins over "_hr". Compared case-insensitively.
GT_SUFFIXES = ("_srf_4_hr", "_hr", "_gt")
GT_PREFIXES = ("norain-", "norain_", "clean-", "clean_", "gt-", "gt_")
LQ_SUFFIXES = ("_srf_4_lr", "_lrbicx4", "_lr", "_x4", "x4")
LQ_PREFIXES = ("norain-", "norain_", "rainy-", "rainy_", "rain-", "rain_")


@dataclass(frozen=True)
class ImagePair:
    """One test image: its key, the GT file and the LQ file (None when LQ is made from GT)."""

    key: str
    gt: Path
    lq: Path | None


@dataclass(frozen=True)
class Pairing:
    """The matched pairs (in natural key order) and the files each side had without a partner."""

    pairs: tuple[ImagePair, ...]
    gt_only: tuple[str, ...]
    lq_only: tuple[str, ...]


def list_images(folder: Path, pattern: str = "*") -> list[Path]:
    """Image files directly in ``folder`` matching ``pattern`` (hidden files and checksums ignored)."""
    return sorted(
        p
        for p in folder.glob(pattern)
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_EXTENSIONS
    )


def _numeric(key: str) -> str:
    return str(int(key)) if key.isdigit() else key


def _strip_one(stem: str, prefixes: tuple[str, ...], suffixes: tuple[str, ...]) -> str | None:
    low = stem.lower()
    for suffix in suffixes:
        if low.endswith(suffix) and len(stem) > len(suffix):
            return stem[: -len(suffix)]
    for prefix in prefixes:
        if low.startswith(prefix) and len(stem) > len(prefix):
            return stem[len(prefix) :]
    return None


def gt_key(stem: str) -> str:
    """The pairing key of a GT file stem (one known affix removed, digits compared as numbers)."""
    stripped = _strip_one(stem, GT_PREFIXES, GT_SUFFIXES)
    return _numeric(stem if stripped is None else stripped)


def lq_key_candidates(stem: str) -> tuple[str, ...]:
    """Keys an LQ stem may pair under, most literal first: as is, then with one known affix removed."""
    out = [_numeric(stem)]
    stripped = _strip_one(stem, LQ_PREFIXES, LQ_SUFFIXES)
    if stripped is not None:
        out.append(_numeric(stripped))
    return tuple(out)


def natural_key(key: str) -> tuple[tuple[int, int | str], ...]:
    """Sort ``2`` before ``10`` and ``img_2`` before ``img_10``: digit runs compare as numbers."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower()) for part in re.split(r"(\d+)", key) if part)


def _keyed(paths: list[Path], key_of: Callable[[str], str], side: str, folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in paths:
        k = key_of(p.stem)
        if k in out:
            raise InputError(
                f"{folder}: {out[k].name} and {p.name} both count as {side} image {k!r}; keep one of them."
            )
        out[k] = p
    return out


def gt_images(gt_dir: Path, pattern: str = "*") -> dict[str, Path]:
    """GT files of a folder by key; two files with the same key (``a.png`` and ``a.jpg``) are an error."""
    return _keyed(list_images(gt_dir, pattern), gt_key, "GT", gt_dir)


def pair_images(lq_dir: Path, gt_dir: Path, *, lq_pattern: str = "*", gt_pattern: str = "*") -> Pairing:
    """Match the images of two folders by key (see the module docstring)."""
    gts = gt_images(gt_dir, gt_pattern)
    lqs: dict[str, Path] = {}
    lq_unmatched: list[str] = []
    for p in list_images(lq_dir, lq_pattern):
        key = next((k for k in lq_key_candidates(p.stem) if k in gts), None)
        if key is None:
            lq_unmatched.append(p.name)
            continue
        if key in lqs:
            raise InputError(
                f"{lq_dir}: {lqs[key].name} and {p.name} both pair with GT {gts[key].name}; keep one of them."
            )
        lqs[key] = p
    keys = sorted(lqs, key=natural_key)
    pairs = tuple(ImagePair(k, gts[k], lqs[k]) for k in keys)
    gt_only = tuple(gts[k].name for k in sorted(set(gts) - set(lqs), key=natural_key))
    return Pairing(pairs, gt_only, tuple(lq_unmatched))
