"""EXIF metadata (camera, date, exposure...): read from the source file's container, written into the output's.

OpenCV decodes pixels and drops EXIF, so a restored photo lost its camera, date and exposure tags.
The EXIF block is a small TIFF-structured byte string; it moves between containers unchanged, except
for the orientation tag: where the reader applied the orientation to the pixels (JPEG), the tag is
reset to 1 so that viewers do not rotate the output a second time.

* read: JPEG ``APP1 Exif``, PNG ``eXIf``, WebP ``EXIF``; a TIFF file *is* TIFF-structured, so its
  descriptive first-IFD tags (camera, date, author, orientation, resolution) and its Exif/GPS sub-IFDs are
  copied into a new block;
* write: the same places in JPEG, PNG and WebP outputs; into a TIFF output's first IFD, the block's
  descriptive tags and sub-IFDs are added (tags the encoder already wrote win; BMP outputs get none).

Moving tags between TIFF structures relocates their values (offsets are relative to the TIFF header), so
a maker note, whose private offsets cannot be known, may not survive a TIFF input or output intact; the
JPEG/PNG/WebP path moves the block byte for byte. A damaged block is ignored when reading: the pixels
are still good.
"""

from __future__ import annotations

import struct

from vmambair_core.data.icc import (
    jpeg_segments, png_chunk, png_chunks, riff_chunks, tiff_ifd, webp_extended, webp_file, with_first_ifd,
)

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
        elif kind == "tiff":
            block = _exif_from_tiff(data)
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
    """``encoded`` (a .png/.jpg/.webp/.tiff file's bytes) with the EXIF block added; other formats unchanged."""
    if extension == ".tiff":
        try:
            return _tiff_with_exif(encoded, exif)
        except (struct.error, IndexError, ValueError, RecursionError):
            return encoded  # a damaged block: the image itself is still good
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


# --------------------------------------------------------------------------- TIFF <-> EXIF block

# First-IFD tags that describe the photo rather than the pixel layout: carried between a TIFF and an EXIF
# block. Structure tags (size, strips, compression, samples, ICC...) always come from the encoder.
_DESCRIPTIVE = frozenset({
    0x010E, 0x010F, 0x0110, _ORIENTATION, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x013B, 0x013C, 0x8298,
})
_SUB_IFDS = frozenset({0x8769, 0x8825, 0xA005})  # Exif, GPS, Interoperability: offsets to nested IFDs
_LONG = 4
# type -> (bytes per value, struct code of one component, components per value)
_TYPES = {1: (1, "B", 1), 2: (1, "B", 1), 3: (2, "H", 1), 4: (4, "I", 1), 5: (8, "I", 2), 6: (1, "b", 1),
          7: (1, "B", 1), 8: (2, "h", 1), 9: (4, "i", 1), 10: (8, "i", 2), 11: (4, "f", 1), 12: (8, "d", 1),
          13: (4, "I", 1)}
_Entry = tuple[int, int, int, bytes]  # tag, type, count, value bytes in the source byte order


def _order(data: bytes) -> str:
    if data[:4] not in (b"II*\x00", b"MM\x00*"):
        raise ValueError("not a classic TIFF structure")
    return "<" if data[:2] == b"II" else ">"


def _ifd_entries(data: bytes, order: str, at: int) -> list[_Entry]:
    """The entries of the IFD at ``at``, each with its value bytes (inline or out of line)."""
    (count,) = struct.unpack_from(order + "H", data, at)
    entries = []
    for k in range(count):
        tag, kind, n, offset = struct.unpack_from(order + "HHII", data, at + 2 + 12 * k)
        if kind not in _TYPES:
            continue  # an unknown type cannot be relocated safely
        size = _TYPES[kind][0] * n
        start = at + 2 + 12 * k + 8 if size <= 4 else offset
        value = data[start : start + size]
        if len(value) != size:
            raise ValueError("IFD value outside the file")
        entries.append((tag, kind, n, value))
    return entries


