"""VmambaIR: a Restormer-layout U-Net whose attention is replaced by the omni selective scan.

Shapes for level-1 width C (48 in every preset), input (B, 3, H, W) with H, W multiples of 8::

    patch_embed                      (B, C,  H,   W)
    encoder_level1  n0 blocks @C     -> down1_2 -> (B, 2C, H/2, W/2)
    encoder_level2  n1 blocks @2C    -> down2_3 -> (B, 4C, H/4, W/4)
    encoder_level3  n2 blocks @4C    -> down3_4 -> (B, 8C, H/8, W/8)
    latent          n3 blocks @8C
    up4_3, cat enc3, reduce 8C->4C,  decoder_level3 n2 @4C
    up3_2, cat enc2, reduce 4C->2C,  decoder_level2 n1 @2C
    up2_1, cat enc1 (-> 2C, no reduce), decoder_level1 n0 @2C, refinement @2C
    head: sr -> tail(x4) + nearest_x4(input);  restore -> output conv + input

Any H, W: ``forward`` reflect-pads bottom/right to a multiple of 8 and crops the output back, as the
authors' test scripts do around their network (``forward_padded`` skips the check for callers that
already padded).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import InputError
from ..scan import check_backend_name
from .blocks import (
    ChannelLayerNorm, Downsample, GatedDconvFFN, PatchEmbed, Upsample, banded_on_cpu, in_row_bands, sr_tail,
)
from .config import VmambaIRConfig
from .oss import OmniSelectiveScan
from .padding import pad_to_multiple


class OSSBlock(nn.Module):
    """Pre-norm residual block: x + OSS(LN(x)), then x + EFFN(LN(x)). Keys norm1/attn/norm2/ffn."""

    def __init__(self, channels: int, cfg: VmambaIRConfig) -> None:
        super().__init__()
        self.norm1 = ChannelLayerNorm(channels)
        self.attn = OmniSelectiveScan(channels, cfg)
        self.norm2 = ChannelLayerNorm(channels)
        self.ffn = GatedDconvFFN(channels, cfg.ffn_expansion_factor)

    def forward(self, x: Tensor) -> Tensor:
        if banded_on_cpu(x):  # CPU inference: norms and local layers in cache-sized row bands
            x = x + self.attn(x, pre=self.norm1)
            return in_row_bands(self._ffn_residual, x, halo=1)
        x = x + self.attn(self.norm1(x))
        return self._ffn_residual(x)

    def _ffn_residual(self, x: Tensor) -> Tensor:
        return x + self.ffn.local(self.norm2(x))


def _stage(channels: int, depth: int, cfg: VmambaIRConfig) -> nn.Sequential:
    return nn.Sequential(*[OSSBlock(channels, cfg) for _ in range(depth)])


class VmambaIR(nn.Module):
    """The VmambaIR network for one preset (see ``VmambaIRConfig`` and ``PRESETS``)."""

    def __init__(self, cfg: VmambaIRConfig) -> None:
        super().__init__()
        self.config = cfg
        c1, c2, c3, c4 = cfg.level_dims()
        n1, n2, n3, n4 = cfg.num_blocks
        self.patch_embed = PatchEmbed(cfg.in_channels, c1)
        self.encoder_level1 = _stage(c1, n1, cfg)
        self.down1_2 = Downsample(c1)
        self.encoder_level2 = _stage(c2, n2, cfg)
        self.down2_3 = Downsample(c2)
        self.encoder_level3 = _stage(c3, n3, cfg)
        self.down3_4 = Downsample(c3)
        self.latent = _stage(c4, n4, cfg)
        self.up4_3 = Upsample(c4)
        self.reduce_chan_level3 = nn.Conv2d(c4, c3, 1, bias=False)
        self.decoder_level3 = _stage(c3, n3, cfg)
        self.up3_2 = Upsample(c3)
        self.reduce_chan_level2 = nn.Conv2d(c3, c2, 1, bias=False)
        self.decoder_level2 = _stage(c2, n2, cfg)
        self.up2_1 = Upsample(c2)
        self.decoder_level1 = _stage(c2, n1, cfg)
        self.refinement = _stage(c2, cfg.num_refinement_blocks, cfg)
        if cfg.head == "sr":
            self.tail = sr_tail(c2, cfg.out_channels)
        else:
            self.output = nn.Conv2d(c2, cfg.out_channels, 3, padding=1, bias=False)

    @property
    def scale(self) -> int:
        return self.config.scale

    @property
    def size_multiple(self) -> int:
        return self.config.size_multiple

    def set_scan_backend(self, backend: str) -> "VmambaIR":
        """Route every selective scan of the network through ``backend`` (``auto`` by default)."""
        check_backend_name(backend)
        for m in self.modules():
            if isinstance(m, OmniSelectiveScan):
                m.scan_backend = backend
        return self

    @property
    def scan_backend(self) -> str:
        """The scan backend the network's scans go through (``set_scan_backend``)."""
        return next((m.scan_backend for m in self.modules() if isinstance(m, OmniSelectiveScan)), "auto")

    def set_planar_fusion(self, enabled: bool) -> "VmambaIR":
        """Fused omni-scan where the backend has one (default), or the authors' unfused data flow."""
        for m in self.modules():
            if isinstance(m, OmniSelectiveScan):
                m.fused_planar = enabled
        return self

    def forward(self, img: Tensor) -> Tensor:
        if img.dim() != 4 or img.shape[1] != self.config.in_channels:
            raise InputError(f"expected a (B, {self.config.in_channels}, H, W) tensor, got {tuple(img.shape)}")
        h, w = img.shape[-2:]
        padded, (ph, pw) = pad_to_multiple(img, self.size_multiple)
        out = self.forward_padded(padded)
        if ph or pw:
            out = out[..., : h * self.scale, : w * self.scale]
        return out

    def forward_padded(self, img: Tensor) -> Tensor:
        """The network proper, on H, W that are already multiples of 8."""
        m = self.size_multiple
        if img.shape[-2] % m or img.shape[-1] % m:
            raise InputError(f"forward_padded needs H and W that are multiples of {m}, got {tuple(img.shape[-2:])}")
        enc1 = self.encoder_level1(self.patch_embed(img))
        enc2 = self.encoder_level2(self.down1_2(enc1))
        enc3 = self.encoder_level3(self.down2_3(enc2))
        lat = self.latent(self.down3_4(enc3))
        dec3 = self.decoder_level3(self.reduce_chan_level3(torch.cat([self.up4_3(lat), enc3], 1)))
        dec2 = self.decoder_level2(self.reduce_chan_level2(torch.cat([self.up3_2(dec3), enc2], 1)))
        dec1 = self.decoder_level1(torch.cat([self.up2_1(dec2), enc1], 1))
        feat = self.refinement(dec1)
        if self.config.head == "sr":
            return self.tail(feat) + F.interpolate(img, scale_factor=self.scale, mode="nearest")
        return self.output(feat) + img
