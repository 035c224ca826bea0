"""NIQE: the published values of the reference implementations, a block-by-block re-derivation, ordering."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from vmambair_core.data.io import read_image
from vmambair_core.data.resize import imresize
from vmambair_core.errors import InputError
from vmambair_core.metrics import niqe_score, niqe_score_y
from vmambair_core.metrics.color import rgb_to_y, to_uint8
from vmambair_core.metrics.niqe import load_niqe_model

REPO = Path(__file__).resolve().parents[2]
MATLAB_BABOON = 5.72957338  # MATLAB R2021a niqe (../shared/metrics/README.md)
BASICSR_BABOON = 5.7295763  # BasicSR calculate_niqe, same file


@pytest.fixture(scope="module")
def baboon(shared_dir: Path) -> np.ndarray:
    return to_uint8(read_image(shared_dir / "metrics" / "baboon.png").rgb, 1.0)


def test_shipped_model_is_the_published_file(shared_dir: Path) -> None:
    shipped = REPO / "vmambair_core" / "metrics" / "data" / "niqe_pris_params.npz"
    assert hashlib.sha256(shipped.read_bytes()).digest() == hashlib.sha256(
        (shared_dir / "metrics" / "niqe_pris_params.npz").read_bytes()).digest()
    model = load_niqe_model()
    assert model.mu.shape == (36,) and model.cov.shape == (36, 36) and model.window.shape == (7, 7)
    assert (REPO / "vmambair_core" / "metrics" / "data" / "README.md").is_file()


def test_baboon_matches_matlab_and_basicsr(baboon: np.ndarray) -> None:
    """Within 1e-5 of both (the float64 variant of the algorithm is 4e-4 off here)."""
    score = niqe_score(baboon)
    assert score == pytest.approx(MATLAB_BABOON, abs=1e-5)
    assert score == pytest.approx(BASICSR_BABOON, abs=1e-5)


def test_clean_scores_below_blurred_below_noisy(baboon: np.ndarray) -> None:
    blurred = cv2.GaussianBlur(baboon, (0, 0), 2.0)
    noise = np.random.default_rng(0).normal(0, 20, baboon.shape)
    noisy = np.clip(baboon + noise, 0, 255).astype(np.uint8)
    clean, soft, grainy = niqe_score(baboon), niqe_score(blurred), niqe_score(noisy)
    assert clean + 0.5 < soft < grainy - 0.5, (clean, soft, grainy)


# --- an independent, block-by-block transcription of the published algorithm (scipy, loops, brute force) ---

def _aggd_reference(x: np.ndarray) -> tuple[float, float, float]:
    from scipy.special import gamma

    x = x.ravel()
    grid = np.arange(0.2, 10.001, 0.001)
    r = gamma(2 / grid) ** 2 / (gamma(1 / grid) * gamma(3 / grid))
    left, right = np.sqrt(np.mean(x[x < 0] ** 2)), np.sqrt(np.mean(x[x > 0] ** 2))
    g = left / right
    rhat = np.mean(np.abs(x)) ** 2 / np.mean(x**2)
    rn = rhat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    a = grid[np.argmin((r - rn) ** 2)]
    s = math.sqrt(gamma(1 / a) / gamma(3 / a))
    return a, left * s, right * s


def _niqe_reference(y: np.ndarray) -> float:
    from scipy.ndimage import convolve
    from scipy.special import gamma

    model = load_niqe_model()
    img = y[: y.shape[0] // 96 * 96, : y.shape[1] // 96 * 96].astype(np.float32)
    rows = [[] for _ in range((img.shape[0] // 96) * (img.shape[1] // 96))]
    for level in (1, 2):
        mu = convolve(img, model.window, mode="nearest")
        sd = np.sqrt(np.abs(convolve(np.square(img), model.window, mode="nearest") - np.square(mu)))
        norm = (img - mu) / (sd + 1)
        b = 96 // level
        k = 0
        for i in range(img.shape[0] // b):
            for j in range(img.shape[1] // b):
                block = norm[i * b:(i + 1) * b, j * b:(j + 1) * b]
                a, bl, br = _aggd_reference(block)
                rows[k] += [a, (bl + br) / 2]
                for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
                    a, bl, br = _aggd_reference(block * np.roll(block, shift, axis=(0, 1)))
                    rows[k] += [a, (br - bl) * gamma(2 / a) / gamma(1 / a), bl, br]
                k += 1
        if level == 1:
            import torch

            img = imresize(torch.from_numpy(img / np.float32(255)), 0.5).numpy() * np.float32(255)
    feats = np.array(rows, dtype=np.float64)
    mu_d = np.nanmean(feats, axis=0)
    cov_d = np.cov(feats[~np.isnan(feats).any(axis=1)], rowvar=False)
    d = model.mu - mu_d
    return float(np.sqrt(d @ np.linalg.pinv((model.cov + cov_d) / 2) @ d))


def test_vectorised_blocks_equal_a_block_by_block_derivation() -> None:
    """A cartoon-like image: flat regions (where the float32 variance matters: the float64 variant scores
    28.7 here, not 24.7), edges and texture."""
    pytest.importorskip("scipy")
    rng = np.random.default_rng(3)
    img = np.full((200, 300, 3), 180, np.uint8)
    cv2.rectangle(img, (20, 30), (140, 150), (40, 90, 200), -1)
    cv2.circle(img, (220, 100), 60, (250, 240, 30), -1)
    img[150:, :] = np.clip(img[150:, :] + rng.normal(0, 12, (50, 300, 3)), 0, 255).astype(np.uint8)
    y = rgb_to_y(img, "matlab")
    assert niqe_score(img) == pytest.approx(_niqe_reference(y), abs=1e-5)
    assert niqe_score_y(y) == niqe_score(img)


def test_border_crop_and_grey_input(baboon: np.ndarray) -> None:
    y = rgb_to_y(baboon, "matlab")
    assert niqe_score(baboon, crop_border=4) == pytest.approx(niqe_score_y(y[4:-4, 4:-4]), abs=1e-12)
    grey = y.astype(np.uint8)
    assert niqe_score(grey) == pytest.approx(niqe_score(baboon), abs=1e-12)


@pytest.mark.parametrize("shape", [(95, 400, 3), (150, 150, 3)])
def test_too_small_for_two_blocks_is_refused(shape: tuple[int, int, int]) -> None:
    with pytest.raises(InputError, match="two 96x96 blocks"):
        niqe_score(np.zeros(shape, np.uint8))


def test_float_input_is_refused() -> None:
    with pytest.raises(InputError, match="uint8"):
        niqe_score(np.zeros((200, 200, 3), np.float32))
