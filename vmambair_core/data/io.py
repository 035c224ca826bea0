"""Reading and writing the images users hand us, without losing what they care about.

What the usual restoration scripts get wrong and this module does not:
non-ASCII paths (bytes are read by Python, decoded by ``cv2.imdecode``), alpha (kept, upscaled
apart by :func:`resize_alpha`), 16-bit depth (kept), grey (stays grey), EXIF orientation of
JPEGs (honoured), ICC colour profiles (carried from input to output, :mod:`.icc`), decompression bombs
(refused from the header, before decoding), truncated
files (an error, never a half-grey picture) and interrupted writes (atomic: temp file, fsync,
``os.replace``).

Policies, stated once:

* Samples must be 8- or 16-bit unsigned integers. Float and 32-bit images (float TIFF, Radiance
  HDR, 32-bit integer TIFF) raise :class:`InputError`: their range is not [0, 1], and clipping
  them silently would destroy highlights. Convert them to 16-bit PNG/TIFF first.
* EXIF orientation is applied to JPEG files (where cameras write it). Other formats are decoded
  as stored: OpenCV keeps alpha only with ``IMREAD_UNCHANGED``, which ignores orientation.
* Grey+alpha PNGs (OpenCV decodes them as BGRA) are recognised from the PNG header as ``"LA"``.
  A grey PNG with a ``tRNS`` colour key loses that key (OpenCV drops it).
* The pixel-count guard reads the size from the header for PNG, JPEG, GIF, BMP, WebP and TIFF;
  other formats are checked after decoding (OpenCV itself refuses more than 2**30 pixels).
"""

from __future__ import annotations

import os
import stat
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

import cv2
import numpy as np
import torch

from vmambair_core.atomic import atomic_write_bytes
from vmambair_core.data.exif import embed_exif, read_exif, reset_orientation
from vmambair_core.data.icc import embed_icc, png_chunk, read_icc
from vmambair_core.errors import ConfigError, InputError, VmambairError

ImageMode = Literal["L", "LA", "RGB", "RGBA"]
BitDepth = Literal[8, 16]
AlphaResize = Literal["linear", "cubic"]

#: About 134 megapixels (11585 x 11585): 1.6 GB as float32 RGB, already a lot to restore.
DEFAULT_MAX_PIXELS = 1 << 27

_MODES: tuple[ImageMode, ...] = ("L", "LA", "RGB", "RGBA")
# ITU-R BT.601 luma, the weights of cv2.COLOR_RGB2GRAY and Pillow's "L" conversion.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True, eq=False)
class LoadedImage:
    """A decoded image, ready for the network, plus what is needed to write it back alike.

    ``rgb`` is (H, W, 3) float32 in [0, 1], RGB order; grey images are repeated to three
    channels because the networks take RGB. ``alpha`` is (H, W) float32 in [0, 1] or None.
    ``mode`` and ``bit_depth`` describe the file, so :func:`write_image` can restore them;
    ``icc_profile`` is the file's embedded colour profile (raw ICC bytes) and ``exif`` its EXIF block
    (orientation reset to 1 where it was applied to ``rgb``), both to be written back.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    bit_depth: BitDepth
    mode: ImageMode
    source: Path
    icc_profile: bytes | None = None
    exif: bytes | None = None

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        """(height, width), in numpy's order."""
        return self.height, self.width

    def to_tensor(self) -> torch.Tensor:
        """The RGB planes as a contiguous [1, 3, H, W] float32 tensor (a copy)."""
        return torch.from_numpy(np.ascontiguousarray(self.rgb.transpose(2, 0, 1)))[None]


# --------------------------------------------------------------------------- reading


class _Header(NamedTuple):
    kind: str  # "png", "jpeg", "gif", "bmp", "webp", "tiff" or "unknown"
    width: int | None
    height: int | None
    png_color_type: int | None = None
    jpeg_sos: int | None = None  # offset of the first start-of-scan marker


