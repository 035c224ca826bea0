"""Score a predictor on an :class:`EvalSet`: per-image PSNR/SSIM (and LPIPS), means, published rows beside.

Sets without ground truth (``EvalSet.reference`` False) are scored without reference: NIQE and, for
x``s`` methods, the fixed-pattern amplitude (:mod:`.noref`); on request those join PSNR/SSIM elsewhere.

Per image, exactly what the papers' scripts do: GT read and quantised to uint8; LR either read or made
by MATLAB bicubic from the mod-cropped GT; GT cropped top-left to ``scale`` x the LR size (Set14 has HR
sides that are not multiples of 4); the output quantised to uint8 (what a saved PNG holds); then the
set's :class:`MetricConvention`. Greyscale GT (Set14 ``bridge``) is scored on one plane, as MATLAB
scripts and the metrics module do, against the output's BT.601 luma (what saving it as grey writes).

An image that cannot be read or scored becomes a failed :class:`ImageScore` (the run goes on); bugs
are not swallowed: only library errors (``VmambairError``) and ``OSError`` are caught.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vmambair_core.data.io import read_image, write_image
from vmambair_core.data.resize import imresize, modcrop
from vmambair_core.errors import CheckpointError, ConfigError, InputError, VmambairError, WeightsNotFoundError
from vmambair_core.evaluate.benchmarks import EvalSet, MetricConvention
from vmambair_core.data.pairing import ImagePair
from vmambair_core.evaluate.noref import no_reference_scores
from vmambair_core.evaluate.predictors import Predictor
from vmambair_core.evaluate.published import PublishedScore, published_for
from vmambair_core.metrics.color import to_uint8
from vmambair_core.metrics.lpips import LPIPS, LpipsNet, load_lpips, lpips_distance
from vmambair_core.metrics.psnr_ssim import psnr, ssim
from vmambair_core.outputs import input_clash

__all__ = ["EvalResult", "ImageScore", "check_outputs", "evaluate", "prepare_lpips", "read_scored", "saved_image_dir"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float64)


@dataclass(frozen=True)
class ImageScore:
    """One image's scores, or the reason it has none (``error``); ``gt`` is None without ground truth."""

    key: str
    gt: str | None
    lq: str | None
    psnr: float | None
    ssim: float | None
    lpips: float | None
    seconds: float
    error: str | None = None
    niqe: float | None = None
    pattern: float | None = None
    """Fixed-pattern amplitude of the output's x``scale`` grid (grey levels)."""

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def name(self) -> str:
        """The file the image is known by: its GT, or its input where there is no GT."""
        return self.gt or self.lq or self.key

    def to_dict(self) -> dict[str, object]:
        return {"image": self.key, "gt": self.gt, "lq": self.lq, "psnr": _json_num(self.psnr),
                "ssim": _json_num(self.ssim), "lpips": _json_num(self.lpips), "niqe": self.niqe,
                "pattern_amplitude": self.pattern, "seconds": self.seconds, "error": self.error}


def _json_num(x: float | None) -> float | str | None:
    """JSON has no infinity: identical images (PSNR = inf) are written as the string "inf"."""
    if x is None or math.isfinite(x):
        return x
    return "inf" if x > 0 else "-inf"


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


@dataclass(frozen=True)
class EvalResult:
    """A set's scores under one named convention, with the published rows to print beside them."""

    benchmark: str
    task: str | None
    model: str
    convention: MetricConvention
    lq: str
    location: str
    layout: str
    images: tuple[ImageScore, ...]
    images_in_set: int
    lpips_name: str | None
    lpips_note: str | None
    published: tuple[PublishedScore, ...]
    weights: str | None = None
    """Where the network's weights came from (registry name and file, SHA-256 verified or not); None for baselines."""
    reference: bool = True
    """False: no ground truth, so no PSNR/SSIM/LPIPS (absent, not zero)."""
    no_reference: bool = False
    """NIQE (and the pattern amplitude of x``scale`` outputs) were computed."""
    scale: int = 1

    @property
    def scored(self) -> tuple[ImageScore, ...]:
        return tuple(i for i in self.images if i.ok)

    @property
    def failed(self) -> tuple[ImageScore, ...]:
        return tuple(i for i in self.images if not i.ok)

    def mean_of(self, metric: str) -> float | None:
        """Mean of one ``ImageScore`` field (``psnr``, ``niqe``, ...) over the images that have it."""
        return _mean([v for i in self.scored if (v := getattr(i, metric)) is not None])

    @property
    def mean_psnr(self) -> float | None:
        return self.mean_of("psnr")

    @property
    def mean_ssim(self) -> float | None:
        return self.mean_of("ssim")

    @property
    def mean_lpips(self) -> float | None:
        return self.mean_of("lpips")

    @property
    def mean_seconds(self) -> float | None:
        """Time per image of the method alone (the predictor call: no reading, scoring or saving)."""
        return _mean([i.seconds for i in self.scored])

    @property
    def limited(self) -> bool:
        """True when only the first images were scored (``--limit``): not comparable to published means."""
        return len(self.images) < self.images_in_set

    def to_dict(self) -> dict[str, object]:
        conv = self.convention
        return {
            "benchmark": self.benchmark, "task": self.task, "model": self.model, "weights": self.weights,
            "convention": {"channel": conv.channel, "y_mode": conv.y_mode, "crop_border": conv.crop_border,
                           "text": conv.describe()},
            "lq": self.lq, "location": self.location, "layout": self.layout, "reference": self.reference,
            "scale": self.scale, "images_in_set": self.images_in_set, "images_scored": len(self.scored),
            "images_failed": len(self.failed), "limited": self.limited,
            "mean": {"psnr": _json_num(self.mean_psnr), "ssim": _json_num(self.mean_ssim),
                     "lpips": _json_num(self.mean_lpips), "niqe": self.mean_of("niqe"),
                     "pattern_amplitude": self.mean_of("pattern"), "seconds": self.mean_seconds},
            "lower_is_better": ["niqe", "pattern_amplitude", "lpips"],
            "lpips": {"metric": self.lpips_name, "note": self.lpips_note},
            "published": [p.to_dict() for p in self.published],
            "images": [i.to_dict() for i in self.images],
        }


