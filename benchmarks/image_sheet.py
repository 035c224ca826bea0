"""Image sheet for the model card: any list of x4 methods side by side, with a 4x zoom of a flat area each.

One row per image: a crop of ``--crop`` LQ pixels (centred, or ``FILE@X,Y`` for its top-left corner), one
labelled column per method, and under each column a 4x nearest-neighbour zoom of the same 32x32 output
window, where periodic artefacts (a pixel-shuffle checkerboard, a grid) show. The window is the flattest
one of the bicubic output (least luma deviation, near-clipped windows avoided), or ``FILE#ZX,ZY`` for its
top-left corner in output pixels of the crop. Methods are ``bicubic`` (MATLAB bicubic x4), a registry name
(``realsr-lite``), a weights file (a VmambaIR export or an official Real-ESRGAN generator) or a Hub file,
each optionally ``=LABEL``; they run through the same predictors as ``vmambair eval``:

    OMP_NUM_THREADS=1 python benchmarks/image_sheet.py -o docs/realsr_lite_sheet.png \
        -m bicubic -m realsr-lite -m "../shared/peers/RealESRGAN_x4plus_fp16.pth=Real-ESRGAN x4plus" \
        --caption "..." ../shared/data/real_sr/RealSRSet/input/dog.png ../shared/data/real_sr/RealSRSet/input/chip.png@10,20
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vmambair_core.atomic import atomic_write_bytes
from vmambair_core.data.io import read_image
from vmambair_core.evaluate.predictors import BicubicPredictor, Predictor, load_network_predictor
from vmambair_core.metrics.color import rgb_to_y, to_uint8

SCALE = 4
ZOOM = 32  # side of the zoomed window, output pixels
ZOOM_FACTOR = 4
_LABEL_H = 24
_GAP = 4
_WHITE = 255


@dataclass(frozen=True)
class Method:
    """One column: what runs and the label over it."""

    label: str
    predictor: Predictor


@dataclass(frozen=True)
class Crop:
    """One row: an LQ crop and, if the caller gave one, the zoom window's top-left (x, y) in output pixels."""

    name: str
    lq: np.ndarray
    zoom_at: tuple[int, int] | None = None


def parse_method(spec: str, task: str, device: str) -> Method:
    """``bicubic`` | registry name | weights file | Hub file, optionally followed by ``=LABEL``."""
    what, _, label = spec.partition("=")
    if what == "bicubic":
        return Method(label or "bicubic x4", BicubicPredictor(SCALE))
    predictor = load_network_predictor(task, what, device=device, precision="fp32")
    if predictor.scale != SCALE:
        raise SystemExit(f"{what}: x{predictor.scale}, not an x{SCALE} method")
    return Method(label or Path(what).stem, predictor)  # a registry name, or the file's name


def _pair(text: str) -> tuple[int, int]:
    x, y = (int(v) for v in text.split(","))
    return x, y


