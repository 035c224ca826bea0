"""EXIF metadata (camera, date, exposure...): read from the source file's container, written into the output's.

OpenCV decodes pixels and drops EXIF, so a restored photo lost its camera, date and exposure tags.
The EXIF block is a small TIFF-structured byte string; it moves between containers unchanged, except
for the orientation tag: where the reader applied the orientation to the pixels (JPEG), the tag is
reset to 1 so that viewers do not rotate the output a second time.

* read: JPEG ``APP1 Exif``, PNG ``eXIf``, WebP ``EXIF`` (TIFF inputs: not read);
* write: the same places in JPEG, PNG and WebP outputs (TIFF and BMP outputs get none).

A damaged block is ignored when reading: the pixels are still good.
"""

from __future__ import annotations

import struct

from vmambair_core.data.icc import jpeg_segments, png_chunk, png_chunks, riff_chunks, webp_extended, webp_file

_JPEG_EXIF = b"Exif\x00\x00"
_ORIENTATION = 0x0112


def read_exif(data: bytes, kind: str) -> bytes | None:
    """The EXIF block (TIFF-structured, without the ``Exif\\0\\0`` prefix) of an encoded image, else None."""
    try:
        if kind == "jpeg":
            block = next((body[6:] for marker, body, _, _ in jpeg_segments(data)
                          if marker == 0xE1 and body.startswith(_JPEG_EXIF)), None)
        elif kind == "png":
            block = next((body for tag, body, _, _ in png_chunks(data) if tag == b"eXIf"), None)
        elif kind == "webp":
            block = next((p for fourcc, p, _, _ in riff_chunks(data) if fourcc == b"EXIF"), None)
            block = block[6:] if block is not None and block.startswith(_JPEG_EXIF) else block
        else:
            block = None
    except (struct.error, IndexError, ValueError):
        return None
    return block if block and block[:4] in (b"II*\x00", b"MM\x00*") else None


def orientation(exif: bytes) -> int | None:
    """The orientation tag (1-8) of IFD0, or None."""
    found = _orientation_entry(exif)
    return None if found is None else found[1]


def reset_orientation(exif: bytes) -> bytes:
    """``exif`` with its orientation tag set to 1 (upright), for pixels the orientation was applied to."""
    found = _orientation_entry(exif)
    if found is None:
        return exif
    at, _ = found
    order = "<" if exif[:2] == b"II" else ">"
    return exif[:at] + struct.pack(order + "H", 1) + exif[at + 2:]


def _orientation_entry(exif: bytes) -> tuple[int, int] | None:
    """(offset of the orientation value, value) in IFD0, or None."""
    try:
        order = "<" if exif[:2] == b"II" else ">"
        (ifd,) = struct.unpack_from(order + "I", exif, 4)
        (count,) = struct.unpack_from(order + "H", exif, ifd)
        for k in range(count):
            entry = ifd + 2 + 12 * k
            tag, kind = struct.unpack_from(order + "HH", exif, entry)
            if tag == _ORIENTATION and kind == 3:  # SHORT, stored in the entry itself
                return entry + 8, struct.unpack_from(order + "H", exif, entry + 8)[0]
    except struct.error:
        return None
    return None


def embed_exif(encoded: bytes, extension: str, exif: bytes) -> bytes:
    """``encoded`` (a .png/.jpg/.webp file's bytes) with the EXIF block added; other formats unchanged."""
    if extension == ".jpg":
        at = 2  # after SOI and any APP0 (JFIF must stay first)
        for marker, _, _, end in jpeg_segments(encoded):
            if marker != 0xE0:
                break
            at = end
        body = _JPEG_EXIF + exif
        if len(body) + 2 > 0xFFFF:
            return encoded  # larger than one segment can hold: not a camera's block
        return encoded[:at] + b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body + encoded[at:]
    if extension == ".png":
        kept, placed = [encoded[:8]], False
        for tag, _, start, end in png_chunks(encoded):
            if tag == b"eXIf":
                continue
            if tag == b"IDAT" and not placed:  # eXIf must come before the image data
                kept.append(png_chunk(b"eXIf", exif))
                placed = True
            kept.append(encoded[start:end])
        return b"".join(kept)
    if extension == ".webp":
        extended = webp_extended(encoded, 0x08, drop=b"EXIF")
        if extended is None:
            return encoded
        header, rest = extended
        return webp_file([(b"VP8X", header), *rest, (b"EXIF", exif)])
    return encoded
