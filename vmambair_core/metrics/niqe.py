"""NIQE (Mittal, Soundararajan & Bovik 2013, "Making a completely blind image quality analyzer").

A no-reference score: the distance between a multivariate Gaussian fitted to an image's natural-scene
statistics and one fitted on pristine photos (the model of MATLAB's reference release, shipped in
``data/niqe_pris_params.npz``, see ``data/README.md``). **Lower is better.**

Computed the way MATLAB's ``niqe`` and BasicSR's ``calculate_niqe`` do, so that published numbers compare:

* Y of MATLAB ``rgb2ycbcr`` (rounded, 16-235) of the uint8 RGB image, cropped top-left to whole 96x96
  blocks (no overlap);
* two scales: the image, then MATLAB's bicubic ``imresize(., 0.5)`` of it (antialiased);
* per scale, the image normalised by its local mean and deviation (the 7x7 Gaussian window, edge pixels
  repeated), then per block 18 features: an asymmetric generalised Gaussian (AGGD) fit of the
  coefficients and of their products with the four neighbours (right, down, and both diagonals; the
  block wraps around, as the reference's ``circshift`` does);
* the 36-dimensional block features fitted by a Gaussian (mean ignoring NaN; covariance over the blocks
  without NaN), compared with the pristine one: ``sqrt((mu_p - mu)^T ((cov_p + cov)/2)^+ (mu_p - mu))``.

The arithmetic is float32 where the reference's is (BasicSR's path): the local variance
``E[x^2] - E[x]^2`` of flat areas is then float32 rounding noise, which the reference scores include;
the same algorithm in float64 drifts by up to ~0.15 on images with large flat areas. All blocks of one
scale are processed at once (no Python loop over blocks).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np
import torch

from vmambair_core.data.resize import imresize
from vmambair_core.errors import InputError
from vmambair_core.metrics.color import rgb_to_y

__all__ = ["NIQE_BLOCK", "NiqeModel", "load_niqe_model", "niqe_score", "niqe_score_y"]

NIQE_BLOCK = 96
"""Block side of the reference (and of the pristine model's patches)."""

_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))  # neighbour products: horizontal, vertical, two diagonals


@dataclass(frozen=True)
class NiqeModel:
    """The pristine multivariate Gaussian and the normalisation window."""

    mu: np.ndarray  # (36,) float64
    cov: np.ndarray  # (36, 36) float64
    window: np.ndarray  # (7, 7) float64, sums to 1


@lru_cache(maxsize=1)
def load_niqe_model() -> NiqeModel:
    """The pristine model shipped in the package (MATLAB/LIVE parameters via BasicSR; see data/README.md)."""
    ref = resources.files("vmambair_core.metrics").joinpath("data", "niqe_pris_params.npz")
    with ref.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
        model = NiqeModel(
            mu=np.asarray(npz["mu_pris_param"], dtype=np.float64).reshape(-1),
            cov=np.asarray(npz["cov_pris_param"], dtype=np.float64),
            window=np.asarray(npz["gaussian_window"], dtype=np.float64),
        )
    for a in (model.mu, model.cov, model.window):
        a.setflags(write=False)
    return model


@dataclass(frozen=True)
class _AggdTable:
    """The reference's grid of AGGD shapes (0.2:0.001:10) and the functions of it the fit needs."""

    alpha: np.ndarray  # shape parameter grid
    ratio: np.ndarray  # Gamma(2/a)^2 / (Gamma(1/a) Gamma(3/a)), increasing in a
    scale: np.ndarray  # sqrt(Gamma(1/a) / Gamma(3/a)): turns a one-sided deviation into beta
    mean: np.ndarray  # Gamma(2/a) / Gamma(1/a): the mean's factor (Eq. 8)


@lru_cache(maxsize=1)
def _aggd_table() -> _AggdTable:
    alpha = np.arange(0.2, 10.001, 0.001)
    g1 = np.array([math.gamma(1.0 / a) for a in alpha])
    g2 = np.array([math.gamma(2.0 / a) for a in alpha])
    g3 = np.array([math.gamma(3.0 / a) for a in alpha])
    table = _AggdTable(alpha, g2 * g2 / (g1 * g3), np.sqrt(g1 / g3), g2 / g1)
    if not np.all(np.diff(table.ratio) > 0):  # _nearest relies on it
        raise AssertionError("AGGD ratio table is not increasing")
    return table


def _nearest(sorted_vals: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Index of the entry nearest to each ``x`` in an increasing array (the lower one on ties, index 0
    for NaN): ``argmin((sorted_vals - x)**2)`` without the (len(x), len(sorted_vals)) table."""
    xs = x.astype(np.float64)
    hi = np.clip(np.searchsorted(sorted_vals, xs), 1, len(sorted_vals) - 1)
    lo = hi - 1
    with np.errstate(invalid="ignore"):
        pick_hi = (sorted_vals[hi] - xs) ** 2 < (sorted_vals[lo] - xs) ** 2
    out = np.where(pick_hi, hi, lo)
    return np.where(np.isnan(xs), 0, out)


def _mean32(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Row means of float32 values (over ``mask`` if given), accumulated in float64, returned as float32.

    An empty selection gives NaN, as ``np.mean`` of an empty array does in the reference.
    """
    if mask is None:
        total = values.sum(axis=1, dtype=np.float64)
        count = np.full(values.shape[0], values.shape[1], dtype=np.float64)
    else:
        total = (values * mask).sum(axis=1, dtype=np.float64)
        count = mask.sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total / count).astype(np.float32)


