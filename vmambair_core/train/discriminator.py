"""U-Net discriminator with spectral normalisation (Real-ESRGAN's ``UNetDiscriminatorSN``).

Used by the realsr and sisr GAN stages. Module and parameter names equal Real-ESRGAN's, and
spectral norm is torch's ``nn.utils.spectral_norm`` (``weight_orig``, ``weight_u``,
``weight_v``), so its ``net_d`` checkpoints load strictly. Per-pixel logits (B, 1, H, W)::

    x0 = lrelu(conv0(x))                         C      H
    x1 = lrelu(conv1(x0)) ; x2 ; x3              2C 4C 8C   H/2 H/4 H/8   (4x4, stride 2)
    x4 = lrelu(conv4(up2(x3))) + x2              4C     H/4
    x5 = lrelu(conv5(up2(x4))) + x1              2C     H/2
    x6 = lrelu(conv6(up2(x5))) + x0              C      H
    out = conv9(lrelu(conv8(lrelu(conv7(x6)))))  1      H

with LeakyReLU slope 0.2 and bilinear x2 upsampling (align_corners False).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils import spectral_norm

from vmambair_core.errors import InputError


def _lrelu(x: Tensor) -> Tensor:
    return F.leaky_relu(x, negative_slope=0.2)


def _up2(x: Tensor) -> Tensor:
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class UNetDiscriminatorSN(nn.Module):
    """Args: num_in_ch (3), num_feat (64), skip_connection (True). H and W must be multiples of 8."""

    size_multiple = 8

    def __init__(self, num_in_ch: int = 3, num_feat: int = 64, skip_connection: bool = True) -> None:
        super().__init__()
        self.skip_connection = skip_connection
        f = num_feat
        self.conv0 = nn.Conv2d(num_in_ch, f, kernel_size=3, stride=1, padding=1)
        self.conv1 = spectral_norm(nn.Conv2d(f, f * 2, 4, 2, 1, bias=False))
        self.conv2 = spectral_norm(nn.Conv2d(f * 2, f * 4, 4, 2, 1, bias=False))
        self.conv3 = spectral_norm(nn.Conv2d(f * 4, f * 8, 4, 2, 1, bias=False))
        self.conv4 = spectral_norm(nn.Conv2d(f * 8, f * 4, 3, 1, 1, bias=False))
        self.conv5 = spectral_norm(nn.Conv2d(f * 4, f * 2, 3, 1, 1, bias=False))
        self.conv6 = spectral_norm(nn.Conv2d(f * 2, f, 3, 1, 1, bias=False))
        self.conv7 = spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv8 = spectral_norm(nn.Conv2d(f, f, 3, 1, 1, bias=False))
        self.conv9 = nn.Conv2d(f, 1, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_features(x)[0]

    def forward_features(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Logits and seven activations (x0, x3, x4, x5, x6 and the conv7, conv8 outputs): what feature
        matching compares between real and fake (pix2pixHD's idea; it needs no pretrained network)."""
        if x.ndim != 4 or x.shape[-2] % self.size_multiple or x.shape[-1] % self.size_multiple:
            raise InputError(
                f"discriminator input must be (B, C, H, W) with H, W multiples of {self.size_multiple}, "
                f"got {tuple(x.shape)}"
            )
        x0 = _lrelu(self.conv0(x))
        x1 = _lrelu(self.conv1(x0))
        x2 = _lrelu(self.conv2(x1))
        x3 = _lrelu(self.conv3(x2))

        x4 = _lrelu(self.conv4(_up2(x3)))
        if self.skip_connection:
            x4 = x4 + x2
        x5 = _lrelu(self.conv5(_up2(x4)))
        if self.skip_connection:
            x5 = x5 + x1
        x6 = _lrelu(self.conv6(_up2(x5)))
        if self.skip_connection:
            x6 = x6 + x0

        x7 = _lrelu(self.conv7(x6))
        x8 = _lrelu(self.conv8(x7))
        return self.conv9(x8), [x0, x3, x4, x5, x6, x7, x8]
