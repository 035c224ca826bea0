"""MATLAB-exact bicubic imresize: against the shipped MATLAB-made LR images and a slow loop reference."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vmambair_core.data.resize import imresize, modcrop
from vmambair_core.errors import InputError

SET5 = ["baby", "bird", "butterfly", "head", "woman"]
SET14 = [
    "baboon", "barbara", "bridge", "coastguard", "comic", "face", "flowers",
    "foreman", "lenna", "man", "monarch", "pepper", "ppt3", "zebra",
]  # fmt: skip


@pytest.mark.parametrize(("bench", "name"), [("Set5", n) for n in SET5] + [("Set14", n) for n in SET14])
def test_matches_matlab_lr_exactly(data_dir: Path, bench: str, name: str) -> None:
    """Every Set5/Set14 LR_bicubic_x4 image is MATLAB imresize(modcrop(HR, 4), 1/4): max abs diff 0."""
    hr = cv2.imread(str(data_dir / "sr" / bench / "HR" / f"{name}.png"), cv2.IMREAD_UNCHANGED)
    lr = cv2.imread(str(data_dir / "sr" / bench / "LR_bicubic_x4" / f"{name}x4.png"), cv2.IMREAD_UNCHANGED)
    assert hr is not None and lr is not None
    out = imresize(modcrop(hr, 4), 1 / 4)
    assert out.dtype == np.uint8
    assert out.shape == lr.shape
    diff = np.abs(out.astype(np.int16) - lr.astype(np.int16))
    print(f"{bench}/{name}: HR {hr.shape} max abs diff {diff.max()}, differing {int((diff > 0).sum())}")
    assert diff.max() == 0


def test_benchmark_lists_are_complete(data_dir: Path) -> None:
    for bench, names in (("Set5", SET5), ("Set14", SET14)):
        found = sorted(p.stem for p in (data_dir / "sr" / bench / "HR").glob("*.png"))
        assert found == sorted(names)


def test_set14_covers_greyscale_and_non_multiple_sizes(data_dir: Path) -> None:
    """The exact-match test above really exercises HxW input and a crop (guards against a data swap)."""
    bridge = cv2.imread(str(data_dir / "sr/Set14/HR/bridge.png"), cv2.IMREAD_UNCHANGED)
    comic = cv2.imread(str(data_dir / "sr/Set14/HR/comic.png"), cv2.IMREAD_UNCHANGED)
    assert bridge.ndim == 2
    assert comic.shape[:2] == (361, 250)
    assert modcrop(comic, 4).shape[:2] == (360, 248)


# ----------------------------------------------------------------------------- slow reference


def _cubic(x: float) -> float:
    a = abs(x)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    if a <= 2:
        return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    return 0.0


def _reflect(j: int, n: int) -> int:
    """1-based index mirrored into 1..n with the edge pixel repeated (MATLAB 'symmetric')."""
    while j < 1 or j > n:
        j = 1 - j if j < 1 else 2 * n + 1 - j
    return j


def _slow_resize_1d(line: list[float], out_len: int, scale: float) -> list[float]:
    n = len(line)
    width = 4.0 / scale if scale < 1 else 4.0
    out = []
    for i in range(1, out_len + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = [(j, scale * _cubic(scale * (u - j)) if scale < 1 else _cubic(u - j))
                for j in range(left, left + math.ceil(width) + 2)]  # fmt: skip
        total = sum(w for _, w in taps)
        out.append(sum(w / total * line[_reflect(j, n) - 1] for j, w in taps))
    return out


def _slow_imresize(img: np.ndarray, scale: float, round_uint8: bool) -> np.ndarray:
    """Textbook loop form: every output pixel of the row (height) pass, then of the column pass."""
    h, w = img.shape
    oh, ow = math.ceil(h * scale), math.ceil(w * scale)
    x = img.astype(np.float64).tolist()
    mid = [[0.0] * w for _ in range(oh)]
    for c in range(w):
        col = _slow_resize_1d([x[r][c] for r in range(h)], oh, scale)
        for r in range(oh):
            mid[r][c] = math.floor(col[r] + 0.5) if round_uint8 else col[r]
            if round_uint8:
                mid[r][c] = min(max(mid[r][c], 0), 255)
    out = np.array([_slow_resize_1d(row, ow, scale) for row in mid])
    if round_uint8:
        out = np.clip(np.floor(out + 0.5), 0, 255)
    return out


@pytest.mark.parametrize("scale", [4.0, 1 / 3])
def test_float_matches_slow_loop_reference(scale: float) -> None:
    img = np.random.default_rng(1).random((9, 7))
    ref = _slow_imresize(img, scale, round_uint8=False)
    out = imresize(img, scale)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-12)


def test_uint8_upscale_matches_slow_loop_reference() -> None:
    img = np.random.default_rng(2).integers(0, 256, (8, 11), dtype=np.uint8)
    ref = _slow_imresize(img, 4.0, round_uint8=True)
    out = imresize(img, 4)
    assert out.dtype == np.uint8 and out.shape == (32, 44)
    assert np.array_equal(out.astype(np.float64), ref)


def test_colour_channels_resized_independently() -> None:
    img = np.random.default_rng(3).integers(0, 256, (10, 12, 3), dtype=np.uint8)
    out = imresize(img, 1 / 2)
    for c in range(3):
        assert np.array_equal(out[..., c], imresize(np.ascontiguousarray(img[..., c]), 1 / 2))


# ----------------------------------------------------------------------------- float / torch paths


def test_float_round_trip_sanity() -> None:
    """Weights sum to one, quadratics are reproduced inside, and down-up of a smooth image is close."""
    const = np.full((16, 20), 0.3)
    np.testing.assert_allclose(imresize(imresize(const, 1 / 4), 4), const, atol=1e-12)

    yy, xx = np.mgrid[0:12, 0:12].astype(np.float64)
    ramp = 0.5 * xx + 0.25 * yy  # linear: Keys' a = -0.5 kernel is exact on it away from the mirror
    up = imresize(ramp, 2)
    oy, ox = (np.mgrid[0:24, 0:24] + 0.5) / 2 - 0.5  # output centres in input coordinates
    np.testing.assert_allclose(up[4:-4, 4:-4], (0.5 * ox + 0.25 * oy)[4:-4, 4:-4], atol=1e-12)

    smooth = np.sin(np.mgrid[0:64, 0:64][0] / 9.0) * np.cos(np.mgrid[0:64, 0:64][1] / 7.0)
    back = imresize(imresize(smooth, 1 / 2), 2)
    assert back.shape == smooth.shape
    assert np.sqrt(np.mean((back - smooth)[4:-4, 4:-4] ** 2)) < 0.01

    f32 = smooth.astype(np.float32)
    assert imresize(f32, 1 / 2).dtype == np.float32


def test_uint8_path_is_float_path_rounded_after_each_pass(data_dir: Path) -> None:
    """uint8 = float row pass, round+saturate, float column pass, round+saturate (MATLAB's per-pass rounding)."""
    hr = modcrop(cv2.imread(str(data_dir / "sr/Set5/HR/bird.png"), cv2.IMREAD_UNCHANGED), 4)
    h, w = hr.shape[:2]

    def to_u8(x: np.ndarray) -> np.ndarray:
        return np.clip(np.floor(x + 0.5), 0, 255)

    rows = to_u8(imresize(hr.astype(np.float64), size=(h // 4, w)))
    both = to_u8(imresize(rows, size=(h // 4, w // 4)))
    assert np.array_equal(imresize(hr, 1 / 4).astype(np.float64), both)
    # Rounding once at the end instead is visibly different: the per-pass rounding matters.
    once = to_u8(imresize(hr.astype(np.float64), 1 / 4))
    assert not np.array_equal(once, both)


@pytest.mark.parametrize("scale", [1 / 4, 4.0, 1 / 3])
def test_torch_matches_numpy(scale: float) -> None:
    img = np.random.default_rng(4).random((2, 3, 13, 17))
    out = imresize(torch.from_numpy(img), scale)
    assert out.dtype == torch.float64
    for b in range(2):
        ref = imresize(img[b].transpose(1, 2, 0), scale).transpose(2, 0, 1)
        np.testing.assert_allclose(out[b].numpy(), ref, rtol=0, atol=1e-12)
    f32 = imresize(torch.from_numpy(img).float(), scale)
    assert f32.dtype == torch.float32
    np.testing.assert_allclose(f32.numpy(), out.numpy(), atol=1e-5)


def test_size_argument_and_non_uniform_scale() -> None:
    img = np.random.default_rng(5).random((12, 20))
    out = imresize(img, size=(6, 30))
    assert out.shape == (6, 30)
    # Separable: the same as resizing each axis on its own (smaller scale first is exact either way in float).
    rows_only = imresize(img, size=(6, 20))
    np.testing.assert_allclose(out, imresize(rows_only, size=(6, 30)), atol=1e-12)
    t = imresize(torch.from_numpy(img)[None], size=(6, 30))[0].numpy()
    np.testing.assert_allclose(t, out, atol=1e-12)


def test_modcrop_numpy_and_torch() -> None:
    a = np.arange(7 * 10).reshape(7, 10)
    assert np.array_equal(modcrop(a, 4), a[:4, :8])
    t = torch.zeros(2, 3, 7, 10)
    assert modcrop(t, 3).shape == (2, 3, 6, 9)


def test_bad_arguments_raise_input_error() -> None:
    img = np.zeros((8, 8), dtype=np.uint8)
    with pytest.raises(InputError):
        imresize(img)
    with pytest.raises(InputError):
        imresize(img, 0.5, size=(4, 4))
    with pytest.raises(InputError):
        imresize(img, -1.0)
    with pytest.raises(InputError):
        imresize(img.astype(np.int32), 0.5)
    with pytest.raises(InputError):
        imresize(torch.zeros(8, 8, dtype=torch.uint8), 0.5)
    with pytest.raises(InputError):
        modcrop(img, 0)
