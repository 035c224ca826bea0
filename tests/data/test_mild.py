"""The mild degradation: what each stage does, measured against the stage computed directly."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vmambair_core.data.degrade.mild import MildConfig, degrade_mild
from vmambair_core.errors import ConfigError, InputError


def _smooth_hr(b: int = 2, size: int = 64) -> torch.Tensor:
    """A smooth grey picture: area and bicubic downscales agree closely, and JPEG's chroma subsampling
    has nothing to lose."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    base = 0.5 + 0.3 * torch.sin(3 * x) * torch.cos(2 * y)
    return base.expand(b, 3, size, size).contiguous()


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_deterministic_per_seed_and_8_bit() -> None:
    hr = torch.rand(3, 3, 48, 48)
    a = degrade_mild(hr, MildConfig(), _gen(1))
    b = degrade_mild(hr, MildConfig(), _gen(1))
    c = degrade_mild(hr, MildConfig(), _gen(2))
    assert a.shape == (3, 3, 12, 12)
    assert torch.equal(a, b)  # the same computation with the same draws
    assert not torch.equal(a, c)
    assert torch.equal(a, torch.round(a * 255) / 255)


def test_without_noise_and_jpeg_it_is_a_clean_downscale() -> None:
    """Blur sigma ~0, no noise, JPEG 100: within JPEG-100 rounding of a plain x4 area/bicubic downscale."""
    hr = _smooth_hr()
    cfg = MildConfig(blur_sigma=(0.05, 0.05), noise_range=(0.0, 0.0), jpeg_range=(100.0, 100.0))
    lq = degrade_mild(hr, cfg, _gen())
    clean = F.interpolate(hr, size=(16, 16), mode="area")
    assert (lq - clean).abs().max() < 3 / 255


def test_noise_strength_follows_the_range() -> None:
    """sigma 5/255 grey noise: the residual's std lands within 15 % of it (JPEG 100 keeps grey noise, tiny blur)."""
    hr = _smooth_hr(b=4, size=256)
    quiet = MildConfig(blur_sigma=(0.05, 0.05), noise_range=(0.0, 0.0), jpeg_range=(100.0, 100.0),
                       gray_noise_prob=1.0)
    noisy = MildConfig(blur_sigma=(0.05, 0.05), noise_range=(5.0, 5.0), jpeg_range=(100.0, 100.0),
                       gray_noise_prob=1.0)
    std = float((degrade_mild(hr, noisy, _gen()) - degrade_mild(hr, quiet, _gen())).std())
    assert abs(std - 5 / 255) < 0.15 * 5 / 255


def test_blur_softens() -> None:
    """A sigma-1.5 blur before the downscale lowers the LQ's high-frequency energy."""
    hr = torch.rand(1, 3, 64, 64)
    sharp = MildConfig(blur_sigma=(0.05, 0.05), noise_range=(0.0, 0.0), jpeg_range=(100.0, 100.0))
    soft = MildConfig(blur_sigma=(1.5, 1.5), noise_range=(0.0, 0.0), jpeg_range=(100.0, 100.0))

    def detail(x: torch.Tensor) -> float:
        return float((x[..., 1:, :] - x[..., :-1, :]).abs().mean())

    assert detail(degrade_mild(hr, soft, _gen())) < 0.8 * detail(degrade_mild(hr, sharp, _gen()))


def test_bad_config_and_input_are_refused() -> None:
    with pytest.raises(ConfigError):
        MildConfig(prob=1.5)
    with pytest.raises(ConfigError):
        MildConfig(jpeg_range=(95.0, 70.0))
    with pytest.raises(InputError):
        degrade_mild(torch.rand(1, 3, 30, 30), MildConfig(), _gen())
