"""ICC colour profiles: read from the source file's container, written into the output's.

Phone photos carry a profile (Display P3 on iPhones); OpenCV decodes the pixels and drops it, so an
untagged output looks desaturated on colour-managed screens. The network maps pixel values to pixel
values in the source's colour space, so the right tag for the output is the source's profile, bytes
unchanged. This module moves those bytes between containers without decoding anything:

* read: PNG ``iCCP``, JPEG ``APP2 ICC_PROFILE`` segments (multi-part), WebP ``ICCP``, TIFF tag 34675;
* write: the same places, into the bytes OpenCV (or :mod:`.io`) encoded. BMP cannot carry one here.

A profile whose colour space does not fit the written channels (an RGB profile on a grey PNG, a grey
profile on a WebP, which has no grey mode) is left out: a wrong tag is worse than none. A damaged
profile is ignored when reading: the pixels are still good.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

ICC_TAG_TIFF = 34675
_JPEG_ICC = b"ICC_PROFILE\x00"
_JPEG_PART = 65535 - 2 - len(_JPEG_ICC) - 2  # segment length field, header, sequence bytes


def read_icc(data: bytes, kind: str) -> bytes | None:
    """The ICC profile embedded in an encoded image (``kind``: png, jpeg, webp, tiff), else None."""
    readers = {"png": _png_icc, "jpeg": _jpeg_icc, "webp": _webp_icc, "tiff": _tiff_icc}
    reader = readers.get(kind)
    if reader is None:
        return None
    try:
        profile = reader(data)
    except (struct.error, IndexError, ValueError, zlib.error):
        return None
    return profile if profile and len(profile) >= 128 else None  # 128: the ICC header


def profile_space(profile: bytes) -> str:
    """The profile's data colour space from its header (``RGB``, ``GRAY``, ``CMYK`` ...)."""
    return profile[16:20].decode("ascii", "replace").strip()


def embed_icc(encoded: bytes, extension: str, profile: bytes, channels: int) -> bytes:
    """``encoded`` (a .png/.jpg/.webp/.tiff file's bytes) with ``profile`` added where it fits.

    ``channels``: colour channels actually stored (1 grey, 3 colour); a profile of another colour
    space, or a format without a place for one, leaves ``encoded`` unchanged.
    """
    if profile_space(profile) != ("GRAY" if channels == 1 else "RGB"):
        return encoded
    writers = {".png": _png_embed, ".jpg": _jpeg_embed, ".webp": _webp_embed, ".tiff": _tiff_embed}
    writer = writers.get(extension)
    return encoded if writer is None else writer(encoded, profile)


# --------------------------------------------------------------------------- PNG


