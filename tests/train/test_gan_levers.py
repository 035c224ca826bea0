"""The GAN stage's extra terms: discriminator feature matching, the periodic-pattern penalty, USM GT,
and the mild share of realsr batches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vmambair_core.data.degrade.mild import degrade_mild
from vmambair_core.data.degrade.realesrgan import degrade_realesrgan, paired_random_crop
from vmambair_core.errors import ConfigError
from vmambair_core.metrics import phase_means
from vmambair_core.models import build_model
from vmambair_core.train import resolve_config
from vmambair_core.train.batches import synthesize
from vmambair_core.train.discriminator import UNetDiscriminatorSN
from vmambair_core.train.losses import FeatureMatchingLoss, PeriodicPatternLoss, phase_deviation, usm_sharpen
from vmambair_core.train.steps import build_parts, train_step

CPU = torch.device("cpu")


def _gan_cfg(**loss: object):
    return resolve_config("realsr", "gan", file={
        "data": {"hr_crop": 80, "pool_size": 0}, "loss": {"perceptual": 0.0, "disc_features": 8, **loss}},
        overrides={"model.dim": 4, "model.blocks": 1, "data.patch_size": 32, "data.batch_size": 2})


def test_forward_features_gives_the_logits_of_forward() -> None:
    torch.manual_seed(0)
    d = UNetDiscriminatorSN(3, 8).eval()
    x = torch.rand(2, 3, 32, 32)
    logits, feats = d.forward_features(x)
    assert torch.allclose(logits, d(x), atol=1e-6)
    assert len(feats) == 7 and feats[1].shape == (2, 64, 4, 4)  # x3: 8C channels at H/8


def test_feature_matching_is_zero_for_identical_inputs_and_positive_otherwise() -> None:
    torch.manual_seed(0)
    d = UNetDiscriminatorSN(3, 8).eval()
    fm = FeatureMatchingLoss(2.0)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert float(fm(d.forward_features(x)[1], d.forward_features(x)[1])) == 0.0
    y = (x + 0.1 * torch.randn_like(x)).requires_grad_(True)
    loss = fm(d.forward_features(y)[1], d.forward_features(x)[1])
    assert float(loss.detach()) > 0
    # The mean over layers of per-layer L1, times the weight:
    fy, fx = d.forward_features(y)[1], d.forward_features(x)[1]
    expect = 2.0 * sum(float(F.l1_loss(a, b).detach()) for a, b in zip(fy, fx)) / len(fx)
    assert math.isclose(float(loss.detach()), expect, rel_tol=1e-5)
    loss.backward()
    assert y.grad is not None and float(y.grad.abs().sum()) > 0


def test_phase_deviation_recovers_a_planted_period_4_pattern() -> None:
    """A smooth ramp plus a period-4 pattern of amplitude 3/255: recovered to 10 %; the ramp alone ~0."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 128), torch.linspace(0, 1, 128), indexing="ij")
    clean = (0.3 + 0.4 * x * y).expand(1, 3, 128, 128)
    cell = torch.zeros(4, 4)
    cell[0, 0], cell[2, 2] = 3 / 255, -3 / 255
    planted = clean + cell.repeat(32, 32)
    dev = phase_deviation(planted, 4)
    # The phase means of the high-pass: the pattern minus its own blur (whose mean per phase is the
    # pattern's mean, 0), so each phase's deviation is the planted value.
    assert torch.allclose(dev[0, 0], cell, atol=0.1 * 3 / 255)
    assert float(phase_deviation(clean, 4).abs().max()) < 0.1 / 255  # reflect-padded borders: ~0.04
    loss = PeriodicPatternLoss(4, weight=1.0)
    assert float(loss(planted, clean)) > 20 * float(loss(clean + 0.001, clean))