def _recode(value: bytes, kind: int, count: int, src: str, dst: str) -> bytes:
    """``value`` from byte order ``src`` to ``dst`` (numbers swapped component by component)."""
    _, code, parts = _TYPES[kind]
    if src == dst or struct.calcsize(code) == 1:
        return value
    return struct.pack(f"{dst}{count * parts}{code}", *struct.unpack(f"{src}{count * parts}{code}", value))


def _append_ifd(out: bytearray, order: str, entries: list[_Entry], src: bytes, src_order: str,
                depth: int = 0) -> int:
    """Append ``entries`` (read from ``src``) to ``out`` as one IFD in ``order``, values and nested
    IFDs first; return the IFD's offset. Entries are sorted by tag and offsets word-aligned, as TIFF asks."""
    if depth > 4:
        raise ValueError("IFDs nested too deeply")
    packed = []
    for tag, kind, n, value in sorted(entries, key=lambda e: e[0]):
        if tag in _SUB_IFDS:
            (at,) = struct.unpack(src_order + "I", value[:4])
            child = _append_ifd(out, order, _ifd_entries(src, src_order, at), src, src_order, depth + 1)
            packed.append(struct.pack(order + "HHII", tag, _LONG, 1, child))
            continue
        value = _recode(value, kind, n, src_order, order)
        if len(value) <= 4:
            packed.append(struct.pack(order + "HHI", tag, kind, n) + value.ljust(4, b"\x00"))
        else:
            if len(out) & 1:
                out += b"\x00"
            packed.append(struct.pack(order + "HHII", tag, kind, n, len(out)))
            out += value
    if len(out) & 1:
        out += b"\x00"
    at = len(out)
    out += struct.pack(order + "H", len(packed)) + b"".join(packed) + struct.pack(order + "I", 0)
    return at


def _exif_from_tiff(data: bytes) -> bytes | None:
    """A new EXIF block holding a TIFF file's descriptive first-IFD tags and sub-IFDs (None if it has none)."""
    order = _order(data)
    (first,) = struct.unpack_from(order + "I", data, 4)
    keep = [e for e in _ifd_entries(data, order, first) if e[0] in _DESCRIPTIVE or e[0] in _SUB_IFDS]
    if not any(e[0] not in (0x011A, 0x011B, 0x0128) for e in keep):
        return None  # resolution alone is the encoder's, not the photo's
    out = bytearray(data[:4] + b"\x00\x00\x00\x00")
    out[4:8] = struct.pack(order + "I", _append_ifd(out, order, keep, data, order))
    return bytes(out)


def _tiff_with_exif(encoded: bytes, exif: bytes) -> bytes:
    """A TIFF output with the block's descriptive tags and sub-IFDs added to its first IFD.

    Only bytes are appended and the header is pointed at a new first IFD (as the ICC writer does), so
    every value the encoder's IFD points to stays valid.
    """
    _order(encoded)  # a classic TIFF, or ValueError
    order, _, own, next_ifd = tiff_ifd(encoded)
    src_order = _order(exif)
    present = {struct.unpack(order + "H", e[:2])[0] for e in own}
    (exif_first,) = struct.unpack_from(src_order + "I", exif, 4)
    added = [e for e in _ifd_entries(exif, src_order, exif_first)
             if (e[0] in _DESCRIPTIVE or e[0] in _SUB_IFDS) and e[0] not in present]
    if not added:
        return encoded
    out = bytearray(encoded)
    # The added entries are laid out as a scratch IFD (values and sub-IFDs land in ``out``), then merged.
    scratch = _append_ifd(out, order, added, exif, src_order)
    merged = own + [bytes(out[scratch + 2 + 12 * k : scratch + 14 + 12 * k]) for k in range(len(added))]
    return with_first_ifd(out, order, merged, next_ifd)
