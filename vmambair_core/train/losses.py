"""Training losses of the authors' recipes (BasicSR semantics, ``docs/architecture.md`` §7).

* ``L1Loss``: ``weight * mean |pred - target|`` (every stage).
* ``PerceptualLoss``: VGG19 features before ReLU at conv1_2, conv2_2, conv3_4, conv4_4, conv5_4
  with weights 0.1, 0.1, 1, 1, 1, L1 per layer (mean), summed, times 1.0; no style term.
* ``GANLoss``: vanilla GAN, BCE-with-logits against 1 (real) / 0 (fake); the weight applies
  to the generator's term only, the discriminator's is unweighted.

Not in the authors' recipes, for training where no VGG19 file can be had and against GAN grids:

* ``FeatureMatchingLoss``: L1 between the discriminator's activations of the output and of the
  ground truth, mean over layers (pix2pixHD); a perceptual term that needs no pretrained network.
* ``PeriodicPatternLoss``: the mean absolute deviation of the ``s x s`` sub-pixel phase means of
  the high-passed residual ``out - gt``; a pixel-shuffle x``s`` tail under a GAN loss tends to
  grow exactly this fixed pattern (a checkerboard of period ``s``), which L1 barely sees.
* ``usm_sharpen``: Real-ESRGAN's unsharp-masked GT for the pixel and perceptual terms.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vmambair_core.errors import ConfigError, InputError
from vmambair_core.metrics.pattern import PATTERN_SIGMA, period_means
from vmambair_core.train.vgg import VGG19FeatureExtractor

Reduction = Literal["mean", "sum"]

#: The authors' perceptual layer weights (realsr and sisr GAN stages).
PERCEPTUAL_LAYER_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}
)


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if pred.shape != target.shape:
        raise InputError(f"prediction {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")


class L1Loss(nn.Module):
    """Mean absolute error times ``weight`` (BasicSR ``L1Loss``, reduction 'mean' by default)."""

    def __init__(self, weight: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ConfigError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.weight = float(weight)
        self.reduction: Reduction = reduction

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        _check_pair(pred, target)
        return self.weight * F.l1_loss(pred, target, reduction=self.reduction)


class PerceptualLoss(nn.Module):
    """Weighted sum of per-layer L1 distances between frozen VGG19 features of pred and target.

    The target's features are computed on ``target.detach()``; gradients reach ``pred`` only.
    ``weights`` is the VGG19 file (or ``$VMAMBAIR_VGG19_WEIGHTS``); ``extractor`` replaces it
    by a ready network (tests, or sharing one VGG between losses).
    """

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        *,
        layer_weights: Mapping[str, float] = PERCEPTUAL_LAYER_WEIGHTS,
        weight: float = 1.0,
        extractor: VGG19FeatureExtractor | None = None,
    ) -> None:
        super().__init__()
        if not layer_weights:
            raise ConfigError("layer_weights must name at least one VGG19 layer")
        self.layer_weights = dict(layer_weights)
        self.weight = float(weight)
        if extractor is None:
            extractor = VGG19FeatureExtractor(self.layer_weights, weights)
        missing = set(self.layer_weights) - set(extractor.layers)
        if missing:
            raise ConfigError(f"the extractor does not return layers {sorted(missing)}")
        self.vgg = extractor

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        _check_pair(pred, target)
        pred_features = self.vgg(pred)
        target_features = self.vgg(target.detach())
        total = pred.new_zeros(())
        for name, w in self.layer_weights.items():
            total = total + w * F.l1_loss(pred_features[name], target_features[name])
        return self.weight * total


class GANLoss(nn.Module):
    """Vanilla GAN loss on discriminator logits: BCE against 1 for real, 0 for fake.

    ``forward(logits, target_is_real, is_disc)``: the generator's term is multiplied by
    ``weight`` (1.0 in VmambaIR, 0.1 in Real-ESRGAN); the discriminator's never is.
    """

    def __init__(self, weight: float = 1.0, real_label: float = 1.0, fake_label: float = 0.0) -> None:
        super().__init__()
        self.weight = float(weight)
        self.real_label = float(real_label)
        self.fake_label = float(fake_label)

    def forward(self, logits: Tensor, target_is_real: bool, is_disc: bool = False) -> Tensor:
        label = self.real_label if target_is_real else self.fake_label
        loss = F.binary_cross_entropy_with_logits(logits, logits.new_full(logits.shape, label))
        return loss if is_disc else self.weight * loss


class FeatureMatchingLoss(nn.Module):
    """``weight * mean_k L1(fake_k, real_k)`` over discriminator activations; ``real`` is detached."""

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = float(weight)

    def forward(self, fake: list[Tensor], real: list[Tensor]) -> Tensor:
        if len(fake) != len(real) or not fake:
            raise InputError(f"feature matching needs two equal, non-empty lists, got {len(fake)} and {len(real)}")
        total = sum((F.l1_loss(f.float(), r.detach().float()) for f, r in zip(fake, real)), fake[0].new_zeros(()))
        return self.weight * total / len(fake)


def _gaussian_blur(x: Tensor, sigma: float, radius: int | None = None) -> Tensor:
    """Separable Gaussian blur per channel, reflect-padded (radius 3 sigma unless given).

    Not ``data.degrade.kernels.filter2d``: that one correlates each image with its own 2-D kernel and
    refuses kernels wider than the image, where this one is separable (``usm_sharpen``'s 101 taps per
    axis, not 101 x 101) and cuts the kernel to what a small patch can reflect-pad.
    """
    radius = max(1, int(3 * sigma + 0.5)) if radius is None else radius
    t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    pad = min(radius, x.shape[-1] - 1, x.shape[-2] - 1)
    if pad < radius:  # tiny inputs: cut the kernel to what reflect padding allows
        k = k[radius - pad : radius + pad + 1] / k[radius - pad : radius + pad + 1].sum()
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, k.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def phase_deviation(x: Tensor, scale: int, sigma: float = PATTERN_SIGMA) -> Tensor:
    """(B, C, s, s): each sub-pixel phase's mean of the high-passed ``x`` minus the mean over phases.

    The fixed-pattern metric's idea (``metrics.pattern``, sharing its ``period_means``) in torch, so a
    loss can push on it: pixel (i, j) belongs to phase (i mod s, j mod s); H and W are cut to multiples
    of ``s``. The high-pass here truncates its Gaussian at 3 sigma (OpenCV's, in the metric, at 4), so
    the two agree to a small fraction of the pattern, not bit for bit.
    """
    phases = period_means(x - _gaussian_blur(x, sigma), scale)
    return phases - phases.mean(dim=(2, 3), keepdim=True)


class PeriodicPatternLoss(nn.Module):
    """``weight * mean |phase_deviation(out - gt)|``: zero when the output adds no period-``s`` pattern."""

    def __init__(self, scale: int, weight: float = 1.0, sigma: float = PATTERN_SIGMA) -> None:
        super().__init__()
        if scale < 2:
            raise ConfigError(f"a periodic-pattern penalty needs a scale of at least 2, got {scale}")
        self.scale, self.weight, self.sigma = int(scale), float(weight), float(sigma)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        _check_pair(pred, target)
        residual = pred.float() - target.detach().float()
        return self.weight * phase_deviation(residual, self.scale, self.sigma).abs().mean()


def usm_sharpen(img: Tensor, weight: float = 0.5, threshold: float = 10.0, radius: int = 50) -> Tensor:
    """Real-ESRGAN's ``USMSharp``: ``img + weight * (img - blur)`` where the residual exceeds
    ``threshold`` grey levels, blended by a blurred mask; Gaussian of size ``2 radius + 1`` with
    OpenCV's default sigma for it (8.3 at radius 50)."""
    size = 2 * radius + 1
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    img = img.float()
    blur = _gaussian_blur(img, sigma, radius)
    residual = img - blur
    mask = (residual.abs() * 255 > threshold).float()
    soft = _gaussian_blur(mask, sigma, radius)
    sharp = torch.clamp(img + weight * residual, 0.0, 1.0)
    return soft * sharp + (1 - soft) * img

