"""Synthetic rain streaks: shapes, ranges, determinism, blending and streak orientation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vmambair_core.data.degrade.rain import RainConfig, add_rain, blend_rain, line_kernels, rain_streaks
from vmambair_core.errors import ConfigError, InputError


def streak_angle(layer: np.ndarray, radius: int = 15) -> float:
    """Dominant streak direction in degrees (0 vertical, + lower end to the right).

    Principal axis of the central peak of the autocorrelation, an estimator independent of
    the generator (gradient-based structure tensors are biased for 1-px lines).
    """
    x = layer - layer.mean()
    spectrum = np.fft.fft2(x)
    acf = np.fft.fftshift(np.real(np.fft.ifft2(np.abs(spectrum) ** 2)))
    cy, cx = np.array(acf.shape) // 2
    win = acf[cy - radius : cy + radius + 1, cx - radius : cx + radius + 1]
    win = np.clip(win - 0.5 * win.max(), 0, None)
    ax = np.arange(-radius, radius + 1)
    yy, xx = np.meshgrid(ax, ax, indexing="ij")
    cov = np.array([[(win * xx * xx).sum(), (win * xx * yy).sum()], [(win * xx * yy).sum(), (win * yy * yy).sum()]])
    _, vecs = np.linalg.eigh(cov)
    dx, dy = vecs[:, 1]
    return float((np.degrees(np.arctan2(dx, dy)) + 90) % 180 - 90)


@pytest.mark.parametrize("angle", [-40.0, -15.0, 0.0, 20.0, 35.0])
def test_streak_orientation_follows_the_angle(angle):
    cfg = RainConfig(layers=(1, 1), angle=(angle, angle), angle_jitter=0.0, length=(25.0, 30.0))
    layer = rain_streaks(1, 128, 128, cfg, torch.Generator().manual_seed(0))[0, 0].double().numpy()
    assert streak_angle(layer) == pytest.approx(angle, abs=2.0)


def test_line_kernel_direction_and_length():
    k = line_kernels(torch.tensor([20.0, 20.0]), torch.tensor([0.0, 90.0]), 25)
    torch.testing.assert_close(k.sum(dim=(1, 2)), torch.ones(2))
    # 0 degrees: a vertical line in the centre column, 21 px long (length + half a px each end).
    assert torch.count_nonzero(k[0].sum(dim=0)) == 1 and torch.count_nonzero(k[0].sum(dim=1)) == 21
    # 90 degrees: the same line lying horizontally.
    torch.testing.assert_close(k[1], k[0].T, atol=1e-6, rtol=0)


def test_shapes_ranges_and_blending():
    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 48, 64, generator=g)
    rainy, streaks = add_rain(clean, RainConfig(), g)
    assert rainy.shape == clean.shape and streaks.shape == (2, 1, 48, 64)
    assert streaks.min() >= 0 and streaks.max() <= 1 and streaks.max() > 0.3
    assert rainy.min() >= 0 and rainy.max() <= 1
    assert torch.all(rainy >= clean - 1e-6)  # screen blending never darkens
    torch.testing.assert_close(rainy, 1 - (1 - clean) * (1 - streaks))
    torch.testing.assert_close(blend_rain(clean, streaks, "add"), (clean + streaks).clamp(0, 1))


def test_deterministic_per_seed():
    clean = torch.full((2, 3, 40, 40), 0.4)
    a = add_rain(clean, RainConfig(), torch.Generator().manual_seed(5))[0]
    b = add_rain(clean, RainConfig(), torch.Generator().manual_seed(5))[0]
    c = add_rain(clean, RainConfig(), torch.Generator().manual_seed(6))[0]
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # each image draws its own rain


def test_density_controls_the_amount_of_rain():
    def coverage(density: float) -> float:
        cfg = RainConfig(layers=(1, 1), density=(density, density))
        return rain_streaks(2, 64, 64, cfg, torch.Generator().manual_seed(0)).mean().item()

    light, heavy = coverage(0.001), coverage(0.02)
    assert 0 < light < heavy / 4
    assert rain_streaks(1, 32, 32, RainConfig(density=(0.0, 0.0)), torch.Generator()).max() == 0


def test_streaks_cover_the_borders():
    # Seeds are drawn on a margin, so the first/last rows get as much rain as the middle.
    cfg = RainConfig(layers=(1, 1), density=(0.01, 0.01), angle=(0.0, 0.0), angle_jitter=0.0)
    s = rain_streaks(8, 64, 64, cfg, torch.Generator().manual_seed(1))[:, 0]
    edge, middle = s[:, :4].mean().item(), s[:, 30:34].mean().item()
    assert edge == pytest.approx(middle, rel=0.35)


def test_bad_config_and_inputs_raise():
    with pytest.raises(ConfigError):
        RainConfig(angle=(-100.0, 0.0))
    with pytest.raises(ConfigError):
        RainConfig(layers=(0, 2))
    with pytest.raises(ConfigError):
        RainConfig(blend="multiply")  # type: ignore[arg-type]
    with pytest.raises(InputError):
        add_rain(torch.rand(3, 8, 8), RainConfig(), torch.Generator())