def read_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` into a :class:`LoadedImage`; every failure is an :class:`InputError` naming it.

    ``max_pixels`` (None disables it) is checked against the header before the pixels are decoded
    wherever the format allows, so a small file claiming a gigantic canvas costs nothing.
    """
    source = Path(path)
    array, header, data = _decode(source, max_pixels)
    exif = read_exif(data, header.kind)
    if exif is not None and header.kind == "jpeg":  # OpenCV applied the orientation to the pixels
        exif = reset_orientation(exif)
    return _to_loaded(source, array, header, read_icc(data, header.kind), exif)


def _decode(source: Path, max_pixels: int | None) -> tuple[np.ndarray, _Header, bytes]:
    """The decoded array, its header and the file's bytes (for the ICC profile)."""
    data = read_file_bytes(source, max_file_bytes(max_pixels))
    if not data:
        raise InputError(f"{source}: empty file (0 bytes)")

    header = _probe_header(data)
    if header.width is not None and header.height is not None:
        _check_pixels(source, header.width, header.height, max_pixels)
    if header.kind == "jpeg" and not _jpeg_has_end(data, header):
        raise InputError(f"{source}: truncated JPEG (no end-of-image marker after the image data)")

    # JPEG has no alpha, so it can take the flags that make OpenCV apply EXIF orientation.
    flags = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH if header.kind == "jpeg" else cv2.IMREAD_UNCHANGED
    try:
        array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error:
        array = None
    if array is None or array.size == 0:
        raise InputError(f"{source}: cannot decode (not an image, truncated, or an unsupported format)")
    _check_pixels(source, array.shape[1], array.shape[0], max_pixels)
    return array, header, data


def max_file_bytes(max_pixels: int | None) -> int | None:
    """The largest image file worth reading for ``max_pixels``: 16-bit RGBA stored uncompressed, plus metadata."""
    return None if max_pixels is None else max_pixels * 8 + (64 << 20)


def read_file_bytes(source: Path, limit: int | None) -> bytes:
    """The bytes of a regular file (links followed), refused before reading if it holds more than ``limit``.

    The file is opened without blocking and checked with ``fstat``: a FIFO would wait forever for a
    writer and a device such as ``/dev/zero`` never ends, so neither is read.
    """
    try:
        descriptor = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise InputError(f"{source}: file not found") from None
    except OSError as error:
        raise InputError(f"{source}: cannot read ({error.strerror or error})") from None
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or (limit is not None and info.st_size > limit):
        os.close(descriptor)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{source}: a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):
            raise InputError(f"{source}: not a regular file (a FIFO, device or socket is never read)")
        raise InputError(f"{source}: {info.st_size} bytes is larger than any image within the pixel limit "
                         f"({limit} bytes)")
    with os.fdopen(descriptor, "rb") as handle:
        try:
            data = handle.read() if limit is None else handle.read(limit + 1)
        except OSError as error:
            raise InputError(f"{source}: cannot read ({error.strerror or error})") from None
    if limit is not None and len(data) > limit:
        raise InputError(f"{source}: grew beyond {limit} bytes while being read")
    return data


def read_rgb_samples(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The (H, W, 3) RGB samples of ``path`` as stored: uint8 or uint16, no float conversion.

    For training loaders, which crop before they convert (alpha is dropped, grey repeated).
    """
    source = Path(path)
    array, header, _data = _decode(source, max_pixels)
    _mode, colour, _alpha = _split_channels(source, array, header)
    return np.ascontiguousarray(colour)


def _check_pixels(source: Path, width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels is not None and width * height > max_pixels:
        raise InputError(
            f"{source}: {width}x{height} = {width * height} pixels exceeds the limit of {max_pixels} "
            "(--max-pixels; raise it if the image is genuine)"
        )


def _to_loaded(
    source: Path, array: np.ndarray, header: _Header, icc_profile: bytes | None, exif: bytes | None = None
) -> LoadedImage:
    mode, colour, alpha_raw = _split_channels(source, array, header)
    peak = np.float32(255.0 if colour.dtype == np.uint8 else 65535.0)
    rgb = np.ascontiguousarray(colour).astype(np.float32) / peak
    alpha = None if alpha_raw is None else alpha_raw.astype(np.float32) / peak
    return LoadedImage(rgb=rgb, alpha=alpha, bit_depth=8 if colour.dtype == np.uint8 else 16, mode=mode, source=source,
                       icc_profile=icc_profile, exif=exif)


def _split_channels(
    source: Path, array: np.ndarray, header: _Header
) -> tuple[ImageMode, np.ndarray, np.ndarray | None]:
    """Decoded OpenCV array -> (mode, (H, W, 3) RGB samples, alpha samples or None), integer dtypes kept."""
    if array.dtype not in (np.uint8, np.uint16):
        raise InputError(
            f"{source}: {array.dtype} samples are not supported (only 8- and 16-bit integer images); "
            "convert float/32-bit images to 16-bit PNG or TIFF"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    channels = 1 if array.ndim == 2 else array.shape[2]

    alpha_raw: np.ndarray | None = None
    mode: ImageMode
    if channels == 1:
        mode, colour = "L", array[..., None]
    elif channels == 2 or (channels == 4 and header.png_color_type == 4):
        # OpenCV expands grey+alpha PNGs to BGRA; the header says what the file really is.
        mode, colour, alpha_raw = "LA", array[..., :1], array[..., -1]
    elif channels == 3:
        mode, colour = "RGB", array[..., ::-1]
    elif channels == 4:
        mode, colour, alpha_raw = "RGBA", array[..., 2::-1], array[..., 3]
    else:
        raise InputError(f"{source}: {channels} channels are not supported (expected 1 to 4)")
    if colour.shape[2] == 1:
        colour = np.repeat(colour, 3, axis=2)
    return mode, colour, alpha_raw


def _probe_header(data: bytes) -> _Header:
    """Image size (and a few flags) from the first bytes; ``unknown`` sizes are None, never a guess."""
    try:
        if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
            width, height = struct.unpack_from(">II", data, 16)
            return _Header("png", width, height, png_color_type=data[25])
        if data.startswith(b"\xff\xd8"):
            return _probe_jpeg(data)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            return _Header("gif", *struct.unpack_from("<HH", data, 6))
        if data.startswith(b"BM"):
            (info_size,) = struct.unpack_from("<I", data, 14)
            fmt = "<HH" if info_size == 12 else "<ii"
            width, height = struct.unpack_from(fmt, data, 18)
            return _Header("bmp", abs(width), abs(height))
        if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
            return _probe_webp(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _probe_tiff(data)
    except (struct.error, IndexError):
        pass  # a header too short to hold its size: let the decoder produce the error
    return _Header("unknown", None, None)


_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _probe_jpeg(data: bytes) -> _Header:
    """Walk the marker segments up to the first scan; SOFn carries the size."""
    width = height = sos = None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        if marker == 0xDA:
            sos = i
            break
        if marker == 0xD9:
            break
        (length,) = struct.unpack_from(">H", data, i + 2)
        if marker in _JPEG_SOF:
            height, width = struct.unpack_from(">HH", data, i + 5)
        i += 2 + length
    return _Header("jpeg", width, height, jpeg_sos=sos)


def _jpeg_has_end(data: bytes, header: _Header) -> bool:
    # Entropy-coded data never contains 0xFFD9 (0xFF is stuffed), so an EOI after the first scan
    # marker means the stream ran to its end. Older OpenCV decodes truncated JPEGs as grey.
    return header.jpeg_sos is not None and data.rfind(b"\xff\xd9") > header.jpeg_sos


def _probe_webp(data: bytes) -> _Header:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack_from("<HH", data, 26)
        return _Header("webp", width & 0x3FFF, height & 0x3FFF)
    if chunk == b"VP8L":
        (bits,) = struct.unpack_from("<I", data, 21)
        return _Header("webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return _Header("webp", width, height)
    return _Header("webp", None, None)


def _probe_tiff(data: bytes) -> _Header:
    """ImageWidth (256) and ImageLength (257) from the first IFD."""
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, ifd)
    found: dict[int, int] = {}
    for k in range(count):
        tag, kind, _, value = struct.unpack_from(order + "HHI4s", data, ifd + 2 + 12 * k)
        if tag in (256, 257):
            found[tag] = struct.unpack_from(order + ("H" if kind == 3 else "I"), value)[0]
    return _Header("tiff", found.get(256), found.get(257))


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class _Format:
    extension: str  # what cv2.imencode is given
    bit_depths: tuple[int, ...]
    alpha: bool
    grey: bool  # False: grey is stored as three equal channels (WebP has no grey mode)


_FORMATS: dict[str, _Format] = {
    ".png": _Format(".png", (8, 16), alpha=True, grey=True),
    ".jpg": _Format(".jpg", (8,), alpha=False, grey=True),
    ".jpeg": _Format(".jpg", (8,), alpha=False, grey=True),
    ".webp": _Format(".webp", (8,), alpha=True, grey=False),
    ".tif": _Format(".tiff", (8, 16), alpha=True, grey=True),
    ".tiff": _Format(".tiff", (8, 16), alpha=True, grey=True),
    ".bmp": _Format(".bmp", (8,), alpha=False, grey=True),
}
#: File extensions vmambair reads and writes (lower case, with the dot); the one list every folder scan uses.
IMAGE_EXTENSIONS: tuple[str, ...] = tuple(_FORMATS)


def write_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    bit_depth: BitDepth = 8,
    mode: ImageMode | None = None,
    quality: int | None = None,
    icc_profile: bytes | None = None,
    exif: bytes | None = None,
) -> Path:
    """Encode ``rgb`` ((H, W, 3) float in [0, 1]) in ``mode`` and write it atomically to ``path``.

    ``mode`` defaults to RGBA when ``alpha`` is given, else RGB; "L"/"LA" store the BT.601 luma of
    ``rgb``. The encoder follows the extension (png, jpg/jpeg, webp, tif/tiff, bmp). 16-bit needs
    PNG or TIFF and alpha needs PNG, WebP or TIFF: anything else is a :class:`ConfigError`, never
    a silent downgrade (pass ``bit_depth=8`` or drop ``alpha`` to choose one). WebP stores grey as
    three equal channels and grey+alpha as RGBA (the format has no grey mode); TIFF stores
    grey+alpha as RGBA. ``quality`` (1-100) applies to JPEG (default 95) and WebP (default: lossless).
    ``icc_profile`` (raw ICC bytes, e.g. :attr:`LoadedImage.icc_profile`) is embedded in PNG, JPEG,
    WebP and TIFF outputs when its colour space fits the stored channels (BMP gets none); ``exif``
    (:attr:`LoadedImage.exif`) into PNG, JPEG, WebP and TIFF outputs.
    Values are clipped to [0, 1] and rounded; NaN or infinite values are an :class:`InputError`
    (they mean the network failed, e.g. fp16 overflow, and would silently become black).
    """
    target = Path(path)
    fmt = _FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise ConfigError(
            f"{target}: unknown image extension {target.suffix!r}; use one of {', '.join(sorted(_FORMATS))}"
        )
    mode = mode or ("RGBA" if alpha is not None else "RGB")
    _check_write_request(target, mode, alpha, bit_depth, quality)
    colour = _check_plane(target, "rgb", rgb, ndim=3)
    height, width = colour.shape[:2]
    plane_alpha = None if alpha is None else _check_plane(target, "alpha", alpha, ndim=2)
    if plane_alpha is not None and plane_alpha.shape != (height, width):
        raise InputError(f"{target}: alpha is {plane_alpha.shape}, rgb is {(height, width)}: they must match")

    dtype = np.uint8 if bit_depth == 8 else np.uint16
    peak = 255.0 if bit_depth == 8 else 65535.0

    def quantise(plane: np.ndarray) -> np.ndarray:
        return np.rint(np.clip(plane, 0.0, 1.0) * peak).astype(dtype)

    if mode in ("L", "LA"):
        planes = [quantise(colour @ _LUMA)] * (1 if fmt.grey else 3)
    else:
        planes = [quantise(colour[..., c]) for c in (2, 1, 0)]  # OpenCV wants BGR
    if plane_alpha is not None:
        planes.append(quantise(plane_alpha))

    if mode == "LA" and fmt.extension == ".png":
        encoded = _encode_png_grey_alpha(np.stack(planes, axis=-1))  # OpenCV cannot write 2 channels
    else:
        if mode == "LA":  # PNG handled above; elsewhere grey+alpha becomes RGBA
            planes = [planes[0]] * 3 + planes[-1:]
        array = planes[0] if len(planes) == 1 else np.stack(planes, axis=-1)
        encoded = _encode(target, fmt, array, quality)
    if icc_profile:
        encoded = embed_icc(encoded, fmt.extension, icc_profile, 1 if mode in ("L", "LA") and fmt.grey else 3)
    if exif:
        encoded = embed_exif(encoded, fmt.extension, exif)
    _write_atomic(target, encoded)
    return target


def _check_write_request(
    target: Path, mode: str, alpha: np.ndarray | None, bit_depth: int, quality: int | None
) -> None:
    if mode not in _MODES:
        raise ConfigError(f"{target}: unknown mode {mode!r}; use one of {', '.join(_MODES)}")
    if (alpha is not None) != (mode in ("LA", "RGBA")):
        need = "needs an alpha plane" if alpha is None else "has no alpha: pass mode='RGBA' or 'LA'"
        raise ConfigError(f"{target}: mode {mode} {need}")
    if bit_depth not in (8, 16):
        raise ConfigError(f"{target}: bit_depth must be 8 or 16, got {bit_depth!r}")
    problem = unstorable(target, mode, bit_depth)
    if problem == "bit_depth":
        raise ConfigError(
            f"{target}: {target.suffix} cannot store {bit_depth}-bit samples; write .png or .tif, "
            "or pass bit_depth=8 to downgrade"
        )
    if problem == "alpha":
        raise ConfigError(
            f"{target}: {target.suffix} cannot store alpha; write .png, .webp or .tif, or drop alpha"
        )
    check_quality(quality)


def unstorable(target: str | os.PathLike[str], mode: str, bit_depth: int) -> Literal["bit_depth", "alpha"] | None:
    """What the format of ``target``'s extension cannot hold of an image in ``mode``/``bit_depth``, if anything.

    Lets a caller refuse an image before spending time on it, instead of failing at the write.
    """
    fmt = _FORMATS.get(Path(target).suffix.lower())
    if fmt is None:
        return None  # write_image names the unknown extension
    if bit_depth not in fmt.bit_depths:
        return "bit_depth"
    if mode in ("LA", "RGBA") and not fmt.alpha:
        return "alpha"
    return None


def check_quality(quality: int | None) -> None:
    """JPEG/WebP quality: None (the format's default) or an integer in 1..100."""
    if quality is not None and not (isinstance(quality, int) and 1 <= quality <= 100):
        raise ConfigError(f"--quality must be an integer in 1..100, got {quality!r}")


def _check_plane(target: Path, name: str, plane: np.ndarray, *, ndim: int) -> np.ndarray:
    plane = np.asarray(plane)
    if not np.issubdtype(plane.dtype, np.floating):
        raise InputError(f"{target}: {name} must be a float array in [0, 1], got dtype {plane.dtype}")
    if plane.ndim != ndim or (ndim == 3 and plane.shape[2] != 3) or 0 in plane.shape:
        expected = "(H, W, 3)" if ndim == 3 else "(H, W)"
        raise InputError(f"{target}: {name} must have shape {expected}, got {plane.shape}")
    if not np.isfinite(plane).all():
        raise InputError(f"{target}: {name} contains NaN or infinite values; nothing was written")
    return plane.astype(np.float32, copy=False)


def _encode(target: Path, fmt: _Format, array: np.ndarray, quality: int | None) -> bytes:
    params: list[int] = []
    if fmt.extension == ".jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, 95 if quality is None else quality]
    elif fmt.extension == ".webp" and quality is not None:
        params = [cv2.IMWRITE_WEBP_QUALITY, quality]  # without it OpenCV writes lossless WebP
    try:
        ok, buffer = cv2.imencode(fmt.extension, array, params)
    except cv2.error as error:
        reason = str(error).strip().splitlines()[-1]
        raise InputError(f"{target}: OpenCV cannot encode this image ({reason})") from None
    if not ok:
        raise InputError(f"{target}: OpenCV failed to encode the image as {fmt.extension}")
    return buffer.tobytes()


def _encode_png_grey_alpha(grey_alpha: np.ndarray) -> bytes:
    """A minimal PNG (colour type 4, filter 0) for the one layout OpenCV cannot write."""
    height, width, _ = grey_alpha.shape
    depth = 16 if grey_alpha.dtype == np.uint16 else 8
    rows = grey_alpha.astype(">u2" if depth == 16 else np.uint8).view(np.uint8).reshape(height, -1)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()
    ihdr = struct.pack(">IIBBBBB", width, height, depth, 4, 0, 0, 0)
    body = png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 6)) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def _write_atomic(target: Path, payload: bytes) -> None:
    """Atomic write (see ``vmambair_core.atomic``), with file-system errors worded for users."""
    try:
        atomic_write_bytes(target, payload)
    except OSError as error:
        raise VmambairError(f"{target}: cannot write ({error.strerror or error})") from None


# --------------------------------------------------------------------------- alpha


def resize_alpha(alpha: np.ndarray, size: tuple[int, int], *, method: AlphaResize = "cubic") -> np.ndarray:
    """Resize an (H, W) alpha plane to ``size`` = (height, width), clipped to [0, 1].

    Alpha is not fed to the network (it was never trained on masks); a plain interpolation keeps
    edges where they were. Bicubic overshoots at hard edges, hence the clip.
    """
    plane = np.asarray(alpha)
    if plane.ndim != 2 or 0 in plane.shape:
        raise InputError(f"alpha must be a non-empty (H, W) array, got shape {plane.shape}")
    height, width = size
    if height < 1 or width < 1:
        raise ConfigError(f"alpha target size must be positive, got {size}")
    interpolation = {"linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}.get(method)
    if interpolation is None:
        raise ConfigError(f"unknown alpha resize method {method!r}; use 'linear' or 'cubic'")
    resized = cv2.resize(plane.astype(np.float32), (int(width), int(height)), interpolation=interpolation)
    return np.clip(resized.reshape(height, width), 0.0, 1.0)
