"""Image-quality metrics with the conventions SR and deraining papers use.

PSNR/SSIM are pure functions on numpy images (uint8, or float with an explicit range),
scored on MATLAB BT.601 luma or RGB, with a border crop; NIQE is a no-reference pure function
(lower is better) with the pristine model shipped in ``data/``, beside the fixed-pattern amplitude
(a no-reference measure of an x``s`` output's period-``s`` grid); LPIPS is a small torch module whose
weights come from local files only.
"""

from vmambair_core.metrics.color import YMode, rgb2ycbcr, rgb_to_y, to_uint8
from vmambair_core.metrics.lpips import (
    LPIPS,
    LPIPS_VERSION,
    LpipsNet,
    find_backbone_weights,
    find_head_weights,
    load_lpips,
    lpips_distance,
)
from vmambair_core.metrics.niqe import NiqeModel, load_niqe_model, niqe_score, niqe_score_y
from vmambair_core.metrics.pattern import PATTERN_SIGMA, fixed_pattern_amplitude, phase_means
from vmambair_core.metrics.psnr_ssim import Channel, psnr, ssim

__all__ = [
    "LPIPS",
    "LPIPS_VERSION",
    "Channel",
    "LpipsNet",
    "NiqeModel",
    "PATTERN_SIGMA",
    "YMode",
    "find_backbone_weights",
    "fixed_pattern_amplitude",
    "find_head_weights",
    "load_lpips",
    "load_niqe_model",
    "lpips_distance",
    "niqe_score",
    "niqe_score_y",
    "phase_means",
    "psnr",
    "rgb2ycbcr",
    "rgb_to_y",
    "ssim",
    "to_uint8",
]