def test_phase_deviation_agrees_with_the_fixed_pattern_metric() -> None:
    """The loss is the metric's idea in torch: on one grey image, its phase deviations equal the metric's
    phase means minus their mean, up to the two blurs' truncation (3 vs 4 sigma), well under 1 % of the
    pattern."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:96, 0:128]
    base = 128 + 60 * np.sin(xx / 9.0) * np.cos(yy / 13.0) + rng.normal(0, 5, (96, 128))
    cell = rng.normal(0, 1.5, (4, 4))
    img = base + np.tile(cell - cell.mean(), (24, 32))
    means = phase_means(img, 4)
    metric = means - means.mean()
    loss_side = phase_deviation(torch.from_numpy(img)[None, None], 4)[0, 0].numpy()
    assert np.abs(metric).max() > 2  # a real pattern, so the bound below says something
    assert np.abs(loss_side - metric).max() < 0.005 * np.abs(metric).max()


def test_usm_sharpens_edges_and_leaves_flat_areas() -> None:
    flat = torch.full((1, 3, 64, 64), 0.4)
    assert torch.allclose(usm_sharpen(flat), flat, atol=1e-6)
    edge = torch.full((1, 3, 32, 256), 0.4)
    edge[..., 128:] = 0.7
    sharp = usm_sharpen(edge)
    assert float(sharp[..., 127].mean()) < 0.4 - 0.01 and float(sharp[..., 128].mean()) > 0.7 + 0.01  # overshoot
    assert torch.allclose(sharp[..., :5], edge[..., :5], atol=0.5 / 255)  # 12 sigma from the edge: unchanged


def test_gan_step_with_feature_matching_and_pattern_updates_both_networks_and_keeps_spectral_norm() -> None:
    cfg = _gan_cfg(gan=0.1, feature_matching=1.0, pattern=10.0, usm_gt=True)
    torch.manual_seed(0)
    parts = build_parts(cfg, build_model(cfg.network()), CPU, torch.float32)
    assert parts.net_d is not None
    g0 = {k: v.clone() for k, v in parts.net.state_dict().items()}
    d0 = {k: v.clone() for k, v in parts.net_d.state_dict().items()}
    for _ in range(2):
        losses = train_step(parts, torch.rand(2, 3, 8, 8), torch.rand(2, 3, 32, 32), CPU)
    assert set(losses) == {"l_pix", "l_pattern", "l_fm", "l_gan", "l_d_real", "l_d_fake"}
    assert all(torch.isfinite(v) for v in losses.values()) and float(losses["l_fm"]) > 0
    assert any(not torch.equal(g0[k], v) for k, v in parts.net.state_dict().items())
    assert any(not torch.equal(d0[k], v) for k, v in parts.net_d.state_dict().items() if k.endswith("weight_orig"))
    # Spectral norm: the weight D uses is weight_orig / sigma(u, v), its power-iteration estimate
    # (recomputed from the stepped weight_orig by a forward in eval mode, which does not move u, v).
    parts.net_d.eval()
    parts.net_d(torch.rand(1, 3, 32, 32))
    conv = parts.net_d.conv2
    w = conv.weight_orig.detach().reshape(conv.weight_orig.shape[0], -1)
    sigma = float(conv.weight_u @ (w @ conv.weight_v))
    assert torch.allclose(conv.weight.detach().reshape_as(w), w / sigma, rtol=1e-4, atol=1e-6)
    assert float(torch.linalg.matrix_norm(conv.weight.detach().reshape_as(w), ord=2)) < 1.5


def test_config_refuses_levers_where_they_cannot_work() -> None:
    with pytest.raises(ConfigError, match="feature_matching"):
        resolve_config("realsr", "l1", file={"data": {"hr_crop": 256}, "loss": {"feature_matching": 1.0}})
    with pytest.raises(ConfigError, match="mild"):
        resolve_config("sisr", "l1", file={"mild": {"prob": 0.5}})
    with pytest.raises(ConfigError, match="x4"):
        resolve_config("derain", "l1", file={"loss": {"pattern": 1.0}})


def test_mild_share_of_a_realsr_batch() -> None:
    """prob 0: the Real-ESRGAN pair exactly as before (no extra draws); prob 1: every image mild."""
    base = resolve_config("realsr", "l1", file={"data": {"hr_crop": 80, "pool_size": 0}},
                          overrides={"data.patch_size": 32, "data.batch_size": 3})
    hr = torch.rand(3, 3, 80, 80)
    deg = base.degradation_config()

    def run(cfg, seed: int = 5):  # noqa: ANN001, ANN202
        return synthesize(cfg, hr, torch.Generator().manual_seed(seed))

    g = torch.Generator().manual_seed(5)
    gt_ref, lq_ref = paired_random_crop(hr, degrade_realesrgan(hr, deg, g), deg.gt_size, deg.scale, g)
    for cfg in (base, resolve_config("realsr", "l1", file={"data": {"hr_crop": 80, "pool_size": 0},
                                                            "mild": {"prob": 0.0}},
                                     overrides={"data.patch_size": 32, "data.batch_size": 3})):
        lq, gt = run(cfg)
        assert torch.allclose(lq, lq_ref, atol=1e-7) and torch.allclose(gt, gt_ref)

    every = resolve_config("realsr", "l1", file={"data": {"hr_crop": 80, "pool_size": 0}, "mild": {"prob": 1.0}},
                           overrides={"data.patch_size": 32, "data.batch_size": 3})
    lq, gt = run(every)
    g = torch.Generator().manual_seed(5)
    heavy = degrade_realesrgan(hr, deg, g)
    assert bool((torch.rand(3, generator=g) < 1.0).all())
    light = degrade_mild(hr, every.mild, g, scale=4)
    gt_m, lq_m = paired_random_crop(hr, light, deg.gt_size, deg.scale, g)
    assert torch.allclose(lq, lq_m, atol=1e-7) and torch.allclose(gt, gt_m)
    assert not torch.allclose(lq_m, paired_random_crop(hr, heavy, deg.gt_size, deg.scale,
                                                       torch.Generator().manual_seed(0))[1], atol=0.05)


def test_icnr_tail_starts_as_nearest_neighbour_upsampling() -> None:
    """After ICNR each sub-pixel conv + shuffle gives 2x2 blocks of one value; the default init does not."""
    from vmambair_core.models.blocks import icnr_sr_tail_

    torch.manual_seed(0)
    net = build_model(resolve_config("realsr", "l1", file={"data": {"hr_crop": 256}, "model": {"icnr": True}},
                                     overrides={"model.dim": 4, "model.blocks": 1}).network())
    feat = torch.randn(1, net.tail[0][0].in_channels, 6, 6)

    @torch.no_grad()
    def block_spread(up: torch.nn.Module) -> float:
        y = up(feat)
        blocks = y.reshape(1, y.shape[1], 6, 2, 6, 2)
        return float((blocks - blocks[:, :, :, :1, :, :1]).abs().max().detach())

    first = torch.nn.Sequential(net.tail[0][0], net.tail[0][1])
    assert block_spread(first) > 1e-3  # the authors' default init: a sub-pixel pattern from the start
    icnr_sr_tail_(net.tail)
    assert block_spread(first) < 1e-6
    with pytest.raises(ConfigError, match="icnr"):
        resolve_config("realsr", "l1", file={"data": {"hr_crop": 256}, "model": {"icnr": True, "init": "x.pth"}})
