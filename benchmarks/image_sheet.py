"""Image sheet for the model card: LQ (nearest x4), bicubic x4 and a network's x4 output side by side.

One row per image, a crop of ``--crop`` LQ pixels around each image's centre (or ``NAME@X,Y`` for the
crop's top-left corner), labelled columns, written as one PNG (``docs/`` in the issue's sheet):

    python benchmarks/image_sheet.py --weights realsr-lite -o docs/realsr_lite_sheet.png \
        ../shared/data/real_sr/RealSRSet/input/dog.png ../shared/data/real_sr/RealSRSet/input/chip.png@10,20 ...

The network runs through ``vmambair_core.weights.load_resolved`` (registry names, files, Hub refs, SHA-256
checked) on the CPU unless ``--device`` says otherwise.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
import torch

from vmambair_core.data.io import read_image
from vmambair_core.data.resize import imresize
from vmambair_core.metrics.color import to_uint8
from vmambair_core.weights import load_resolved

_LABEL_H = 28
_GAP = 4


def _crop(spec: str, size: int) -> tuple[str, np.ndarray]:
    path, _, at = spec.partition("@")
    img = to_uint8(read_image(path).rgb, 1.0)
    h, w = img.shape[:2]
    if min(h, w) < size:
        raise SystemExit(f"{path} is {w}x{h}, smaller than the {size}-px crop; pass a smaller --crop")
    if at:
        left, top = (int(v) for v in at.split(","))
    else:
        top, left = (h - size) // 2, (w - size) // 2
    return Path(path).stem, img[top : top + size, left : left + size]


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((_LABEL_H, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([bar, tile], axis=0)


def _hstack(tiles: list[np.ndarray]) -> np.ndarray:
    gap = np.full((tiles[0].shape[0], _GAP, 3), 255, np.uint8)
    out = [tiles[0]]
    for t in tiles[1:]:
        out += [gap, t]
    return np.concatenate(out, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="+", help="image files, optionally FILE@X,Y (top-left of the LQ crop)")
    ap.add_argument("--weights", "-w", required=True, help="registry name, file or Hub reference")
    ap.add_argument("--task", "-t", default="realsr")
    ap.add_argument("--crop", type=int, default=96, help="LQ crop side in pixels (a multiple of 8 is fastest)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("-o", "--output", type=Path, required=True)
    args = ap.parse_args()

    net, origin = load_resolved(args.task, args.weights, device=args.device)
    label = args.weights if "/" not in args.weights else Path(args.weights).stem
    rows = []
    for spec in args.images:
        name, lq = _crop(spec, args.crop)
        x = torch.from_numpy(np.ascontiguousarray(lq.transpose(2, 0, 1))).float()[None].to(args.device) / 255.0
        with torch.no_grad():
            y = net(x)[0].clamp(0, 1).permute(1, 2, 0).cpu().numpy()
        out = np.rint(y * 255.0).astype(np.uint8)
        nearest = cv2.resize(lq, (lq.shape[1] * 4, lq.shape[0] * 4), interpolation=cv2.INTER_NEAREST)
        tiles = [_label(nearest, f"{name}: input (x4 nearest)"), _label(imresize(lq, 4), "bicubic x4"),
                 _label(out, f"{label} x4")]
        rows.append(_hstack(tiles))
    gap = np.full((_GAP, rows[0].shape[1], 3), 255, np.uint8)
    sheet = np.concatenate([r for row in rows for r in (row, gap)][:-1], axis=0)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(args.output), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise SystemExit(f"cannot write {args.output}")
    print(f"wrote {args.output} ({sheet.shape[1]}x{sheet.shape[0]}) with weights {origin}")


if __name__ == "__main__":
    main()
