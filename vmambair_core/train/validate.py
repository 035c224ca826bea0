"""Validation during training: PSNR/SSIM (MATLAB Y, the task's crop border) on whole images.

The set is read once, on rank 0. Paired folders are used as they are (GT mod-cropped to
scale x LQ); for HR-only folders the LQ side is made deterministically: MATLAB bicubic for
sisr, the Real-ESRGAN pipeline (fixed seed per image) for realsr, synthetic rain for derain.
The network runs through the same :class:`~vmambair_core.inference.Restorer` as ``restore`` and
``eval`` (whole image padded to a multiple of 8, tiles after an out-of-memory), in the run's
precision, and its output is rounded to 8 bits before scoring, like a saved PNG.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from vmambair_core.data.degrade.realesrgan import degrade_realesrgan
from vmambair_core.data.io import read_image, write_image
from vmambair_core.data.degrade.rain import add_rain
from vmambair_core.data.resize import imresize, modcrop
from vmambair_core.device import precision_name
from vmambair_core.errors import InputError
from vmambair_core.inference import Restorer
from vmambair_core.metrics import psnr, ssim
from vmambair_core.train.batches import derive_seed, quantize8
from vmambair_core.train.config import TrainConfig
from vmambair_core.train.data import discover_dataset

_VAL_STREAM = 3


@dataclass(frozen=True)
class ValImage:
    name: str
    lq: Tensor  # (1, 3, h, w) float32 in [0, 1]
    gt: np.ndarray  # (H, W, 3) uint8


def _u8(rgb: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def _chw(img: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1), dtype=np.float32) / 255.0)[None]


def _synthesize(cfg: TrainConfig, gt: np.ndarray, index: int, name: str) -> np.ndarray:
    """LQ (uint8) of an HR-only validation image, the same at every validation."""
    if cfg.task == "sisr":
        return imresize(gt, 1.0 / cfg.scale)
    g = torch.Generator().manual_seed(derive_seed(_VAL_STREAM, cfg.seed, index))
    if cfg.task == "realsr":
        deg = cfg.degradation_config()
        if min(gt.shape[:2]) < deg.min_hr_size():
            raise InputError(f"validation image {name} is smaller than {deg.min_hr_size()} px; the degradation needs more")
        return _u8(degrade_realesrgan(_chw(gt), deg, g)[0].numpy().transpose(1, 2, 0))
    assert cfg.rain is not None
    return _u8(quantize8(add_rain(_chw(gt), cfg.rain, g)[0])[0].numpy().transpose(1, 2, 0))


def load_val_set(cfg: TrainConfig) -> list[ValImage]:
    """The validation images of ``cfg.val.root`` (up to ``val.max_images``), LQ ready as tensors."""
    assert cfg.val.root is not None
    layout = discover_dataset(cfg.val.root, scale=cfg.scale)
    count = len(layout) if cfg.val.max_images is None else min(len(layout), cfg.val.max_images)
    items: list[ValImage] = []
    for i in range(count):
        gt_path = layout.gt[i]
        gt = _u8(read_image(gt_path).rgb)
        if layout.lq is not None:
            lq = _u8(read_image(layout.lq[i]).rgb)
            h, w = lq.shape[0] * cfg.scale, lq.shape[1] * cfg.scale
            if gt.shape[0] < h or gt.shape[1] < w:
                raise InputError(f"validation pair {gt_path.name}: GT is smaller than {cfg.scale} x LQ")
            gt = gt[:h, :w]
        else:
            gt = modcrop(gt, cfg.scale)
            lq = _synthesize(cfg, gt, i, gt_path.name)
        items.append(ValImage(gt_path.stem, _chw(lq), gt))
    return items


def run_validation(
    net: nn.Module,
    images: list[ValImage],
    *,
    device: torch.device,
    dtype: torch.dtype,
    crop_border: int,
    sample_dir: Path | None = None,
    samples: int = 0,
) -> dict[str, float]:
    """Mean PSNR/SSIM over ``images``; the first ``samples`` outputs are written to ``sample_dir``."""
    was_training = net.training
    restorer = Restorer(net, device, precision=precision_name(dtype))  # puts net in eval mode
    scores: list[tuple[float, float]] = []
    try:
        for i, item in enumerate(images):
            sr = _u8(restorer(item.lq)[0].numpy().transpose(1, 2, 0))
            scores.append(
                (psnr(sr, item.gt, crop_border=crop_border), ssim(sr, item.gt, crop_border=crop_border))
            )
            if sample_dir is not None and i < samples:
                sample_dir.mkdir(parents=True, exist_ok=True)
                write_image(sample_dir / f"{item.name}.png", sr.astype(np.float32) / 255.0)
    finally:
        net.train(was_training)
    p, s = np.mean([a for a, _ in scores]), np.mean([b for _, b in scores])
    return {"psnr": float(p), "ssim": float(s), "images": float(len(scores))}
