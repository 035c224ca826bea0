"""No-reference scores of restored images: NIQE and the fixed-pattern amplitude (both: lower is better).

What ``eval`` reports where there is no ground truth (and beside PSNR/SSIM on request), and
:func:`score_folder`, which scores a folder of images restored elsewhere (e.g. the outputs of many
training checkpoints) without running a network::

    from vmambair_core.evaluate import score_folder
    s = score_folder("out/RealSRSet", scale=4)
    print(s.mean_niqe, s.mean_pattern)

NIQE alone rewards periodic texture (a GAN's checkerboard lowers it), so the two are read together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vmambair_core.data.io import read_image
from vmambair_core.data.pairing import list_images, natural_key
from vmambair_core.errors import InputError, VmambairError
from vmambair_core.metrics.color import to_uint8
from vmambair_core.metrics.niqe import niqe_score
from vmambair_core.metrics.pattern import fixed_pattern_amplitude

__all__ = ["NIQE_NOTE", "FolderScores", "NoReference", "no_reference_scores", "pattern_note", "score_folder"]

NIQE_NOTE = "NIQE: no-reference (Mittal et al. 2013; MATLAB niqe / BasicSR computation, Y, crop 0), lower is better"


def pattern_note(scale: int) -> str:
    """What the pattern column means, for an x``scale`` method."""
    return (f"pattern: fixed-pattern amplitude of the {scale}x{scale} sub-pixel grid (high-passed Y, grey levels), "
            "lower is better; bicubic ~0.01, a visible checkerboard ~3")


@dataclass(frozen=True)
class NoReference:
    """One output's no-reference scores; ``pattern`` is None for same-size (x1) outputs, which have no grid."""

    niqe: float
    pattern: float | None


def no_reference_scores(img: np.ndarray, scale: int) -> NoReference:
    """NIQE and, for ``scale`` > 1, the period-``scale`` pattern amplitude of a uint8 HxWx3 RGB output."""
    if not isinstance(scale, int) or scale < 1:
        raise InputError(f"scale must be a positive integer, got {scale!r}.")
    return NoReference(niqe_score(img), fixed_pattern_amplitude(img, scale) if scale > 1 else None)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


@dataclass(frozen=True)
class FolderScores:
    """Per-image no-reference scores of a folder (natural name order) and their means."""

    folder: str
    scale: int
    names: tuple[str, ...]
    scores: tuple[NoReference, ...]
    failed: tuple[tuple[str, str], ...] = ()
    """(file name, why) of the images that could not be read or scored."""

    @property
    def mean_niqe(self) -> float | None:
        return _mean([s.niqe for s in self.scores])

    @property
    def mean_pattern(self) -> float | None:
        return _mean([s.pattern for s in self.scores if s.pattern is not None])

    def to_dict(self) -> dict[str, object]:
        return {
            "folder": self.folder, "scale": self.scale,
            "mean": {"niqe": self.mean_niqe, "pattern_amplitude": self.mean_pattern},
            "images": [{"image": n, "niqe": s.niqe, "pattern_amplitude": s.pattern}
                       for n, s in zip(self.names, self.scores, strict=True)],
            "failed": [{"image": n, "error": e} for n, e in self.failed],
        }


def score_folder(folder: str | os.PathLike[str], scale: int, *, limit: int | None = None) -> FolderScores:
    """Score every image of ``folder`` (outputs of an x``scale`` method) without reference.

    An image that cannot be read or scored (e.g. too small for two 96x96 NIQE blocks) is listed in
    ``failed`` and left out of the means; an empty or missing folder is an ``InputError``.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root} is not a folder")
    paths = sorted(list_images(root), key=lambda p: natural_key(p.stem))[:limit]
    if not paths:
        raise InputError(f"no images in {root}")
    names: list[str] = []
    scores: list[NoReference] = []
    failed: list[tuple[str, str]] = []
    for path in paths:
        try:
            score = no_reference_scores(to_uint8(read_image(path).rgb, 1.0), scale)
        except (VmambairError, OSError) as exc:
            failed.append((path.name, str(exc)))
            continue
        names.append(path.name)
        scores.append(score)
    return FolderScores(str(root), scale, tuple(names), tuple(scores), tuple(failed))