def png_chunk(tag: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, tag, body, CRC."""
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))


def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes, int, int]]:
    """(tag, body, start, end) of each chunk."""
    i = 8
    while i + 8 <= len(data):
        (length,) = struct.unpack_from(">I", data, i)
        tag = data[i + 4 : i + 8]
        yield tag, data[i + 8 : i + 8 + length], i, i + 12 + length
        if tag == b"IEND":
            return
        i += 12 + length


def _png_icc(data: bytes) -> bytes | None:
    for tag, body, _, _ in png_chunks(data):
        if tag == b"iCCP":
            name_end = body.index(b"\x00")
            if body[name_end + 1] != 0:  # compression method 0 (zlib) is the only one defined
                return None
            return zlib.decompress(body[name_end + 2 :])
        if tag == b"IDAT":
            return None
    return None


def _png_embed(data: bytes, profile: bytes) -> bytes:
    """iCCP goes right after IHDR (it must precede PLTE and IDAT); an sRGB chunk would contradict it."""
    kept = [data[:8]]
    for tag, body, start, end in png_chunks(data):
        if tag in (b"iCCP", b"sRGB"):
            continue
        kept.append(data[start:end])
        if tag == b"IHDR":
            kept.append(png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(profile, 9)))
    return b"".join(kept)


# --------------------------------------------------------------------------- JPEG


def jpeg_segments(data: bytes) -> Iterator[tuple[int, bytes, int, int]]:
    """(marker, body, start, end) of each segment up to the scan."""
    i = 2
    while i + 4 <= len(data) and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:
            i += 1
            continue
        if marker == 0xDA or marker == 0xD9:
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack_from(">H", data, i + 2)
        yield marker, data[i + 4 : i + 2 + length], i, i + 2 + length
        i += 2 + length


def _jpeg_icc(data: bytes) -> bytes | None:
    parts = {}
    for marker, body, _, _ in jpeg_segments(data):
        if marker == 0xE2 and body.startswith(_JPEG_ICC):
            parts[body[len(_JPEG_ICC)]] = body[len(_JPEG_ICC) + 2 :]
    return b"".join(parts[k] for k in sorted(parts)) if parts else None


def _jpeg_embed(data: bytes, profile: bytes) -> bytes:
    """APP2 ``ICC_PROFILE`` segments after SOI and any APP0 (JFIF must stay first)."""
    at = 2
    for marker, _, _, end in jpeg_segments(data):
        if marker != 0xE0:
            break
        at = end
    pieces = [profile[k : k + _JPEG_PART] for k in range(0, len(profile), _JPEG_PART)]
    if len(pieces) > 255:
        return data  # more than 16 MB of profile: not a real one
    segments = b"".join(
        b"\xff\xe2" + struct.pack(">H", 2 + len(_JPEG_ICC) + 2 + len(p)) + _JPEG_ICC + bytes([k + 1, len(pieces)]) + p
        for k, p in enumerate(pieces)
    )
    return data[:at] + segments + data[at:]


# --------------------------------------------------------------------------- WebP


def riff_chunks(data: bytes) -> Iterator[tuple[bytes, bytes, int, int]]:
    """(fourcc, payload, start, end) of each chunk."""
    i = 12
    while i + 8 <= len(data):
        fourcc = data[i : i + 4]
        (size,) = struct.unpack_from("<I", data, i + 4)
        end = i + 8 + size + (size & 1)
        yield fourcc, data[i + 8 : i + 8 + size], i, end
        i = end


def _riff_chunk(fourcc: bytes, payload: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")


def _webp_icc(data: bytes) -> bytes | None:
    return next((payload for fourcc, payload, _, _ in riff_chunks(data) if fourcc == b"ICCP"), None)


def _webp_embed(data: bytes, profile: bytes) -> bytes:
    """Extended format: VP8X (ICC flag set) first, ICCP right after it, then the image chunks."""
    extended = webp_extended(data, 0x20, drop=b"ICCP")
    if extended is None:
        return data
    header, rest = extended
    return webp_file([(b"VP8X", header), (b"ICCP", profile), *rest])


def webp_extended(data: bytes, flag: int, *, drop: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]] | None:
    """A WebP file as (VP8X payload with ``flag`` set, the other chunks without ``drop`` ones), making the
    VP8X header of a simple (VP8/VP8L) file; None if the bytes are no WebP this can extend."""
    chunks = [(fourcc, payload) for fourcc, payload, _, _ in riff_chunks(data) if fourcc != drop]
    if not chunks:
        return None
    first, payload = chunks[0]
    if first == b"VP8X":
        header = bytearray(payload)
        header[0] |= flag
        return bytes(header), chunks[1:]
    if first == b"VP8L":
        (bits,) = struct.unpack_from("<I", payload, 1)
        width, height, alpha = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool(bits >> 28 & 1)
    elif first == b"VP8 ":
        width, height = struct.unpack_from("<HH", payload, 6)
        width, height, alpha = width & 0x3FFF, height & 0x3FFF, False
    else:
        return None
    flags = flag | (0x10 if alpha else 0)
    header = bytearray([flags, 0, 0, 0]) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return bytes(header), chunks


def webp_file(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A RIFF/WEBP file of ``chunks`` (fourcc, payload), in that order."""
    body = b"WEBP" + b"".join(_riff_chunk(fourcc, payload) for fourcc, payload in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


# --------------------------------------------------------------------------- TIFF


def tiff_ifd(data: bytes) -> tuple[str, int, list[bytes], int]:
    """(byte order, first IFD offset, its 12-byte entries, next-IFD offset) of a classic TIFF."""
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, ifd)
    entries = [data[ifd + 2 + 12 * k : ifd + 14 + 12 * k] for k in range(count)]
    (next_ifd,) = struct.unpack_from(order + "I", data, ifd + 2 + 12 * count)
    return order, ifd, entries, next_ifd


def _tiff_icc(data: bytes) -> bytes | None:
    order, _, entries, _ = tiff_ifd(data)
    for entry in entries:
        tag, _, count, offset = struct.unpack(order + "HHII", entry)
        if tag == ICC_TAG_TIFF:
            return data[offset : offset + count] if count > 4 else entry[8 : 8 + count]
    return None


def _tiff_embed(data: bytes, profile: bytes) -> bytes:
    """Append the profile and a copy of the first IFD with tag 34675 added; point the header at it.

    Values the old IFD points to stay where they are (only bytes are appended), so its entries are
    copied unchanged; entries stay sorted by tag, and offsets word-aligned, as TIFF requires.
    """
    if data[2:4] not in (b"*\x00", b"\x00*"):
        return data  # BigTIFF or not a TIFF
    order, _, entries, next_ifd = tiff_ifd(data)
    entries = [e for e in entries if struct.unpack(order + "H", e[:2])[0] != ICC_TAG_TIFF]
    out = bytearray(data)
    if len(out) & 1:
        out += b"\x00"
    profile_at = len(out)
    out += profile
    if len(out) & 1:
        out += b"\x00"
    entries.append(struct.pack(order + "HHII", ICC_TAG_TIFF, 7, len(profile), profile_at))  # 7: UNDEFINED
    return with_first_ifd(out, order, entries, next_ifd)


def with_first_ifd(out: bytearray, order: str, entries: list[bytes], next_ifd: int) -> bytes:
    """``out`` (a TIFF with values already appended) plus a new first IFD of ``entries``, the header pointed
    at it. Sorted by tag and word-aligned, as TIFF requires; the old IFD stays, unreferenced."""
    entries = sorted(entries, key=lambda e: struct.unpack(order + "H", e[:2])[0])
    if len(out) & 1:
        out += b"\x00"
    ifd_at = len(out)
    out += struct.pack(order + "H", len(entries)) + b"".join(entries) + struct.pack(order + "I", next_ifd)
    out[4:8] = struct.pack(order + "I", ifd_at)
    return bytes(out)
