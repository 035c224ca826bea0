"""The omni selective-scan (OSS) module: 4-direction planar scan + pooled bidirectional channel scan.

Data flow (``docs/architecture.md`` §2.4), x: (B, C, H, W)::

    x, z = in_conv(x).chunk(2)           # 1x1 conv C -> 2C, with bias
    x    = silu(dwconv3x3(x)); z = silu(z)
    y    = out_norm(planar_scan(x)) * z  # 4 directions, merged in float32
    c    = channel_norm(channel_scan(avgpool(y)))   # (B, C, 1, 1), a sequence of length C
    y    = y * c + y   (gate, SR presets)  |  y + c   (add, derain)
    out  = out_conv(y)                   # 1x1 conv C -> C, with bias

Parameter names and shapes are those of the authors' ``SS2D_1`` so checkpoints load strictly.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..scan import selective_scan
from ..scan.cross_scan import planar_scan, planar_scan_unfused
from ..scan.reference import compute_dtype
from .blocks import ChannelLayerNorm, banded_on_cpu, in_row_bands
from .config import VmambaIRConfig

DIRECTIONS = 4
CHANNEL_DIRECTIONS = 2


# The initial values are computed (and kept) on the CPU even inside ``with torch.device("meta")``:
# elementwise maths on meta tensors runs through torch's reference decompositions, whose first use imports
# torch._dynamo (about a second of every CLI start when the weights check counts parameters on the meta
# device). A meta-built network that runs a forward pass is moved with ``.to("meta")`` first.


def _uniform(shape: tuple[int, ...], bound: float) -> Tensor:
    return torch.empty(shape).uniform_(-bound, bound)


def _dt_bias(n: int, dt_min: float = 1e-3, dt_max: float = 0.1, floor: float = 1e-4) -> Tensor:
    """Inverse-softplus of dt ~ logU(dt_min, dt_max), so softplus(bias) starts in that range (Mamba init)."""
    u = torch.rand(n, device="cpu")
    dt = torch.exp(u * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=floor)
    return dt + torch.log(-torch.expm1(-dt))


def _s4d_log_a(rows: int, d_state: int) -> Tensor:
    """log(1..N) for every row: S4D-real init. Independent rows (no stride-0 aliasing)."""
    return torch.log(torch.arange(1, d_state + 1, dtype=torch.float32, device="cpu")).repeat(rows, 1)


class OmniSelectiveScan(nn.Module):
    """OSS module (the authors' ``SS2D_1`` with ssm_ratio 1, d_conv 3, K = 4 planar + 2 channel directions)."""

    def __init__(self, channels: int, cfg: VmambaIRConfig) -> None:
        super().__init__()
        c, n = channels, cfg.d_state
        r = VmambaIRConfig.dt_rank(c)
        ci = cfg.channel_inner
        rc = r if cfg.channel_dt_rank is None else cfg.channel_dt_rank
        self.d_state, self.dt_rank, self.channel_dt_rank = n, r, rc
        self.channel_mode = cfg.channel_scan
        self.fusion = cfg.fusion
        self.scan_backend = "auto"
        self.fused_planar = True  # False: the authors' materialised-copies data flow (benchmarks compare both)

        # Own parameters, registered in the checkpoints' order.
        self.x_proj_weight = nn.Parameter(_uniform((DIRECTIONS, r + 2 * n, c), c**-0.5))
        self.xc_proj_weight = nn.Parameter(_uniform((CHANNEL_DIRECTIONS, rc + 2 * n, ci), ci**-0.5))
        self.dt_projs_weight = nn.Parameter(_uniform((DIRECTIONS, c, r), r**-0.5))
        self.dt_projs_bias = nn.Parameter(torch.stack([_dt_bias(c) for _ in range(DIRECTIONS)]))
        if self.channel_mode == "mamba":
            # realsr: the channel scan is a Mamba layer over the C pooled values.
            self.dtc_projs_weight = nn.Parameter(_uniform((CHANNEL_DIRECTIONS, 1, rc), rc**-0.5))
            self.dtc_projs_bias = nn.Parameter(torch.stack([_dt_bias(1) for _ in range(CHANNEL_DIRECTIONS)]))
            self.A_logs = nn.Parameter(_s4d_log_a(DIRECTIONS * c, n))
            self.Ds = nn.Parameter(torch.ones(DIRECTIONS * c))
            self.Ac_logs = nn.Parameter(_s4d_log_a(CHANNEL_DIRECTIONS, n))
            self.Dsc = nn.Parameter(torch.ones(CHANNEL_DIRECTIONS))
        else:
            # sisr / derain: 1 -> ci -> 1 conv-wrapped scan, plain N(0, 1) init as in the authors' code.
            self.A_logs = nn.Parameter(_s4d_log_a(DIRECTIONS * c, n))
            self.Ds = nn.Parameter(torch.ones(DIRECTIONS * c))
            self.Dsc = nn.Parameter(torch.ones(CHANNEL_DIRECTIONS * ci))
            self.Ac_logs = nn.Parameter(torch.randn(CHANNEL_DIRECTIONS * ci, n))
            self.dtc_projs_weight = nn.Parameter(torch.randn(CHANNEL_DIRECTIONS, ci, rc))
            self.dtc_projs_bias = nn.Parameter(torch.randn(CHANNEL_DIRECTIONS, ci))
            self.conv_cin = nn.Conv2d(1, ci, 1)
            self.conv_cout = nn.Conv2d(ci, 1, 1)
        self.channel_norm = ChannelLayerNorm(c)
        self.in_conv = nn.Conv2d(c, 2 * c, 1)
        self.conv2d = nn.Conv2d(c, c, 3, padding=1, groups=c)
        self.out_norm = ChannelLayerNorm(c)
        self.out_conv = nn.Conv2d(c, c, 1)

    def forward(self, x: Tensor, pre: Callable[[Tensor], Tensor] | None = None) -> Tensor:
        """``pre`` (a per-pixel function, e.g. the block's LayerNorm) is applied to ``x`` first, inside
        the row bands of CPU inference, so the normalised map is never materialised whole."""
        if banded_on_cpu(x):  # CPU inference: in cache-sized bands (see blocks.BAND_PIXELS)
            local = self.local_in if pre is None else lambda t: self.local_in(pre(t))
            x, z = in_row_bands(local, x, halo=1).chunk(2, dim=1)
        else:
            x, z = self._gated_inputs(x if pre is None else pre(x))
        planar = planar_scan if self.fused_planar else planar_scan_unfused
        y = planar(
            x, self.x_proj_weight, self.dt_projs_weight, self.dt_projs_bias, self.A_logs, self.Ds,
            backend=self.scan_backend,
        )
        y = self.out_norm(y).to(x.dtype) * z  # (B, C, H, W)
        c = self._channel_scan(y)  # (B, C, 1, 1)
        y = y * c + y if self.fusion == "gate" else y + c
        return self.out_conv(y)

    def _gated_inputs(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The local, pre-scan part: in_conv, then (silu(dwconv(x)), silu(z))."""
        x, z = self.in_conv(x).chunk(2, dim=1)
        return F.silu(self.conv2d(x)), F.silu(z)

    def local_in(self, x: Tensor) -> Tensor:
        """``_gated_inputs`` on a band, concatenated (``in_row_bands`` assembles one tensor)."""
        return torch.cat(self._gated_inputs(x), dim=1)

    def _channel_scan(self, y: Tensor) -> Tensor:
        """Bidirectional scan over the C global-average-pooled values; returns (B, C, 1, 1)."""
        b, c = y.shape[:2]
        pooled = y.mean(dim=(2, 3))  # (B, C)
        if self.channel_mode == "mamba":
            seq = pooled.to(compute_dtype(pooled)).view(b, 1, c)  # one channel, length C; scanned in fp32
            out = self._bidirectional_scan(seq).view(b, c, 1, 1)
            out_dtype = y.dtype
        else:
            seq = self.conv_cin(pooled.view(b, 1, c, 1)).squeeze(-1)  # (B, ci, C)
            merged = self._bidirectional_scan(seq)  # (B, ci, C), float32
            out = self.conv_cout(merged.unsqueeze(-1)).transpose(1, 2)  # (B, C, 1, 1)
            out_dtype = seq.dtype  # the authors cast back to conv_cin's output dtype
        return self.channel_norm(out).to(out_dtype)

    def _bidirectional_scan(self, seq: Tensor) -> Tensor:
        """Scan (B, ci, C) forwards and backwards with per-direction params; sum in float32."""
        b, ci, length = seq.shape
        n, rc = self.d_state, self.channel_dt_rank
        xs = torch.stack([seq, seq.flip(-1)], dim=1)  # (B, 2, ci, C)
        weight = self.xc_proj_weight
        dtc_w = self.dtc_projs_weight
        # realsr: the authors cast every operand of this scan to float32. einsum is on autocast's
        # lower-precision list, so the projections run with autocast off to keep delta, B and C float32.
        keep_dtype = self.channel_mode == "mamba"
        if keep_dtype:
            weight, dtc_w = weight.to(seq.dtype), dtc_w.to(seq.dtype)
        autocast_off = keep_dtype and torch.amp.is_autocast_available(seq.device.type)  # not on "meta" (MAC counts)
        with torch.autocast(seq.device.type, enabled=False) if autocast_off else contextlib.nullcontext():
            x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, weight)
            dts, Bs, Cs = torch.split(x_dbl, [rc, n, n], dim=2)
            dts = torch.einsum("bkrl,kdr->bkdl", dts, dtc_w)
        As = -torch.exp(self.Ac_logs.to(compute_dtype(seq)))
        out = selective_scan(
            xs.reshape(b, 2 * ci, length), dts.reshape(b, 2 * ci, length), As, Bs, Cs,
            self.Dsc, self.dtc_projs_bias.reshape(-1), True, backend=self.scan_backend,
        ).view(b, 2, ci, length)
        acc = torch.promote_types(out.dtype, torch.float32)
        return out[:, 0].to(acc) + out[:, 1].flip(-1).to(acc)