def parse_crop(spec: str, size: int) -> Crop:
    """``FILE[@X,Y][#ZX,ZY]``: the LQ crop (centred without ``@``) and an optional zoom window."""
    rest, _, zoom = spec.partition("#")
    path, _, at = rest.partition("@")
    img = to_uint8(read_image(path).rgb, 1.0)
    h, w = img.shape[:2]
    if min(h, w) < size:
        raise SystemExit(f"{path} is {w}x{h}, smaller than the {size}-px crop; pass a smaller --crop")
    left, top = _pair(at) if at else ((w - size) // 2, (h - size) // 2)
    zoom_at = _pair(zoom) if zoom else None
    if zoom_at is not None and not (0 <= min(zoom_at) and max(zoom_at) + ZOOM <= size * SCALE):
        raise SystemExit(f"{spec}: the {ZOOM}-px zoom window must lie inside the {size * SCALE}-px output")
    return Crop(Path(path).stem, img[top : top + size, left : left + size], zoom_at)


def flattest_window(rgb: np.ndarray, size: int = ZOOM, stride: int = 4) -> tuple[int, int]:
    """Top-left (x, y) of the ``size`` x ``size`` window of ``rgb`` (uint8) with the least luma deviation.

    Windows where over a quarter of the pixels are clipped (a channel at 0 or 255) are skipped while
    others exist: clipping would hide the very patterns the zoom is there to show.
    """
    y = rgb_to_y(rgb)
    clipped = ((rgb == 0) | (rgb == 255)).any(axis=2)
    h, w = y.shape
    if min(h, w) < size:
        raise ValueError(f"image {w}x{h} is smaller than the {size}-px window")
    scores = [
        (bool(clipped[t : t + size, x : x + size].mean() > 0.25), float(y[t : t + size, x : x + size].std()), t, x)
        for t in range(0, h - size + 1, stride) for x in range(0, w - size + 1, stride)
    ]
    _, _, top, left = min(scores)
    return left, top


def _text_bar(width: int, text: str, height: int = _LABEL_H, scale: float = 0.5) -> np.ndarray:
    bar = np.full((height, width, 3), _WHITE, np.uint8)
    cv2.putText(bar, text, (4, height - 8), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return bar


def _pad_to(tile: np.ndarray, width: int) -> np.ndarray:
    """Centre ``tile`` on a white strip ``width`` wide."""
    extra = width - tile.shape[1]
    left = np.full((tile.shape[0], extra // 2, 3), _WHITE, np.uint8)
    right = np.full((tile.shape[0], extra - extra // 2, 3), _WHITE, np.uint8)
    return np.concatenate([left, tile, right], axis=1)


def _stack(tiles: list[np.ndarray], axis: int) -> np.ndarray:
    shape = list(tiles[0].shape)
    shape[axis] = _GAP
    gap = np.full(shape, _WHITE, np.uint8)
    return np.concatenate([part for t in tiles for part in (t, gap)][:-1], axis=axis)


def zoom(out: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    """The window at ``at`` (x, y) of ``out``, enlarged ``ZOOM_FACTOR`` times by nearest neighbour."""
    x, y = at
    return np.repeat(np.repeat(out[y : y + ZOOM, x : x + ZOOM], ZOOM_FACTOR, 0), ZOOM_FACTOR, 1)


def row(crop: Crop, methods: list[Method]) -> tuple[np.ndarray, tuple[int, int]]:
    """One image's columns (label, x4 output, zoom label, zoom), and the zoom window used."""
    at = crop.zoom_at or flattest_window(BicubicPredictor(SCALE)(crop.lq))
    columns = []
    for m in methods:
        out = m.predictor(crop.lq)
        out = to_uint8(out, None if out.dtype == np.uint8 else 1.0)
        width = max(out.shape[1], ZOOM * ZOOM_FACTOR)
        columns.append(np.concatenate([
            _text_bar(width, f"{crop.name}: {m.label}"), _pad_to(out, width),
            _text_bar(width, f"{ZOOM_FACTOR}x zoom of ({at[0]},{at[1]})", scale=0.4), _pad_to(zoom(out, at), width),
        ], axis=0))
    return _stack(columns, axis=1), at


def sheet(crops: list[Crop], methods: list[Method], caption: list[str]) -> np.ndarray:
    """All rows, then the caption lines, as one RGB image."""
    rows = [row(c, methods)[0] for c in crops]
    body = _stack(rows, axis=0)
    lines = [_text_bar(body.shape[1], line, height=20, scale=0.45) for line in caption]
    gap = np.full((2 * _GAP, body.shape[1], 3), _WHITE, np.uint8)
    return np.concatenate([body, gap, *lines], axis=0) if lines else body


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("images", nargs="+", help="image files: FILE[@X,Y][#ZX,ZY] (crop top-left in LQ pixels, "
                                              "zoom window top-left in output pixels)")
    ap.add_argument("--method", "-m", action="append", required=True,
                    help="bicubic, a registry name, a weights file or a Hub file, optionally =LABEL; repeat for each column")
    ap.add_argument("--task", "-t", default="realsr", help="task of the network methods (x4: realsr or sisr)")
    ap.add_argument("--crop", type=int, default=64, help="LQ crop side in pixels (a multiple of 8 is fastest)")
    ap.add_argument("--caption", action="append", default=[], help="a caption line under the sheet (repeatable)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()

    methods = [parse_method(spec, args.task, args.device) for spec in args.method]
    crops = [parse_crop(spec, args.crop) for spec in args.images]
    img = sheet(crops, methods, args.caption)
    ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not ok:
        raise SystemExit(f"cannot encode {args.output}")
    atomic_write_bytes(args.output, png.tobytes())
    print(f"wrote {args.output} ({img.shape[1]}x{img.shape[0]}, {len(png) / 1e6:.2f} MB): "
          + " | ".join(m.label for m in methods))


if __name__ == "__main__":
    main()
