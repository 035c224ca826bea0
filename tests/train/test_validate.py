"""Training validation runs through the same Restorer as `restore` and `eval` (tiles after an out-of-memory)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.inference.test_engine import _Nearest4
from vmambair_core.metrics import psnr
from vmambair_core.train.validate import ValImage, run_validation


def test_validation_survives_an_out_of_memory_and_scores_like_restore() -> None:
    g = torch.Generator().manual_seed(0)
    lq = torch.rand(1, 3, 64, 48, generator=g)
    with torch.no_grad():
        ref = _Nearest4()(lq).clamp(0, 1)
    gt = np.rint(ref[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    gt[::7, ::5] = 255 - gt[::7, ::5]  # not a perfect score, so PSNR is finite
    item = ValImage("a", lq, gt)
    net = _Nearest4(oom_above=40 * 40)  # the whole image does not fit the (simulated) device
    net.train()
    values = run_validation(net, [item], device=torch.device("cpu"), dtype=torch.float32, crop_border=4)
    sr = np.rint(ref[0].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    # tiles agree with the whole image to ~1e-6 here (local net); 8-bit rounding may flip a pixel or two
    assert values["psnr"] == pytest.approx(psnr(sr, gt, crop_border=4), abs=0.01) and values["images"] == 1.0
    assert net.calls[0] == (1, 3, 64, 48) and len(net.calls) > 2  # whole image first, then tiles
    assert net.training  # the training mode is given back