def prepare_lpips(
    net: LpipsNet = "vgg",
    weights: str | os.PathLike[str] | None = None,
    *,
    device: str | torch.device = "cpu",
) -> tuple[LPIPS | None, str | None]:
    """An LPIPS model, or (None, why) when its weights are missing or unreadable: LPIPS is then skipped.

    ``weights``: the backbone file, or a folder holding both the backbone and the heads (``vgg16-397923af.pth``
    and ``vgg.pth``); otherwise the env vars / caches of :func:`vmambair_core.metrics.lpips.load_lpips`.
    """
    heads = weights if weights is not None and Path(weights).is_dir() else None
    try:
        return load_lpips(net, backbone=weights, heads=heads, device=device), None
    except (WeightsNotFoundError, CheckpointError) as exc:
        return None, f"LPIPS skipped: {exc}"


def read_scored(path: Path) -> np.ndarray:
    """An input file's uint8 RGB pixels exactly as scoring decodes them (checksums of inputs hash this)."""
    return to_uint8(read_image(path).rgb, 1.0)


def _fit_gt(gt: np.ndarray, lq: np.ndarray, scale: int) -> np.ndarray:
    """Crop GT top-left to ``scale`` x the LQ size (benchmarks' mod-crop); anything else is a mismatch."""
    want_h, want_w = lq.shape[0] * scale, lq.shape[1] * scale
    h, w = gt.shape[:2]
    if not (want_h <= h < want_h + scale and want_w <= w < want_w + scale):
        raise InputError(
            f"GT is {w}x{h} but LQ is {lq.shape[1]}x{lq.shape[0]}: not a x{scale} pair (expected GT {want_w}x{want_h})"
        )
    return gt[:want_h, :want_w]


def _grey(img: np.ndarray) -> np.ndarray:
    """BT.601 luma of a uint8 RGB image, rounded to uint8 (what writing it as a grey PNG stores)."""
    return np.clip(np.floor(img.astype(np.float64) @ _LUMA + 0.5), 0, 255).astype(np.uint8)


def _predict(predictor: Predictor, lq: np.ndarray) -> tuple[np.ndarray, float]:
    """The output quantised to uint8 (what a saved PNG holds) and the seconds the predictor took."""
    start = time.perf_counter()
    out = predictor(lq)
    seconds = time.perf_counter() - start
    return to_uint8(out, None if out.dtype == np.uint8 else 1.0), seconds


def _save(save_dir: Path | None, pair: ImagePair, out: np.ndarray) -> None:
    if save_dir is not None:
        write_image(save_dir / _saved_name(pair), out.astype(np.float32) / 255.0)


def _score_input(pair: ImagePair, predictor: Predictor, save_dir: Path | None) -> ImageScore:
    """An input without ground truth: its output scored without reference."""
    assert pair.lq is not None, "a set without ground truth has input paths"
    out, seconds = _predict(predictor, to_uint8(read_image(pair.lq).rgb, 1.0))
    nr = no_reference_scores(out, predictor.scale)
    _save(save_dir, pair, out)
    return ImageScore(pair.key, None, pair.lq.name, None, None, None, seconds, niqe=nr.niqe, pattern=nr.pattern)


