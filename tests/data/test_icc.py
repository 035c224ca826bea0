"""ICC profiles survive restore: read from PNG/JPEG/WebP/TIFF, written back into the same formats.

Pillow (an independent implementation) writes the sources and reads the outputs back, so the
containers this project edits by hand are checked against a reader it does not share code with.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageCms

from tests.inference.test_engine import _Nearest4
from vmambair_core.data.icc import embed_icc, read_icc
from vmambair_core.data.io import read_image, write_image
from vmambair_core.inference import Restorer
from vmambair_core.inference.restore import plan_restore, restore_files


def _profile(extra: int = 0) -> bytes:
    """A real sRGB profile whose description is made unique, so it cannot be a library default."""
    base = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    base[84:100] = b"vmambair-test-id"  # the profile ID field: any bytes, carried verbatim
    return bytes(base) + b"\x00" * extra


def _source(path: Path, profile: bytes, mode: str = "RGB") -> np.ndarray:
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (24, 32, len(mode)), dtype=np.uint8)
    options = {"quality": 95} if path.suffix == ".jpg" else {"lossless": True} if path.suffix == ".webp" else {}
    Image.fromarray(pixels, mode).save(path, icc_profile=profile, **options)
    return pixels


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".tif"])
def test_profile_is_read_and_written_back(tmp_path: Path, ext: str) -> None:
    profile = _profile()
    _source(tmp_path / f"in{ext}", profile)
    image = read_image(tmp_path / f"in{ext}")
    assert image.icc_profile == profile
    tagged = write_image(tmp_path / f"out{ext}", image.rgb, icc_profile=image.icc_profile)
    plain = write_image(tmp_path / f"plain{ext}", image.rgb)
    with Image.open(tagged) as im:
        assert im.info.get("icc_profile") == profile
        im.load()  # the edited container still decodes
    # The pixels are those of the untagged file, bit for bit (the same encoder ran).
    assert np.array_equal(cv2.imread(str(tagged), cv2.IMREAD_UNCHANGED), cv2.imread(str(plain), cv2.IMREAD_UNCHANGED))


@pytest.mark.parametrize(("ext", "bit_depth"), [(".png", 16), (".webp", 8), (".tif", 16), (".png", 8)])
def test_profile_with_alpha_and_16_bit(tmp_path: Path, ext: str, bit_depth: int) -> None:
    profile = _profile()
    rng = np.random.default_rng(1)
    rgb, alpha = rng.random((20, 28, 3), dtype=np.float32), rng.random((20, 28), dtype=np.float32)
    out = write_image(tmp_path / f"a{ext}", rgb, alpha=alpha, bit_depth=bit_depth, icc_profile=profile)
    back = read_image(out)
    assert back.icc_profile == profile and back.mode == "RGBA" and back.bit_depth == bit_depth
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == profile


def test_large_profile_spans_several_jpeg_segments(tmp_path: Path) -> None:
    profile = _profile(extra=150_000)  # three APP2 segments
    out = write_image(tmp_path / "big.jpg", np.full((8, 8, 3), 0.5, np.float32), icc_profile=profile)
    assert out.read_bytes().count(b"ICC_PROFILE\x00") == 3
    assert read_image(out).icc_profile == profile
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == profile


def test_profile_left_out_where_it_would_be_wrong(tmp_path: Path) -> None:
    rgb_profile = _profile()
    grey_profile = rgb_profile[:16] + b"GRAY" + rgb_profile[20:]
    grey = write_image(tmp_path / "g.png", np.full((8, 8, 3), 0.5, np.float32), mode="L", icc_profile=rgb_profile)
    assert read_image(grey).icc_profile is None
    grey = write_image(tmp_path / "g2.png", np.full((8, 8, 3), 0.5, np.float32), mode="L", icc_profile=grey_profile)
    assert read_image(grey).icc_profile == grey_profile
    webp = write_image(tmp_path / "g.webp", np.full((8, 8, 3), 0.5, np.float32), mode="L", icc_profile=grey_profile)
    assert read_image(webp).icc_profile is None  # WebP stores grey as RGB
    bmp = tmp_path / "c.bmp"
    write_image(bmp, np.full((8, 8, 3), 0.5, np.float32), icc_profile=rgb_profile)
    assert read_image(bmp).icc_profile is None
    assert embed_icc(b"not an image", ".bmp", rgb_profile, 3) == b"not an image"
    assert read_icc(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "png") is None  # damaged: ignored, not an error


def test_restore_keeps_the_photo_profile(tmp_path: Path) -> None:
    profile = _profile()
    src = tmp_path / "in"
    src.mkdir()
    _source(src / "photo.jpg", profile)
    _source(src / "flat.png", profile)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(src / "untagged.png")
    plan = plan_restore([src], tmp_path / "out")
    results = list(restore_files(plan.jobs, Restorer(_Nearest4(), torch.device("cpu"))))
    assert [r.status for r in results] == ["ok"] * 3
    for name, expected in (("photo.jpg", profile), ("flat.png", profile), ("untagged.png", None)):
        with Image.open(tmp_path / "out" / name) as im:
            assert im.info.get("icc_profile") == expected, name