def _aggd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AGGD fit of each row of float32 ``x`` by moment matching on the grid: (grid index of alpha,
    beta_left, beta_right)."""
    sq = x * x
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt(_mean32(sq, x < 0))
        right = np.sqrt(_mean32(sq, x > 0))
        gam = left / right
        rhat = _mean32(np.abs(x)) ** 2 / _mean32(sq)
        rnorm = (rhat * (gam**3 + 1) * (gam + 1)) / ((gam**2 + 1) ** 2)
    table = _aggd_table()
    idx = _nearest(table.ratio, rnorm)
    scale = table.scale[idx]
    return idx, left * scale, right * scale


def _block_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 NIQE features of each normalised block: (n, h, w) float32 -> (n, 18) float64."""
    n = blocks.shape[0]
    flat = blocks.reshape(n, -1)
    table = _aggd_table()
    idx, bl, br = _aggd(flat)
    feats = [table.alpha[idx], (bl + br) / 2]
    for shift in _SHIFTS:
        prod = (blocks * np.roll(blocks, shift, axis=(1, 2))).reshape(n, -1)
        idx, bl, br = _aggd(prod)
        feats += [table.alpha[idx], (br - bl) * table.mean[idx], bl, br]
    return np.stack(feats, axis=1).astype(np.float64)


def _local_normalise(img: np.ndarray, window: np.ndarray) -> np.ndarray:
    """(img - mu) / (sigma + 1) with mu, sigma the window-weighted local mean/deviation (float32, as the
    reference: each filter output is rounded to float32 before the variance is formed)."""

    def blur(a: np.ndarray) -> np.ndarray:
        out = cv2.filter2D(a.astype(np.float64), cv2.CV_64F, window, borderType=cv2.BORDER_REPLICATE)
        return out.astype(np.float32)

    mu = blur(img)
    sigma = np.sqrt(np.abs(blur(np.square(img)) - np.square(mu)))
    return (img - mu) / (sigma + np.float32(1))


def _blocks(img: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """(H, W) tiled by whole (bh, bw) blocks -> (n, bh, bw)."""
    h, w = img.shape
    return img.reshape(h // bh, bh, w // bw, bw).transpose(0, 2, 1, 3).reshape(-1, bh, bw)


def niqe_score_y(y: np.ndarray, *, block: int = NIQE_BLOCK, model: NiqeModel | None = None) -> float:
    """NIQE of a luma image (HxW, values 0..255, any real dtype; used as float32). Lower is better.

    The image is cropped top-left to whole ``block`` x ``block`` tiles; at least two are needed (the
    covariance of one block is undefined), so both sides must reach ``block`` and one ``2 * block``.
    """
    if y.ndim != 2:
        raise InputError(f"NIQE takes a 2-D luma image, got shape {y.shape}.")
    if block < 2 or block % 2:
        raise InputError(f"NIQE block size must be a positive even number, got {block}.")
    nh, nw = y.shape[0] // block, y.shape[1] // block
    if nh * nw < 2:
        raise InputError(
            f"NIQE needs at least two {block}x{block} blocks; the image is {y.shape[1]}x{y.shape[0]} "
            f"(at least {block}x{2 * block} or {2 * block}x{block})."
        )
    if not np.all(np.isfinite(y)):
        raise InputError("NIQE: image contains NaN or infinite values.")
    model = model or load_niqe_model()
    img = np.ascontiguousarray(y[: nh * block, : nw * block], dtype=np.float32)
    feats = []
    for level in (1, 2):
        size = block // level
        feats.append(_block_features(_blocks(_local_normalise(img, model.window), size, size)))
        if level == 1:  # MATLAB bicubic 0.5x of the [0, 1] image, in float32
            half = imresize(torch.from_numpy(img / np.float32(255)), 0.5).numpy()
            img = np.ascontiguousarray(half * np.float32(255), dtype=np.float32)
    dist = np.concatenate(feats, axis=1)
    mu = np.nanmean(dist, axis=0)
    complete = dist[~np.isnan(dist).any(axis=1)]
    if complete.shape[0] < 2:
        raise InputError("NIQE: fewer than two blocks have defined statistics (the image is flat).")
    cov = np.cov(complete, rowvar=False)
    diff = model.mu - mu
    inv = np.linalg.pinv((model.cov + cov) / 2)
    return float(np.sqrt(diff @ inv @ diff))


def niqe_score(img: np.ndarray, *, crop_border: int = 0, block: int = NIQE_BLOCK) -> float:
    """NIQE of a uint8 HxWx3 RGB image (or an HxW grey one), on MATLAB ``rgb2ycbcr`` Y. Lower is better.

    ``crop_border`` pixels are removed from each side first (0 in the published numbers).
    """
    if img.dtype != np.uint8:
        raise InputError(f"NIQE takes a uint8 image (quantise it first), got {img.dtype}.")
    if crop_border < 0:
        raise InputError(f"crop_border must be >= 0, got {crop_border}.")
    if img.ndim == 2:
        y = img.astype(np.float32)
    else:
        y = rgb_to_y(img, "matlab")
    if crop_border:
        y = y[crop_border:-crop_border, crop_border:-crop_border]
    return niqe_score_y(y, block=block)
