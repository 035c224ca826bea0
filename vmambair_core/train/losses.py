"""Training losses of the authors' recipes (BasicSR semantics, ``spec/official-arch.md`` §7).

* ``L1Loss``: ``weight * mean |pred - target|`` (every stage).
* ``PerceptualLoss``: VGG19 features before ReLU at conv1_2, conv2_2, conv3_4, conv4_4, conv5_4
  with weights 0.1, 0.1, 1, 1, 1, L1 per layer (mean), summed, times 1.0; no style term.
* ``GANLoss``: vanilla GAN, BCE-with-logits against 1 (real) / 0 (fake); the weight applies
  to the generator's term only, the discriminator's is unweighted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Literal

import torch.nn.functional as F
from torch import Tensor, nn

from vmambair_core.errors import ConfigError, InputError
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
