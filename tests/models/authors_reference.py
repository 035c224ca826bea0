"""An independent, literal transcription of the authors' forward pass, for equivalence tests.

Written from ``docs/architecture.md`` §2 in the authors' own layout: LayerNorm through
(B, HW, C) reshapes, explicit cross-scan copies, the merge with flips/transposes, a float64-capable
sequential scan written here (not the library's), and the channel scans exactly as §2.6/§2.7.
It works on a plain state dict so it shares no code with ``vmambair_core.models``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor


def scan_loop(u, delta, A, B, C, D, delta_bias):
    """Sequential selective scan with softplus, grouped B/C (b, g, n, l); fp32/fp64 accumulation."""
    dt_ = torch.float64 if u.dtype == torch.float64 else torch.float32
    u, delta, A, B, C = u.to(dt_), delta.to(dt_), A.to(dt_), B.to(dt_), C.to(dt_)
    b, d, l = u.shape
    g = B.shape[1]
    delta = delta + delta_bias.to(dt_).view(1, d, 1)
    delta = torch.where(delta <= 20, torch.log1p(torch.exp(delta)), delta)
    h = torch.zeros(b, d, A.shape[1], dtype=dt_)
    ys = []
    grp = torch.arange(d) // (d // g)
    for t in range(l):
        Bt = B[:, grp, :, t]  # (b, d, n)
        Ct = C[:, grp, :, t]
        h = torch.exp(delta[:, :, t, None] * A[None]) * h + delta[:, :, t, None] * u[:, :, t, None] * Bt
        ys.append((h * Ct).sum(-1) + D.to(dt_)[None] * u[:, :, t])
    return torch.stack(ys, -1)


def layer_norm(x, sd, p):
    b, c, h, w = x.shape
    t = x.flatten(2).transpose(1, 2)  # b (h w) c
    mu = t.mean(-1, keepdim=True)
    var = t.var(-1, keepdim=True, unbiased=False)
    t = (t - mu) / torch.sqrt(var + 1e-5) * sd[p + ".body.weight"] + sd[p + ".body.bias"]
    return t.transpose(1, 2).reshape(b, c, h, w)


def conv(x, sd, p, padding=0, groups=1, bias=True):
    return F.conv2d(x, sd[p + ".weight"], sd.get(p + ".bias") if bias else None, padding=padding, groups=groups)


def planar(x, sd, p):
    B, C, H, W = x.shape
    L = H * W
    x_hwwh = torch.stack([x.flatten(2), x.transpose(2, 3).contiguous().flatten(2)], dim=1)
    xs = torch.cat([x_hwwh, torch.flip(x_hwwh, dims=[-1])], dim=1)
    w = sd[p + ".x_proj_weight"]
    R = sd[p + ".dt_projs_weight"].shape[2]
    N = sd[p + ".A_logs"].shape[1]
    x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, w)
    dts, Bs, Cs = torch.split(x_dbl, [R, N, N], dim=2)
    dts = torch.einsum("bkrl,kdr->bkdl", dts, sd[p + ".dt_projs_weight"])
    As = -torch.exp(sd[p + ".A_logs"].to(torch.float64 if x.dtype == torch.float64 else torch.float32))
    out_y = scan_loop(xs.reshape(B, -1, L), dts.reshape(B, -1, L), As, Bs, Cs, sd[p + ".Ds"],
                      sd[p + ".dt_projs_bias"].reshape(-1)).view(B, 4, -1, L)
    inv_y = torch.flip(out_y[:, 2:4], dims=[-1]).view(B, 2, -1, L)
    wh_y = torch.transpose(out_y[:, 1].view(B, -1, W, H), 2, 3).contiguous().view(B, -1, L)
    invwh_y = torch.transpose(inv_y[:, 1].view(B, -1, W, H), 2, 3).contiguous().view(B, -1, L)
    y = out_y[:, 0] + inv_y[:, 0] + wh_y + invwh_y
    return layer_norm(y.view(B, C, H, W), sd, p + ".out_norm").to(x.dtype)


def channel_mamba(y2, sd, p):
    """realsr: cforward_corev2 (1 channel, length C, fp32)."""
    b, c = y2.shape[:2]
    xc = y2.mean(dim=(2, 3)).view(b, 1, c)
    xs = torch.stack([xc, torch.flip(xc, dims=[-1])], dim=1)  # b 2 1 c
    R = sd[p + ".dtc_projs_weight"].shape[2]
    N = sd[p + ".Ac_logs"].shape[1]
    x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, sd[p + ".xc_proj_weight"])
    dts, Bs, Cs = torch.split(x_dbl, [R, N, N], dim=2)
    dts = torch.einsum("bkrl,kdr->bkdl", dts, sd[p + ".dtc_projs_weight"])
    out = scan_loop(xs.reshape(b, 2, c), dts.reshape(b, 2, c), -torch.exp(sd[p + ".Ac_logs"]), Bs, Cs,
                    sd[p + ".Dsc"], sd[p + ".dtc_projs_bias"].reshape(-1)).view(b, 2, 1, c)
    y = out[:, 0] + torch.flip(out[:, 1], dims=[-1])
    return layer_norm(y.view(b, c, 1, 1), sd, p + ".channel_norm").to(y2.dtype)


def channel_conv(y2, sd, p):
    """sisr / derain: cforward_corev1 (1 -> k conv, length C)."""
    xc = y2.mean(dim=(2, 3), keepdim=True).permute(0, 2, 1, 3)  # b 1 c 1
    xc = conv(xc, sd, p + ".conv_cin").squeeze(-1)  # b k c
    b, k, c = xc.shape
    xs = torch.stack([xc, torch.flip(xc, dims=[-1])], dim=1)
    R = sd[p + ".dtc_projs_weight"].shape[2]
    N = sd[p + ".Ac_logs"].shape[1]
    x_dbl = torch.einsum("bkdl,kcd->bkcl", xs, sd[p + ".xc_proj_weight"])
    dts, Bs, Cs = torch.split(x_dbl, [R, N, N], dim=2)
    dts = torch.einsum("bkrl,kdr->bkdl", dts, sd[p + ".dtc_projs_weight"])
    As = -torch.exp(sd[p + ".Ac_logs"].to(torch.float64 if y2.dtype == torch.float64 else torch.float32))
    out = scan_loop(xs.reshape(b, -1, c), dts.reshape(b, -1, c), As, Bs, Cs, sd[p + ".Dsc"],
                    sd[p + ".dtc_projs_bias"].reshape(-1)).view(b, 2, -1, c)
    y = out[:, 0] + torch.flip(out[:, 1], dims=[-1])
    y = conv(y.unsqueeze(-1).to(y2.dtype), sd, p + ".conv_cout").transpose(1, 2)
    return layer_norm(y, sd, p + ".channel_norm").to(y2.dtype)


def oss(x, sd, p, fusion):
    xz = conv(x, sd, p + ".in_conv")
    x, z = xz.chunk(2, dim=1)
    z = F.silu(z)
    x = F.silu(conv(x, sd, p + ".conv2d", padding=1, groups=x.shape[1]))
    y2 = planar(x, sd, p) * z
    c = channel_conv(y2, sd, p) if (p + ".conv_cin.weight") in sd else channel_mamba(y2, sd, p)
    y2 = y2 * c + y2 if fusion == "gate" else y2 + c
    return conv(y2, sd, p + ".out_conv")


def block(x, sd, p, fusion):
    x = x + oss(layer_norm(x, sd, p + ".norm1"), sd, p + ".attn", fusion)
    h = conv(layer_norm(x, sd, p + ".norm2"), sd, p + ".ffn.project_in", bias=False)
    h1, h2 = conv(h, sd, p + ".ffn.dwconv", padding=1, groups=h.shape[1], bias=False).chunk(2, dim=1)
    return x + conv(F.gelu(h1) * h2, sd, p + ".ffn.project_out", bias=False)


def stage(x, sd, name, fusion):
    i = 0
    while f"{name}.{i}.norm1.body.weight" in sd:
        x = block(x, sd, f"{name}.{i}", fusion)
        i += 1
    return x


def forward(sd: dict[str, Tensor], img: Tensor, fusion: str) -> Tensor:
    """The authors' network on a padded image (H, W multiples of 8), as in their test scripts."""
    enc1 = stage(conv(img, sd, "patch_embed.proj", padding=1, bias=False), sd, "encoder_level1", fusion)
    enc2 = stage(F.pixel_unshuffle(conv(enc1, sd, "down1_2.body.0", 1, bias=False), 2), sd, "encoder_level2", fusion)
    enc3 = stage(F.pixel_unshuffle(conv(enc2, sd, "down2_3.body.0", 1, bias=False), 2), sd, "encoder_level3", fusion)
    lat = stage(F.pixel_unshuffle(conv(enc3, sd, "down3_4.body.0", 1, bias=False), 2), sd, "latent", fusion)
    d3 = torch.cat([F.pixel_shuffle(conv(lat, sd, "up4_3.body.0", 1, bias=False), 2), enc3], 1)
    d3 = stage(conv(d3, sd, "reduce_chan_level3", bias=False), sd, "decoder_level3", fusion)
    d2 = torch.cat([F.pixel_shuffle(conv(d3, sd, "up3_2.body.0", 1, bias=False), 2), enc2], 1)
    d2 = stage(conv(d2, sd, "reduce_chan_level2", bias=False), sd, "decoder_level2", fusion)
    d1 = torch.cat([F.pixel_shuffle(conv(d2, sd, "up2_1.body.0", 1, bias=False), 2), enc1], 1)
    feat = stage(stage(d1, sd, "decoder_level1", fusion), sd, "refinement", fusion)
    if "output.weight" in sd:
        return conv(feat, sd, "output", padding=1, bias=False) + img
    t = F.pixel_shuffle(conv(feat, sd, "tail.0.0", padding=1), 2)
    t = F.pixel_shuffle(conv(t, sd, "tail.0.2", padding=1), 2)
    return conv(t, sd, "tail.1", padding=1) + F.interpolate(img, scale_factor=4, mode="nearest")


def reference_restore(sd: dict[str, Tensor], img: Tensor, fusion: str, multiple: int = 8) -> Tensor:
    """Pad bottom/right with reflect to a multiple of 8, run, crop: the authors' test recipe."""
    h, w = img.shape[-2:]
    ph, pw = (math.ceil(h / multiple) * multiple - h), (math.ceil(w / multiple) * multiple - w)
    x = F.pad(img, (0, pw, 0, ph), mode="reflect") if (ph or pw) else img
    out = forward(sd, x, fusion)
    s = out.shape[-1] // x.shape[-1]
    return out[..., : h * s, : w * s]