def _score_pair(
    pair: ImagePair, data: EvalSet, predictor: Predictor, lpips: LPIPS | None, save_dir: Path | None,
    no_reference: bool = False,
) -> ImageScore:
    if not data.reference:
        return _score_input(pair, predictor, save_dir)
    gt_image = read_image(pair.gt)
    gt = to_uint8(gt_image.rgb, 1.0)
    scale = data.scale
    if data.lq_from_gt:
        gt = modcrop(gt, scale)
        lq = imresize(gt, 1 / scale)
    else:
        assert pair.lq is not None, "a files-based set has LQ paths"
        lq = read_scored(pair.lq)
        gt = _fit_gt(gt, lq, scale)
    out, seconds = _predict(predictor, lq)
    if out.shape != gt.shape:
        raise InputError(f"output shape {out.shape} differs from GT shape {gt.shape}")
    conv = data.convention
    a, b = (_grey(out), gt[..., 0]) if gt_image.mode in ("L", "LA") else (out, gt)
    kw = {"crop_border": conv.crop_border, "channel": conv.channel, "y_mode": conv.y_mode}
    p, s = psnr(a, b, **kw), ssim(a, b, **kw)  # type: ignore[arg-type]
    lp = lpips_distance(lpips, out, gt) if lpips is not None else None
    nr = no_reference_scores(out, scale) if no_reference else None
    _save(save_dir, pair, out)
    return ImageScore(pair.key, pair.gt.name, pair.lq.name if pair.lq else None, p, s, lp, seconds,
                      niqe=nr.niqe if nr else None, pattern=nr.pattern if nr else None)


def _saved_name(pair: ImagePair) -> str:
    return f"{pair.gt.stem}.png"


def saved_image_dir(save_images: str | os.PathLike[str], data: EvalSet) -> Path:
    """Where ``--save-images DIR`` puts the outputs of ``data``: ``DIR/<set name>/``."""
    return Path(save_images) / data.name


def check_outputs(
    sets: Sequence[EvalSet],
    *,
    save_images: str | os.PathLike[str] | None = None,
    csv: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
) -> None:
    """Refuse, before the first image, outputs that would write over an input of the run (any GT or LQ
    file of ``sets``), and an existing ``csv`` unless ``overwrite`` (saved images are eval's own and replaced).
    """
    inputs = [p for data in sets for pair in data.pairs for p in (pair.gt, pair.lq) if p is not None]
    outputs = [] if csv is None else [Path(csv)]
    if save_images is not None:
        outputs += [saved_image_dir(save_images, data) / _saved_name(pair) for data in sets for pair in data.pairs]
    clash = input_clash(outputs, inputs)
    if clash is not None:
        raise ConfigError(f"{clash[1]} is an input of this evaluation and would be overwritten by the output "
                          f"{clash[0]}; choose another --save-images folder or --csv file")
    if csv is not None and not overwrite and (Path(csv).exists() or Path(csv).is_symlink()):
        raise ConfigError(f"{csv} exists; pass --overwrite to replace it, or choose another --csv file")


def evaluate(
    data: EvalSet,
    predictor: Predictor,
    *,
    lpips: LPIPS | None = None,
    lpips_note: str | None = None,
    limit: int | None = None,
    save_dir: str | os.PathLike[str] | None = None,
    on_image: Callable[[ImageScore], None] | None = None,
    no_reference: bool | None = None,
) -> EvalResult:
    """Score ``predictor`` on every pair of ``data`` (the first ``limit`` in name order if given).

    ``save_dir``: write each output as ``<GT stem>.png`` (``<input stem>.png`` without GT) there.
    ``on_image`` is called after each image (progress bars). Failed images are kept in the result with
    their error. ``no_reference``: also compute NIQE and the pattern amplitude (default: only where the
    set has no ground truth, where they are the only scores and cannot be turned off).
    """
    if no_reference is None:
        no_reference = not data.reference
    if not data.reference and not no_reference:
        raise ConfigError(f"{data.name} has no ground truth: NIQE is its only score and cannot be turned off")
    if predictor.scale != data.scale:
        raise ConfigError(
            f"{predictor.label} outputs x{predictor.scale} the input size but {data.name} is a x{data.scale} set"
        )
    subset = data.head(limit)
    out_dir = Path(save_dir) if save_dir is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    scores: list[ImageScore] = []
    for pair in subset.pairs:
        try:
            score = _score_pair(pair, subset, predictor, lpips, out_dir, no_reference)
        except (VmambairError, OSError) as exc:
            gt = pair.gt.name if data.reference else None
            score = ImageScore(pair.key, gt, pair.lq.name if pair.lq else None, None, None, None, 0.0, error=str(exc))
        scores.append(score)
        if on_image is not None:
            on_image(score)
    published = published_for(data.benchmark.name) if data.benchmark is not None else ()
    return EvalResult(
        benchmark=data.name, task=data.task, model=predictor.label, convention=data.convention,
        lq=data.describe_lq(), location=str(data.location), layout=data.layout, images=tuple(scores),
        images_in_set=len(data.pairs), lpips_name=lpips.name if lpips is not None else None,
        lpips_note=lpips_note, published=published, weights=getattr(predictor, "weights", None) or None,
        reference=data.reference, no_reference=no_reference, scale=data.scale,
    )
