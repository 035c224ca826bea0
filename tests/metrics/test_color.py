"""MATLAB rgb2ycbcr constants on known colours, and uint8 quantisation."""

from __future__ import annotations

import numpy as np
import pytest

from vmambair_core.errors import InputError
from vmambair_core.metrics.color import rgb2ycbcr, rgb_to_y, to_uint8

# (R, G, B) -> exact (Y, Cb, Cr) from 16 + 219 scaled BT.601 rows, and MATLAB's rounded uint8 values.
KNOWN = [
    ((255, 255, 255), (235.0, 128.0, 128.0), (235, 128, 128)),
    ((0, 0, 0), (16.0, 128.0, 128.0), (16, 128, 128)),
    ((255, 0, 0), (81.481, 90.203, 240.0), (81, 90, 240)),
    ((0, 255, 0), (144.553, 53.797, 34.214), (145, 54, 34)),
    ((0, 0, 255), (40.966, 240.0, 109.786), (41, 240, 110)),
    ((128, 128, 128), (16 + 219 * 128 / 255, 128.0, 128.0), (126, 128, 128)),
]


@pytest.mark.parametrize(("rgb", "exact", "rounded"), KNOWN)
def test_known_colours(rgb: tuple[int, int, int], exact: tuple[float, ...], rounded: tuple[int, ...]) -> None:
    img = np.array(rgb, dtype=np.uint8).reshape(1, 1, 3)
    np.testing.assert_allclose(rgb2ycbcr(img, "basicsr")[0, 0], exact, atol=1e-9)
    assert tuple(rgb2ycbcr(img, "matlab")[0, 0]) == rounded
    assert rgb_to_y(img, "matlab")[0, 0] == rounded[0]
    np.testing.assert_allclose(rgb_to_y(img, "basicsr")[0, 0], exact[0], atol=1e-9)


def test_matlab_y_is_rounded_basicsr_y_off_ties() -> None:
    img = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    y_float = rgb_to_y(img, "basicsr")
    y_int = rgb_to_y(img, "matlab")
    off_tie = np.abs(y_float - np.floor(y_float) - 0.5) > 1e-9
    assert np.array_equal(y_int[off_tie], np.floor(y_float[off_tie] + 0.5))
    assert y_float.min() >= 16 and y_float.max() <= 235


def test_rgb_order_matters() -> None:
    """Input is RGB (cv2 gives BGR): red and blue must not be interchangeable."""
    red = np.array([[[255, 0, 0]]], dtype=np.uint8)
    assert rgb_to_y(red)[0, 0] != rgb_to_y(red[..., ::-1].copy())[0, 0]


def test_to_uint8() -> None:
    u8 = np.array([[0, 7, 255]], dtype=np.uint8)
    assert to_uint8(u8) is u8
    f = np.array([0.0, 0.5 / 255, 1.49 / 255, 1.0, 1.2, -0.1])
    assert to_uint8(f, 1.0).tolist() == [0, 1, 1, 255, 255, 0]  # half away from zero, clipped
    assert to_uint8(np.array([127.5, 3.2]), 255.0).tolist() == [128, 3]
    with pytest.raises(InputError, match="float_range"):
        to_uint8(f)
    with pytest.raises(InputError):
        to_uint8(np.array([np.nan]), 1.0)
    with pytest.raises(InputError):
        to_uint8(np.zeros(3, dtype=np.uint16))


def test_rejects_non_rgb() -> None:
    with pytest.raises(InputError):
        rgb_to_y(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(InputError):
        rgb_to_y(np.zeros((4, 4, 3), dtype=np.float64))



def _imlincomb(img: np.ndarray, row: int) -> np.ndarray:
    """MATLAB's ``imlincomb(T1, R, T2, G, T3, B, offset)`` order with ``T = origT / 255``, rounded."""
    from vmambair_core.metrics.color import YCBCR_MATRIX, YCBCR_OFFSET

    x = img.astype(np.float64)
    t = YCBCR_MATRIX[row] * (1.0 / 255.0)
    lin = t[0] * x[..., 0] + t[1] * x[..., 1] + t[2] * x[..., 2] + YCBCR_OFFSET[row]
    return np.clip(np.floor(lin + 0.5), 0, 255)


@pytest.mark.slow
def test_matlab_y_equals_imlincomb_order_on_every_colour() -> None:
    """The per-channel product tables give MATLAB's sum bit for bit on all 2^24 colours, so the colours
    whose exact Y is a half-integer round the same way."""
    c = np.arange(256**3, dtype=np.uint32)
    img = np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], axis=-1).astype(np.uint8).reshape(4096, 4096, 3)
    assert np.array_equal(rgb_to_y(img, "matlab"), _imlincomb(img, 0))


def test_matlab_ycbcr_equals_imlincomb_order() -> None:
    img = np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8)
    out = rgb2ycbcr(img, "matlab")
    for row in range(3):
        assert np.array_equal(out[..., row], _imlincomb(img, row))
