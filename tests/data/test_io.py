"""Image reading/writing against independent decoders (Pillow, plain cv2) and hand-built files."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from PIL import Image, ImageOps  # test-only dependency (scikit-image requires it)

from vmambair_core.data import io as vio
from vmambair_core.data.io import LoadedImage, read_image, resize_alpha, write_image
from vmambair_core.errors import ConfigError, InputError, VmambairError

# From data/MANIFEST.md, real_sr/RealESRGAN_inputs.
EXPECTED = {
    "00003.png": ("RGB", 8),
    "00017_gray.png": ("L", 8),
    "0014.jpg": ("RGB", 8),
    "0030.jpg": ("RGB", 8),
    "ADE_val_00000114.jpg": ("RGB", 8),
    "OST_009.png": ("RGB", 8),
    "children-alpha.png": ("RGBA", 8),
    "tree_alpha_16bit.png": ("RGBA", 16),
    "wolf_gray.jpg": ("L", 8),
}


@pytest.fixture(scope="module")
def inputs(data_dir: Path) -> Path:
    return data_dir / "real_sr" / "RealESRGAN_inputs" / "input"


def _levels(plane: np.ndarray, depth: int) -> np.ndarray:
    return np.rint(plane * (255 if depth == 8 else 65535)).astype(np.int64)


def _pattern(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3), dtype=np.float32)


# --------------------------------------------------------------------------- real files


def test_the_set_is_what_the_manifest_lists(inputs: Path) -> None:
    assert sorted(p.name for p in inputs.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_real_inputs_read_with_mode_depth_and_pixels(inputs: Path, name: str) -> None:
    path = inputs / name
    image = read_image(path)
    mode, depth = EXPECTED[name]
    assert (image.mode, image.bit_depth) == (mode, depth)
    assert image.source == path and image.rgb.dtype == np.float32 and image.rgb.shape[2] == 3
    assert 0.0 <= image.rgb.min() and image.rgb.max() <= 1.0
    assert (image.alpha is not None) == (mode in ("LA", "RGBA"))

    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # independent: a plain ASCII-path cv2 read
    assert raw.dtype == (np.uint8 if depth == 8 else np.uint16)
    assert image.size == raw.shape[:2]

    pil = Image.open(path)
    pil.load()
    levels = _levels(image.rgb, depth)
    if depth == 16:
        # Pillow reads this file as 8-bit RGBA (MANIFEST): check exactly against cv2, roughly against Pillow.
        np.testing.assert_array_equal(levels, raw[..., 2::-1])
        np.testing.assert_array_equal(_levels(image.alpha, 16), raw[..., 3])
        assert np.abs(levels / 257.0 - np.asarray(pil.convert("RGB"))).max() <= 1.0
        return
    assert pil.mode == mode
    reference = np.asarray(pil.convert("RGB")).astype(np.int64)
    if name.endswith(".png"):
        np.testing.assert_array_equal(levels, reference)
    else:  # two JPEG decoders: allow IDCT rounding differences
        assert np.abs(levels - reference).max() <= 2 and np.abs(levels - reference).mean() < 0.2
    if mode == "L":
        assert np.array_equal(image.rgb, np.repeat(image.rgb[..., :1], 3, axis=2))
    if image.alpha is not None:
        np.testing.assert_array_equal(_levels(image.alpha, 8), np.asarray(pil.getchannel("A")))


def test_to_tensor(inputs: Path) -> None:
    image = read_image(inputs / "0014.jpg")
    tensor = image.to_tensor()
    assert tensor.shape == (1, 3, image.height, image.width) and tensor.dtype == torch.float32
    assert torch.equal(tensor[0].permute(1, 2, 0), torch.from_numpy(image.rgb))


# --------------------------------------------------------------------------- EXIF orientation


def _oriented_jpeg(path: Path, pixels: np.ndarray, orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, "JPEG", quality=98, subsampling=0, exif=exif)  # 4:4:4


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    # Flat 8x8-aligned blocks survive JPEG almost exactly; the layout is asymmetric in every way.
    blocks = np.array([[0, 60, 120], [180, 240, 90]], dtype=np.uint8)
    stored = np.kron(blocks, np.ones((8, 8), np.uint8))  # 16 x 24
    stored = np.stack([stored, 255 - stored, stored // 2], axis=-1)
    path = tmp_path / f"o{orientation}.jpg"
    _oriented_jpeg(path, stored, orientation)

    image = read_image(path)
    upright = np.asarray(ImageOps.exif_transpose(Image.open(path)))  # Pillow's reading of the tag
    assert image.size == upright.shape[:2]
    assert image.size == ((24, 16) if orientation >= 5 else (16, 24))
    assert np.abs(_levels(image.rgb, 8) - upright).max() <= 2
    # And by hand, from the EXIF definition (1 = as stored, 6 = rotate 90 clockwise to display, ...).
    by_hand = {
        1: stored, 2: stored[:, ::-1], 3: stored[::-1, ::-1], 4: stored[::-1],
        5: stored.transpose(1, 0, 2), 6: np.rot90(stored, -1),
        7: stored[::-1, ::-1].transpose(1, 0, 2), 8: np.rot90(stored, 1),
    }[orientation]
    assert np.abs(_levels(image.rgb, 8) - by_hand.astype(np.int64)).mean() < 3
    if orientation in (2, 3, 4):  # same shape as stored: make sure "as stored" would have failed
        assert np.abs(_levels(image.rgb, 8) - stored.astype(np.int64)).mean() > 30


def test_grey_jpeg_orientation(tmp_path: Path) -> None:
    stored = np.kron(np.array([[0, 200], [100, 50]], np.uint8), np.ones((8, 16), np.uint8))  # 16 x 32
    path = tmp_path / "grey.jpg"
    _oriented_jpeg(path, stored, 6)
    image = read_image(path)
    assert image.mode == "L" and image.size == (32, 16)
    assert np.abs(_levels(image.rgb[..., 0], 8) - np.rot90(stored, -1)).max() <= 3


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("ext", [".png", ".tif", ".bmp", ".webp"])
def test_8bit_rgb_round_trip_is_exact(tmp_path: Path, ext: str) -> None:
    values = np.random.default_rng(1).integers(0, 256, (7, 5, 3), dtype=np.uint8)
    path = write_image(tmp_path / f"a{ext}", values / np.float32(255))
    assert np.array_equal(np.asarray(Image.open(path).convert("RGB")), values)  # RGB order on disk
    back = read_image(path)
    assert (back.mode, back.bit_depth) == ("RGB", 8)
    np.testing.assert_array_equal(_levels(back.rgb, 8), values)


@pytest.mark.parametrize("ext", [".png", ".tiff"])
@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_16bit_round_trip_is_exact(tmp_path: Path, ext: str, mode: str) -> None:
    rng = np.random.default_rng(2)
    values = rng.integers(0, 65536, (6, 9, 3), dtype=np.uint16)
    alpha = rng.integers(0, 65536, (6, 9), dtype=np.uint16) if mode == "RGBA" else None
    path = write_image(
        tmp_path / f"b{ext}", values / np.float32(65535),
        alpha=None if alpha is None else alpha / np.float32(65535), bit_depth=16,
    )
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert raw.dtype == np.uint16
    np.testing.assert_array_equal(raw[..., 2::-1], values)
    back = read_image(path)
    assert (back.mode, back.bit_depth) == (mode, 16)
    np.testing.assert_array_equal(_levels(back.rgb, 16), values)
    if alpha is not None:
        np.testing.assert_array_equal(raw[..., 3], alpha)
        np.testing.assert_array_equal(_levels(back.alpha, 16), alpha)


def test_rgba_8bit_alpha_kept(tmp_path: Path, inputs: Path) -> None:
    source = read_image(inputs / "children-alpha.png")
    path = write_image(
        tmp_path / "c.png", source.rgb, alpha=source.alpha, bit_depth=source.bit_depth, mode=source.mode
    )
    assert _same_pixels(path, inputs / "children-alpha.png")


def _same_pixels(a: Path, b: Path) -> bool:
    pa, pb = Image.open(a), Image.open(b)
    return pa.mode == pb.mode and np.array_equal(np.asarray(pa), np.asarray(pb))


@pytest.mark.parametrize("depth", [8, 16])
def test_grey_stays_grey(tmp_path: Path, depth: int) -> None:
    peak = 255 if depth == 8 else 65535
    dtype = np.uint16 if depth == 16 else np.uint8
    values = np.random.default_rng(3).integers(0, peak + 1, (5, 8)).astype(dtype)
    rgb = np.repeat((values / np.float32(peak))[..., None], 3, axis=2)
    path = write_image(tmp_path / "g.png", rgb, bit_depth=depth, mode="L")
    pil = Image.open(path)
    assert pil.mode == ("L" if depth == 8 else "I;16")
    np.testing.assert_array_equal(np.asarray(pil), values)
    back = read_image(path)
    assert (back.mode, back.bit_depth) == ("L", depth)
    np.testing.assert_array_equal(_levels(back.rgb[..., 0], depth), values)


def test_grey_output_is_luma_of_colour(tmp_path: Path) -> None:
    values = np.random.default_rng(4).integers(0, 256, (6, 6, 3), dtype=np.uint8)
    path = write_image(tmp_path / "y.png", values / np.float32(255), mode="L")
    expected = np.asarray(Image.fromarray(values).convert("L")).astype(int)  # Pillow's BT.601 luma
    assert np.abs(np.asarray(Image.open(path)).astype(int) - expected).max() <= 1


@pytest.mark.parametrize("depth", [8, 16])
def test_grey_alpha_stays_grey_alpha(tmp_path: Path, depth: int) -> None:
    peak = 255 if depth == 8 else 65535
    dtype = np.uint8 if depth == 8 else np.uint16
    rng = np.random.default_rng(5)
    grey = rng.integers(0, peak + 1, (4, 7)).astype(dtype)
    alpha = rng.integers(0, peak + 1, (4, 7)).astype(dtype)
    rgb = np.repeat((grey / np.float32(peak))[..., None], 3, axis=2)
    path = write_image(tmp_path / "la.png", rgb, alpha=alpha / np.float32(peak), bit_depth=depth, mode="LA")
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)  # OpenCV expands LA to BGRA
    np.testing.assert_array_equal(raw[..., 0], grey)
    np.testing.assert_array_equal(raw[..., 3], alpha)
    if depth == 8:
        pil = Image.open(path)
        assert pil.mode == "LA"
        np.testing.assert_array_equal(np.asarray(pil), np.stack([grey, alpha], axis=-1))
    back = read_image(path)
    assert (back.mode, back.bit_depth) == ("LA", depth)
    np.testing.assert_array_equal(_levels(back.alpha, depth), alpha)


def test_jpeg_grey_and_colour(tmp_path: Path) -> None:
    ramp = np.linspace(0.1, 0.9, 16, dtype=np.float32)
    rgb = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], 0.5 * ramp[:, None] + 0.2), axis=-1)
    assert Image.open(write_image(tmp_path / "g.jpg", rgb, mode="L")).mode == "L"
    back = read_image(write_image(tmp_path / "c.jpeg", rgb, quality=100))
    assert back.mode == "RGB" and np.abs(back.rgb - rgb).mean() < 0.01 and np.abs(back.rgb - rgb).max() < 0.05


def test_webp_stores_grey_as_rgb_and_keeps_alpha(tmp_path: Path) -> None:
    values = np.random.default_rng(6).integers(0, 256, (5, 5, 4), dtype=np.uint8)
    levels = values / np.float32(255)
    path = write_image(tmp_path / "w.webp", levels[..., :3], alpha=levels[..., 3])
    back = read_image(path)  # lossless by default
    assert back.mode == "RGBA"
    np.testing.assert_array_equal(_levels(back.alpha, 8), values[..., 3])
    assert read_image(write_image(tmp_path / "g.webp", _pattern(4, 4), mode="L")).mode == "RGB"


def test_non_ascii_paths(tmp_path: Path, inputs: Path) -> None:
    folder = tmp_path / "dossier_é_图像"
    folder.mkdir()
    copy = folder / "фото_01.png"
    copy.write_bytes((inputs / "00017_gray.png").read_bytes())
    assert read_image(copy).mode == "L"
    values = np.random.default_rng(7).integers(0, 256, (3, 4, 3), dtype=np.uint8)
    out = write_image(folder / "résultat_결과.png", values / np.float32(255))
    assert out.exists() and sorted(p.name for p in folder.iterdir()) == sorted([copy.name, out.name])
    np.testing.assert_array_equal(_levels(read_image(out).rgb, 8), values)


# --------------------------------------------------------------------------- write refusals


@pytest.mark.parametrize(
    "name, kwargs, error, words",
    [
        ("a.jpg", {"bit_depth": 16}, ConfigError, "16-bit"),
        ("a.webp", {"bit_depth": 16}, ConfigError, "16-bit"),
        ("a.jpg", {"alpha": np.ones((4, 4), np.float32)}, ConfigError, "alpha"),
        ("a.gif", {}, ConfigError, "extension"),
        ("a.png", {"mode": "RGBA"}, ConfigError, "alpha"),
        ("a.png", {"mode": "CMYK"}, ConfigError, "mode"),
        ("a.png", {"alpha": np.ones((3, 4), np.float32)}, InputError, "match"),
        ("a.jpg", {"quality": 0}, ConfigError, "quality"),
    ],
)
def test_write_refusals(tmp_path: Path, name: str, kwargs: dict, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        write_image(tmp_path / name, _pattern(4, 4), **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "bad", [np.full((4, 4, 3), np.nan, np.float32), np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.float32)]
)
def test_bad_pixels_are_input_errors(tmp_path: Path, bad: np.ndarray) -> None:
    with pytest.raises(InputError, match="a.png"):
        write_image(tmp_path / "a.png", bad)
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- atomic writes


def test_write_leaves_only_the_target_with_umask_permissions(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        path = write_image(tmp_path / "x.png", _pattern(3, 3))
    finally:
        os.umask(old_umask)
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    if os.name == "posix":
        assert path.stat().st_mode & 0o777 == 0o644


def test_failed_encode_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "x.png"
    target.write_bytes(b"previous")
    monkeypatch.setattr(vio.cv2, "imencode", lambda *a, **k: (False, None))
    with pytest.raises(InputError, match="encode"):
        write_image(target, _pattern(3, 3))
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


@pytest.mark.parametrize("where", ["fsync", "replace"])
@pytest.mark.parametrize("interrupt", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_interrupted_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, interrupt: BaseException
) -> None:
    target = tmp_path / "x.png"
    target.write_bytes(b"previous")
    written: list[int] = []
    real_fsync = os.fsync

    def failing(*args: object) -> None:
        raise interrupt

    def recording_fsync(fd: int) -> None:
        written.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(vio.os, "fsync", failing if where == "fsync" else recording_fsync)
    if where == "replace":
        monkeypatch.setattr(vio.os, "replace", failing)
    expected = VmambairError if isinstance(interrupt, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        write_image(target, _pattern(3, 3))
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]
    if where == "replace":
        assert written, "the data must be fsynced before the rename"


def test_missing_output_folder(tmp_path: Path) -> None:
    with pytest.raises(VmambairError, match="cannot write"):
        write_image(tmp_path / "nope" / "x.png", _pattern(3, 3))


# --------------------------------------------------------------------------- bad inputs


def _expect_input_error(path: Path, **kwargs: object) -> InputError:
    with pytest.raises(InputError) as caught:
        read_image(path, **kwargs)  # type: ignore[arg-type]
    message = str(caught.value)
    assert path.name in message and "\n" not in message
    return caught.value


def test_truncated_files(tmp_path: Path, inputs: Path) -> None:
    cuts = [("00003.png", 0.5), ("tree_alpha_16bit.png", 0.98), ("0014.jpg", 0.9), ("wolf_gray.jpg", 0.5)]
    for name, fraction in cuts:
        data = (inputs / name).read_bytes()
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(data[: int(len(data) * fraction)])
        _expect_input_error(cut)


def test_truncated_jpeg_refused_even_if_the_decoder_accepts_it(
    tmp_path: Path, inputs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # OpenCV 4.x decodes a truncated JPEG as a half-grey picture; the end marker check catches it.
    data = (inputs / "0030.jpg").read_bytes()
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(data[: len(data) * 3 // 4])
    monkeypatch.setattr(vio.cv2, "imdecode", lambda *a: np.zeros((4, 4, 3), np.uint8))
    assert "truncated" in str(_expect_input_error(cut))


def test_not_images(tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture\n")
    _expect_input_error(text)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert "empty" in str(_expect_input_error(empty))
    assert "not found" in str(_expect_input_error(tmp_path / "missing.png"))
    folder = tmp_path / "folder.png"
    folder.mkdir()
    _expect_input_error(folder)


def test_float_images_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "float.tiff"
    assert cv2.imwrite(str(path), np.random.default_rng(0).random((4, 4, 3), dtype=np.float32) * 4)
    assert "float32" in str(_expect_input_error(path))


def test_max_pixels(inputs: Path) -> None:
    path = inputs / "00003.png"  # 512 x 256
    assert read_image(path, max_pixels=512 * 256).size == (256, 512)
    assert "--max-pixels" in str(_expect_input_error(path, max_pixels=512 * 256 - 1))
    assert read_image(path, max_pixels=None).size == (256, 512)


def _encode_with_pillow(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, params",
    [
        ("a.png", {}), ("a.jpg", {}), ("a.bmp", {}), ("a.gif", {}), ("a.tiff", {}),
        ("lossy.webp", {"lossless": False}), ("lossless.webp", {"lossless": True}),
        ("alpha_lossy.webp", {"lossless": False, "rgba": True}),
    ],
)
def test_pixel_guard_reads_the_header_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, params: dict
) -> None:
    pixels = (_pattern(23, 37) * 255).astype(np.uint8)  # 37 wide, 23 high
    image = Image.fromarray(pixels).convert("RGBA" if params.pop("rgba", False) else "RGB")
    formats = {"png": "PNG", "jpg": "JPEG", "bmp": "BMP", "gif": "GIF", "tiff": "TIFF", "webp": "WEBP"}
    fmt = formats[name.split(".")[1]]
    path = tmp_path / name
    path.write_bytes(_encode_with_pillow(image, fmt, **params))

    def must_not_decode(*args: object) -> None:
        raise AssertionError("decoded before the size check")

    monkeypatch.setattr(vio.cv2, "imdecode", must_not_decode)
    assert "37x23" in str(_expect_input_error(path, max_pixels=37 * 23 - 1))


def test_decompression_bomb_header(tmp_path: Path) -> None:
    """A tiny PNG whose header claims 60000 x 60000 pixels is refused by the default limit."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 60001 * 4)  # four rows of data; the rest is missing
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    path = tmp_path / "bomb.png"
    path.write_bytes(bomb)
    assert "60000x60000" in str(_expect_input_error(path))


