"""Fixed-pattern amplitude: a planted period-s pattern is recovered, clean upscales read near zero."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vmambair_core.data.io import read_image
from vmambair_core.data.resize import imresize
from vmambair_core.errors import InputError
from vmambair_core.metrics import fixed_pattern_amplitude, phase_means
from vmambair_core.metrics.color import to_uint8

Y_GAIN = 219 / 255  # a grey RGB offset of 1 moves MATLAB's Y by this much


@pytest.fixture(scope="module")
def upscaled(shared_dir: Path) -> np.ndarray:
    """A clean x4 output before quantisation: MATLAB bicubic of a RealSRSet photo, float 0..255."""
    lr = to_uint8(read_image(shared_dir / "data" / "real_sr" / "RealSRSet" / "input" / "comic1.png").rgb, 1.0)
    return imresize(lr.astype(np.float64), 4)


def _quantise(img: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(img + 0.5), 0, 255).astype(np.uint8)


def _pattern(period: int, amplitude: float, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A zero-mean tile of the given period whose largest |value| is ``amplitude``, repeated over ``shape``."""
    q = np.random.default_rng(seed).uniform(-1, 1, (period, period))
    q = (q - q.mean()) / np.abs(q - q.mean()).max()
    reps = (shape[0] // period + 1, shape[1] // period + 1)
    return amplitude * np.tile(q, reps)[: shape[0], : shape[1]]


def test_clean_upscale_is_near_zero(upscaled: np.ndarray) -> None:
    assert fixed_pattern_amplitude(_quantise(upscaled), 4) < 0.05


@pytest.mark.parametrize("amplitude", [0.5, 1.0, 3.6])
def test_planted_rgb_pattern_is_recovered(upscaled: np.ndarray, amplitude: float) -> None:
    """Added to R, G and B and saved as uint8 (rounding noise on top), it reads 219/255 of itself on Y."""
    planted = upscaled + _pattern(4, amplitude, upscaled.shape[:2])[..., None]
    assert fixed_pattern_amplitude(_quantise(planted), 4) == pytest.approx(Y_GAIN * amplitude, rel=0.1)
    assert fixed_pattern_amplitude(planted[..., :3].mean(axis=2), 4) == pytest.approx(amplitude, rel=0.1)


@pytest.mark.parametrize("period", [2, 3, 4])
def test_planted_luma_pattern_in_its_own_phases(period: int) -> None:
    """On a smooth float luma image the pattern comes back almost exactly, phase by phase."""
    yy, xx = np.mgrid[0:240, 0:300]
    base = 120 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
    pat = _pattern(period, 2.0, base.shape, seed=period)
    means = phase_means(base + pat, period)
    np.testing.assert_allclose(means - means.mean(), pat[:period, :period], atol=0.05 * 2.0)
    assert fixed_pattern_amplitude(base + pat, period) == pytest.approx(2.0, rel=0.05)
    assert fixed_pattern_amplitude(base, period) < 0.01


def test_other_period_is_not_counted() -> None:
    """A period-4 grid measured at s = 3 averages out (the phases do not line up with it)."""
    yy, xx = np.mgrid[0:240, 0:300]
    base = 120 + 60 * np.sin(xx / 37.0) * np.cos(yy / 23.0)
    assert fixed_pattern_amplitude(base + _pattern(4, 2.0, base.shape), 3) < 0.1


@pytest.mark.parametrize(("img", "scale", "match"), [
    (np.zeros((40, 40, 3), np.uint8), 1, "at least 2"),
    (np.zeros((3, 40, 3), np.uint8), 4, "no whole"),
    (np.zeros((40, 40, 4), np.uint8), 4, "RGB image"),
    (np.full((40, 40), np.nan), 4, "NaN"),
])
def test_refused_inputs(img: np.ndarray, scale: int, match: str) -> None:
    with pytest.raises(InputError, match=match):
        fixed_pattern_amplitude(img, scale)
