"""Real-ESRGAN's two x4 generators, the peers users compare VmambaIR with.

Written from their published architectures (BasicSR's ``RRDBNet`` in the RealESRGAN_x4plus
configuration and Real-ESRGAN's ``SRVGGNetCompact`` in the realesr-general-x4v3 configuration). Parameter
names equal BasicSR's (``conv_first``, ``body.N.rdb1.conv1``, ``body.N.weight``...), so an official state
dict loads as it is (:mod:`vmambair_core.weights.realesrgan` reads the files; ``restore``/``eval`` run
them); :mod:`vmambair_core.bench.peers` times them with random weights. Parameter counts equal the
published checkpoints'.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convs (BasicSR's ``conv1``..``conv5``), each seeing the block input and every earlier
    output; residual scaled by 0.2."""

    def __init__(self, feat: int = 64, grow: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(feat, grow, 3, 1, 1)
        self.conv2 = nn.Conv2d(feat + grow, grow, 3, 1, 1)
        self.conv3 = nn.Conv2d(feat + 2 * grow, grow, 3, 1, 1)
        self.conv4 = nn.Conv2d(feat + 3 * grow, grow, 3, 1, 1)
        self.conv5 = nn.Conv2d(feat + 4 * grow, feat, 3, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        feats = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            feats.append(F.leaky_relu(conv(torch.cat(feats, 1)), 0.2))
        return self.conv5(torch.cat(feats, 1)) * 0.2 + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: three dense blocks (``rdb1``..``rdb3``), outer residual scaled by 0.2."""

    def __init__(self, feat: int = 64, grow: int = 32) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(feat, grow)
        self.rdb2 = ResidualDenseBlock(feat, grow)
        self.rdb3 = ResidualDenseBlock(feat, grow)

    def forward(self, x: Tensor) -> Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    """ESRGAN's generator, x4: 23 RRDBs at LQ resolution, two nearest-x2 + conv upsampling stages."""

    family = "Real-ESRGAN RRDBNet"

    def __init__(self, blocks: int = 23, feat: int = 64, grow: int = 32, channels: int = 3) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(channels, feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(feat, grow) for _ in range(blocks)))
        self.conv_body = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(feat, feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(feat, channels, 3, 1, 1)
        self.scale = 4
        self.label = f"{self.family} x4 ({blocks} blocks, {feat} feat)"

    def forward(self, x: Tensor) -> Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for up in (self.conv_up1, self.conv_up2):
            feat = F.leaky_relu(up(F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
        return self.conv_last(F.leaky_relu(self.conv_hr(feat), 0.2))


class SRVGGNetCompact(nn.Module):
    """Real-ESRGAN's compact x4 net: a plain 3x3 conv + PReLU stack at LQ resolution, pixel shuffle,
    plus the nearest-upsampled input."""

    family = "Real-ESRGAN SRVGGNetCompact"

    def __init__(self, convs: int = 32, feat: int = 64, channels: int = 3, scale: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(channels, feat, 3, 1, 1), nn.PReLU(feat)]
        for _ in range(convs):
            layers += [nn.Conv2d(feat, feat, 3, 1, 1), nn.PReLU(feat)]
        layers.append(nn.Conv2d(feat, channels * scale * scale, 3, 1, 1))
        self.body = nn.Sequential(*layers)
        self.upsample = nn.PixelShuffle(scale)
        self.scale = scale
        self.label = f"{self.family} x{scale} ({convs} convs, {feat} feat)"

    def forward(self, x: Tensor) -> Tensor:
        return self.upsample(self.body(x)) + F.interpolate(x, scale_factor=self.scale, mode="nearest")


__all__ = ["RRDB", "RRDBNet", "ResidualDenseBlock", "SRVGGNetCompact"]