# --------------------------------------------------------------------------- alpha resize


def test_resize_alpha_linear_matches_torch_bilinear() -> None:
    alpha = np.random.default_rng(8).random((5, 7), dtype=np.float32)
    ours = resize_alpha(alpha, (20, 28), method="linear")
    planes = torch.from_numpy(alpha)[None, None]
    reference = F.interpolate(planes, size=(20, 28), mode="bilinear", align_corners=False)
    assert ours.shape == (20, 28)
    np.testing.assert_allclose(ours, reference[0, 0].numpy(), atol=1e-5)


def test_resize_alpha_cubic_is_clipped_and_keeps_constants() -> None:
    step = np.zeros((6, 6), np.float32)
    step[:, 3:] = 1.0
    raw = cv2.resize(step, (24, 24), interpolation=cv2.INTER_CUBIC)
    assert raw.max() > 1.0 and raw.min() < 0.0  # bicubic overshoots...
    ours = resize_alpha(step, (24, 24))
    assert ours.min() == 0.0 and ours.max() == 1.0  # ...and the helper clips
    np.testing.assert_allclose(resize_alpha(np.full((3, 5), 0.25, np.float32), (12, 20)), 0.25, atol=1e-6)
    assert resize_alpha(np.ones((1, 1), np.float32), (4, 8)).shape == (4, 8)


def test_loaded_image_is_frozen(inputs: Path) -> None:
    image: LoadedImage = read_image(inputs / "0014.jpg")
    with pytest.raises(AttributeError):
        image.mode = "L"  # type: ignore[misc]
