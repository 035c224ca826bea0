"""EXIF between containers, TIFF included: tags written by Pillow (an independent implementation) are read
back by Pillow after our relocation, in both byte orders, with the sub-IFDs (Exif, GPS) intact."""

from __future__ import annotations

import io
import struct

import cv2
import numpy as np
import pytest
from PIL import Image

from vmambair_core.data.exif import embed_exif, read_exif

PIXELS = (np.arange(20 * 40 * 3) % 251).astype(np.uint8).reshape(20, 40, 3)


def _camera_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0132], exif[0x0112] = "Acme", "Model 7", "2024:05:06 07:08:09", 1
    exif.get_ifd(0x8769).update({0x9003: "2024:05:06 07:08:09", 0x829A: (1, 250), 0x8827: 400})
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 31.0, 12.5)})
    return exif


def _block(order: str) -> bytes:
    """A camera's EXIF block in byte order ``order`` ("<" Intel, ">" Motorola), as Pillow writes it."""
    exif = _camera_exif()
    exif.endian = order  # Pillow writes the block in this byte order
    body = exif.tobytes()
    assert body.startswith(b"Exif\x00\x00II" if order == "<" else b"Exif\x00\x00MM")
    return body[6:]


def _tiff(pixels: np.ndarray = PIXELS) -> bytes:
    ok, encoded = cv2.imencode(".tiff", pixels)
    assert ok
    return encoded.tobytes()


def _assert_camera_tags(encoded: bytes) -> None:
    with Image.open(io.BytesIO(encoded)) as im:
        tags = im.getexif()
        assert (tags[0x010F], tags[0x0110], tags[0x0132], tags[0x0112]) == ("Acme", "Model 7", "2024:05:06 07:08:09", 1)
        written = Image.Exif()
        written.load(b"Exif\x00\x00" + _block("<"))  # the same tags as Pillow reads them from the camera block
        for pointer in (0x8769, 0x8825):
            assert dict(tags.get_ifd(pointer)) == dict(written.get_ifd(pointer)) != {}


@pytest.mark.parametrize("order", ["<", ">"])
def test_a_block_goes_into_a_tiff_output(order: str) -> None:
    encoded = embed_exif(_tiff(), ".tiff", _block(order))
    _assert_camera_tags(encoded)
    with Image.open(io.BytesIO(encoded)) as im:  # the pixels and the encoder's own tags are untouched
        np.testing.assert_array_equal(np.asarray(im)[..., ::-1], PIXELS)
    np.testing.assert_array_equal(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_UNCHANGED), PIXELS)


def test_a_tiff_input_gives_a_block_for_any_output() -> None:
    tiff = embed_exif(_tiff(), ".tiff", _block(">"))
    block = read_exif(tiff, "tiff")
    assert block is not None
    png = io.BytesIO()
    Image.fromarray(PIXELS).save(png, "PNG")
    for ext, encoded in ((".png", png.getvalue()), (".tiff", _tiff())):
        _assert_camera_tags(embed_exif(encoded, ext, block))


def test_the_encoders_structure_tags_win() -> None:
    """A block claiming another resolution does not override what the encoder wrote; a plain TIFF has no block."""
    exif = _camera_exif()
    exif[0x011A] = 999.0  # XResolution
    tiff = _tiff()
    order = "<" if tiff[:2] == b"II" else ">"
    with Image.open(io.BytesIO(tiff)) as im:
        before = im.getexif().get(0x011A)
    out = embed_exif(tiff, ".tiff", exif.tobytes()[6:])
    with Image.open(io.BytesIO(out)) as im:
        assert im.getexif().get(0x011A) == (before if before is not None else 999.0)
    assert read_exif(tiff, "tiff") is None  # only the encoder's structure: nothing of the photo's to carry
    assert struct.unpack(order + "I", out[4:8])[0] > len(tiff) - 1  # the new first IFD is appended


def test_a_damaged_block_leaves_the_image_as_it_was() -> None:
    tiff = _tiff()
    broken = _block("<")[:30]  # the IFD points past the end
    assert embed_exif(tiff, ".tiff", broken) == tiff
    assert read_exif(tiff[:12], "tiff") is None
