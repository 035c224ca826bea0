"""PSNR/SSIM against scikit-image and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vmambair_core.errors import InputError
from vmambair_core.metrics.color import rgb_to_y
from vmambair_core.metrics.psnr_ssim import psnr, ssim


def _pair(shape: tuple[int, ...], seed: int = 0, noise: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # A smooth image plus noise, so SSIM is neither ~0 nor ~1.
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    base = 128 + 80 * np.sin(yy / 5.0) * np.cos(xx / 7.0)
    if len(shape) == 3:
        base = base[..., None] + np.array([0, 20, -20])
    ref = np.clip(base, 0, 255).astype(np.uint8)
    img = np.clip(ref.astype(int) + rng.integers(-noise, noise + 1, ref.shape), 0, 255).astype(np.uint8)
    return img, ref


def _sk_ssim(a: np.ndarray, b: np.ndarray, channel_axis: int | None = None) -> float:
    return float(
        structural_similarity(
            a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
            channel_axis=channel_axis,
        )  # fmt: skip
    )


# ----------------------------------------------------------------------------- PSNR


def test_psnr_constant_offset_hand_computed() -> None:
    ref = np.full((20, 24, 3), 100, dtype=np.uint8)
    ref[5:10, 5:10] = 30
    img = ref + np.uint8(5)
    assert psnr(img, ref, channel="rgb") == pytest.approx(20 * math.log10(255 / 5), abs=1e-12)
    # The Y offset of an equal RGB offset d is d * 219 / 255 (float Y).
    expected_y = 20 * math.log10(255 / (5 * 219 / 255))
    assert psnr(img, ref, channel="y", y_mode="basicsr") == pytest.approx(expected_y, abs=1e-9)
    # MATLAB-rounded Y: 100 -> Y 101.88 -> 102, 105 -> 106.18 -> 106; 30 -> 41.76 -> 42, 35 -> 46.06 -> 46.
    assert psnr(img, ref, channel="y", y_mode="matlab") == pytest.approx(20 * math.log10(255 / 4), abs=1e-12)


def test_psnr_identical_is_inf_and_crop_border_removes_edges() -> None:
    img, _ = _pair((30, 30, 3))
    assert psnr(img, img) == math.inf
    damaged = img.copy()
    damaged[:4] = 0
    damaged[:, -4:] = 255
    assert psnr(damaged, img, crop_border=3) < 40
    assert psnr(damaged, img, crop_border=4) == math.inf


@pytest.mark.parametrize("shape", [(33, 41, 3), (33, 41)])
def test_psnr_matches_skimage(shape: tuple[int, ...]) -> None:
    img, ref = _pair(shape, seed=1)
    assert psnr(img, ref, channel="rgb") == pytest.approx(peak_signal_noise_ratio(ref, img, data_range=255), abs=1e-10)
    c = 3
    assert psnr(img, ref, channel="rgb", crop_border=c) == pytest.approx(
        peak_signal_noise_ratio(ref[c:-c, c:-c], img[c:-c, c:-c], data_range=255), abs=1e-10
    )


def test_psnr_y_matches_skimage_on_y() -> None:
    img, ref = _pair((40, 36, 3), seed=2)
    for mode in ("matlab", "basicsr"):
        ya, yb = rgb_to_y(img, mode)[4:-4, 4:-4], rgb_to_y(ref, mode)[4:-4, 4:-4]
        expected = peak_signal_noise_ratio(yb, ya, data_range=255)
        assert psnr(img, ref, crop_border=4, y_mode=mode) == pytest.approx(expected, abs=1e-10)


def test_float_inputs_are_rounded_to_uint8_first() -> None:
    img, ref = _pair((24, 24, 3), seed=3)
    jitter = np.random.default_rng(3).uniform(-0.49, 0.49, img.shape)
    as_float = (img + jitter) / 255.0
    assert psnr(as_float, ref / 255.0, float_range=1.0) == psnr(img, ref)
    with pytest.raises(InputError, match="float_range"):
        psnr(as_float, ref / 255.0)


# ----------------------------------------------------------------------------- SSIM


@pytest.mark.parametrize("crop", [0, 4])
def test_ssim_rgb_matches_skimage(crop: int) -> None:
    img, ref = _pair((48, 40, 3), seed=4)
    s = slice(crop, -crop or None)
    expected = _sk_ssim(img[s, s], ref[s, s], channel_axis=2)
    assert ssim(img, ref, channel="rgb", crop_border=crop) == pytest.approx(expected, abs=1e-12)


def test_ssim_grey_and_y_match_skimage() -> None:
    grey, grey_ref = _pair((37, 45), seed=5)
    assert ssim(grey, grey_ref) == pytest.approx(_sk_ssim(grey, grey_ref), abs=1e-12)
    img, ref = _pair((37, 45, 3), seed=6)
    for mode in ("matlab", "basicsr"):
        ya, yb = rgb_to_y(img, mode)[2:-2, 2:-2], rgb_to_y(ref, mode)[2:-2, 2:-2]
        assert ssim(img, ref, crop_border=2, y_mode=mode) == pytest.approx(_sk_ssim(ya, yb), abs=1e-12)


def test_ssim_matches_window_by_window_loop() -> None:
    """Wang's definition written out: every fully-inside 11x11 window, Gaussian-weighted moments."""
    img, ref = _pair((19, 23), seed=7)
    x, y = img.astype(np.float64), ref.astype(np.float64)
    k = np.arange(11) - 5.0
    win = np.exp(-(k[:, None] ** 2 + k[None, :] ** 2) / (2 * 1.5**2))
    win /= win.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for i in range(19 - 10):
        for j in range(23 - 10):
            px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
            mx, my = (win * px).sum(), (win * py).sum()
            vx, vy = (win * (px - mx) ** 2).sum(), (win * (py - my) ** 2).sum()
            cxy = (win * (px - mx) * (py - my)).sum()
            values.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    assert ssim(img, ref) == pytest.approx(float(np.mean(values)), abs=1e-12)


def test_ssim_constant_images_hand_computed() -> None:
    a = np.full((16, 16), 50, dtype=np.uint8)
    b = np.full((16, 16), 200, dtype=np.uint8)
    c1 = (0.01 * 255) ** 2
    expected = (2 * 50 * 200 + c1) / (50**2 + 200**2 + c1)  # variances are zero: contrast term is 1
    assert ssim(a, b) == pytest.approx(expected, abs=1e-12)


def test_bad_inputs_raise() -> None:
    img, ref = _pair((20, 20, 3))
    with pytest.raises(InputError):
        psnr(img, ref[:-1])
    with pytest.raises(InputError):
        psnr(img, ref, crop_border=10)
    with pytest.raises(InputError):
        ssim(img, ref, crop_border=5)  # 10x10 left: smaller than the 11x11 window
    with pytest.raises(InputError):
        psnr(img, ref, channel="ycbcr")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        psnr(img, ref, y_mode="opencv")  # type: ignore[arg-type]
