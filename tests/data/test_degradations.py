"""Real-ESRGAN degradation: kernels, filtering, noise, JPEG and the full pipeline.

References: independent numpy/scipy kernel formulas written here, OpenCV's filter2D and JPEG
codec, hand-derived noise statistics.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from scipy import special

from vmambair_core.data.degrade.jpeg import jpeg_compress
from vmambair_core.data.degrade.kernels import (
    GAUSSIAN,
    GENERALIZED,
    PLATEAU,
    SINC,
    blur_kernels,
    filter2d,
    sample_blur_kernels,
    sample_final_sinc,
    trim_kernels,
)
from vmambair_core.data.degrade.noise import gaussian_noise, poisson_noise, random_noise
from vmambair_core.data.degrade.realesrgan import (
    BlurConfig,
    DegradationConfig,
    StageConfig,
    degrade_realesrgan,
    paired_random_crop,
    realesrgan_pair,
)
from vmambair_core.errors import ConfigError, InputError

# ----------------------------------------------------------------------------- references


def ref_kernel(kind: str, size: int, sx: float, sy: float, theta: float, beta: float = 1.0, omega: float = 1.0):
    """Real-ESRGAN's kernel formulas, in numpy, on a size x size grid, zero-padded to 21."""
    half = size // 2
    ax = np.arange(-half, half + 1, dtype=np.float64)
    xx, yy = np.meshgrid(ax, ax)  # xx varies along columns
    if kind == "sinc":
        r = np.hypot(xx, yy)
        with np.errstate(divide="ignore", invalid="ignore"):
            k = omega * special.j1(omega * r) / (2 * np.pi * r)
        k[half, half] = omega**2 / (4 * np.pi)
    else:
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        cov = rot @ np.diag([sx**2, sy**2]) @ rot.T
        inv = np.linalg.inv(cov)
        pts = np.stack([xx, yy], axis=-1)
        q = np.einsum("...i,ij,...j->...", pts, inv, pts)
        k = {"gauss": np.exp(-0.5 * q), "generalized": np.exp(-0.5 * q**beta), "plateau": 1 / (q**beta + 1)}[kind]
    k = k / k.sum()
    p = (21 - size) // 2
    return np.pad(k, p)


FAMILY = {"gauss": GAUSSIAN, "generalized": GENERALIZED, "plateau": PLATEAU, "sinc": SINC}


def build(kind: str, size: int, sx: float, sy: float, theta: float, beta: float = 1.0, omega: float = 1.0):
    t = lambda v: torch.tensor([v], dtype=torch.float64)  # noqa: E731
    return blur_kernels(
        torch.tensor([FAMILY[kind]]), torch.tensor([size]), t(sx), t(sy), t(theta), t(beta), t(omega), 21
    )[0].numpy()


def image_rgb(data_dir: Path, name: str = "baby") -> np.ndarray:
    bgr = cv2.imread(str(data_dir / "sr" / "Set5" / "HR" / f"{name}.png"), cv2.IMREAD_COLOR)
    assert bgr is not None
    return np.ascontiguousarray(bgr[..., ::-1])


def to_tensor(rgb: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 255.0


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


# ----------------------------------------------------------------------------- kernels


@pytest.mark.parametrize(
    ("kind", "size", "sx", "sy", "theta", "beta", "omega"),
    [
        ("gauss", 21, 2.0, 2.0, 0.0, 1.0, 1.0),
        ("gauss", 13, 2.5, 0.7, 0.6, 1.0, 1.0),
        ("generalized", 15, 1.8, 1.1, -1.2, 0.6, 1.0),
        ("generalized", 9, 1.3, 1.3, 0.0, 3.5, 1.0),
        ("plateau", 17, 2.2, 0.9, 2.5, 1.7, 1.0),
        ("sinc", 7, 1.0, 1.0, 0.0, 1.0, 2.0),
        ("sinc", 21, 1.0, 1.0, 0.0, 1.0, math.pi / 5 + 0.1),
    ],
)
def test_kernels_match_the_reference_formulas(kind, size, sx, sy, theta, beta, omega):
    ours = build(kind, size, sx, sy, theta, beta, omega)
    ref = ref_kernel(kind, size, sx, sy, theta, beta, omega)
    # torch's Bessel J1 is accurate to ~1e-7 relative, the closed forms to rounding.
    tol = {"rtol": 1e-6, "atol": 1e-7} if kind == "sinc" else {"rtol": 1e-9, "atol": 1e-12}
    np.testing.assert_allclose(ours, ref, **tol)
    assert ours.sum() == pytest.approx(1.0, abs=1e-12)
    outside = np.ones((21, 21), bool)
    p = (21 - size) // 2
    outside[p : 21 - p, p : 21 - p] = False
    assert np.all(ours[outside] == 0)


def test_isotropic_kernels_are_symmetric():
    for kind in ("gauss", "generalized", "plateau", "sinc"):
        k = build(kind, 15, 1.7, 1.7, 0.0, 0.8, 2.0)
        np.testing.assert_allclose(k, k.T, atol=1e-15)
        np.testing.assert_allclose(k, k[::-1], atol=1e-15)
        np.testing.assert_allclose(k, k[:, ::-1], atol=1e-15)


def _second_moments(k: np.ndarray) -> tuple[float, float]:
    ax = np.arange(21) - 10
    yy, xx = np.meshgrid(ax, ax, indexing="ij")
    return float((k * xx**2).sum()), float((k * yy**2).sum())


def test_sigma_sets_the_width_along_the_rotated_axes():
    # Untruncated Gaussian on a 21 grid: second moment along x is sx^2, along y sy^2.
    vx, vy = _second_moments(build("gauss", 21, 1.5, 0.8, 0.0))
    assert vx == pytest.approx(1.5**2, rel=1e-3)
    assert vy == pytest.approx(0.8**2, rel=1e-3)
    # Rotating by 90 degrees swaps the axes.
    vx, vy = _second_moments(build("gauss", 21, 1.5, 0.8, math.pi / 2))
    assert vx == pytest.approx(0.8**2, rel=1e-3)
    assert vy == pytest.approx(1.5**2, rel=1e-3)
    widths = [_second_moments(build("gauss", 21, s, s, 0.0))[0] for s in (0.5, 1.0, 2.0, 3.0)]
    assert widths == sorted(widths) and widths[0] < widths[-1] / 10


def _support_side(k: torch.Tensor) -> int:
    rows = torch.nonzero(k.abs().sum(dim=1) > 0).flatten()
    cols = torch.nonzero(k.abs().sum(dim=0) > 0).flatten()
    assert rows.min() + rows.max() == 20 and cols.min() + cols.max() == 20  # centred
    return int(max(rows.max() - rows.min(), cols.max() - cols.min()) + 1)


def test_sampled_kernels_sum_to_one_with_odd_centred_sizes():
    g = torch.Generator().manual_seed(0)
    cfg = DegradationConfig()
    for blur in (cfg.first.blur, cfg.second.blur, BlurConfig(sinc_prob=1.0)):
        kernels = sample_blur_kernels(64, blur, cfg.kernel_sizes, g)
        assert kernels.shape == (64, 21, 21)
        torch.testing.assert_close(kernels.sum(dim=(1, 2)), torch.ones(64), atol=1e-5, rtol=0)
        for k in kernels:
            _support_side(k)  # thin anisotropic kernels may underflow to 0 inside their size
    # Wide isotropic Gaussians never underflow: their support is exactly the drawn size.
    wide = BlurConfig(kernel_prob=(1, 0, 0, 0, 0, 0), sigma=(3.0, 3.0), sinc_prob=0.0)
    sizes = [_support_side(k) for k in sample_blur_kernels(64, wide, cfg.kernel_sizes, g)]
    assert set(sizes) == set(cfg.kernel_sizes)


def test_final_sinc_is_a_pulse_when_not_drawn():
    g = torch.Generator().manual_seed(1)
    pulse = sample_final_sinc(4, 0.0, (7, 21), g)
    expected = torch.zeros(4, 21, 21)
    expected[:, 10, 10] = 1
    torch.testing.assert_close(pulse, expected)
    sinc = sample_final_sinc(16, 1.0, (7, 21), g)
    torch.testing.assert_close(sinc.sum(dim=(1, 2)), torch.ones(16), atol=1e-5, rtol=0)
    assert (sinc < 0).any()  # ringing lobes


def test_filter2d_equals_opencv_per_image():
    rng = np.random.default_rng(0)
    img = rng.random((2, 3, 40, 33)).astype(np.float32)
    k = build("gauss", 9, 2.0, 0.9, 0.7)
    k2 = build("sinc", 13, 1.0, 1.0, 0.0, 1.0, 1.3)
    kernels = torch.from_numpy(np.stack([k, k2])).float()
    ours = filter2d(torch.from_numpy(img), kernels).numpy()
    for i, kern in enumerate((k, k2)):
        for c in range(3):
            ref = cv2.filter2D(img[i, c], -1, kern.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)
            np.testing.assert_allclose(ours[i, c], ref, atol=1e-5)


def test_filter2d_with_kernels_cut_to_their_support_equals_the_zero_padded_21x21():
    """Kernels of sizes 7-11 padded to 21: the cut convolution matches OpenCV's with the whole 21x21
    kernel (and the smallest image it needs is set by the real support, not by 21)."""
    g = torch.Generator().manual_seed(4)
    kernels = sample_blur_kernels(4, BlurConfig(sinc_prob=0.5), (7, 9, 11), g, pad=21)
    assert trim_kernels(kernels).shape[-1] <= 11
    img = torch.from_numpy(np.random.default_rng(1).random((4, 3, 40, 33)).astype(np.float32))
    ours = filter2d(img, kernels).numpy()
    for i in range(4):
        for c in range(3):
            ref = cv2.filter2D(img[i, c].numpy(), -1, kernels[i].numpy(), borderType=cv2.BORDER_REFLECT_101)
            np.testing.assert_allclose(ours[i, c], ref, atol=1e-5)
    small = torch.rand(1, 3, 8, 8)
    pulse = torch.zeros(1, 21, 21)
    pulse[0, 9:12, 9:12] = 1 / 9  # a 3x3 box padded to 21: fits an 8x8 image
    expected = cv2.filter2D(small[0, 0].numpy(), -1, np.full((3, 3), 1 / 9, np.float32), borderType=cv2.BORDER_REFLECT_101)
    np.testing.assert_allclose(filter2d(small, pulse)[0, 0].numpy(), expected, atol=1e-6)


def test_filter2d_rejects_images_smaller_than_half_a_kernel():
    with pytest.raises(InputError):
        filter2d(torch.rand(1, 3, 10, 40), torch.ones(1, 21, 21) / 441)


# ----------------------------------------------------------------------------- noise


def test_gaussian_noise_has_the_requested_sigma_and_grey_mode():
    g = torch.Generator().manual_seed(0)
    img = torch.full((2, 3, 128, 128), 0.5)
    noise = gaussian_noise(img, torch.tensor([10.0, 25.0]), torch.tensor([False, True]), g)
    std = noise.flatten(1).std(dim=1) * 255
    assert std[0].item() == pytest.approx(10.0, rel=0.03)
    assert std[1].item() == pytest.approx(25.0, rel=0.03)
    assert noise[0].mean().abs() < 3 * 10 / 255 / math.sqrt(3 * 128 * 128)
    torch.testing.assert_close(noise[1, 0], noise[1, 2])  # grey: one draw for all channels
    assert (noise[0, 0] - noise[0, 1]).abs().mean() > 1e-2  # colour: independent channels


def test_poisson_noise_is_mean_preserving_with_the_shot_variance():
    g = torch.Generator().manual_seed(0)
    # A ramp holding all 256 levels: the level count rounds to v = 256, so the noise of a pixel
    # x has mean 0 and variance x / 256 (times scale^2).
    levels = torch.arange(256, dtype=torch.float32) / 255
    img = levels.repeat(3, 160, 1)[None].repeat(2, 1, 1, 1)  # (2, 3, 160, 256)
    scale = torch.tensor([1.0, 2.5])
    noise = poisson_noise(img, scale, torch.tensor([False, False]), g)
    for i in range(2):
        n = noise[i].double()
        expected_var = float(scale[i] ** 2 * img[i].double().mean() / 256)
        assert n.var().item() == pytest.approx(expected_var, rel=0.03)
        assert abs(n.mean().item()) < 4 * math.sqrt(expected_var / n.numel())
    # Grey Poisson noise is the same in all channels.
    grey = poisson_noise(img[:1], 1.0, torch.tensor([True]), g)
    torch.testing.assert_close(grey[0, 0], grey[0, 1])


def test_poisson_noise_counts_levels_per_image():
    g = torch.Generator().manual_seed(0)
    # Image 0 has 2 grey levels (v = 2), image 1 all 256 (v = 256): very different variances.
    two = torch.where(torch.rand(1, 3, 64, 64, generator=g) < 0.5, 0.0, 1.0) * (128 / 255)
    ramp = (torch.arange(64 * 64) % 256).float().reshape(1, 1, 64, 64).expand(1, 3, 64, 64) / 255
    noise = poisson_noise(torch.cat([two, ramp]), 1.0, torch.tensor([False, False]), g)
    var_two = two.mean().item() / 2
    var_ramp = ramp.mean().item() / 256
    assert noise[0].var().item() == pytest.approx(var_two, rel=0.1)
    assert noise[1].var().item() == pytest.approx(var_ramp, rel=0.1)


def test_random_noise_clips_to_unit_range():
    g = torch.Generator().manual_seed(0)
    img = torch.rand(3, 3, 32, 32, generator=g)
    for p in (0.0, 1.0):
        out = random_noise(img, StageConfig(gaussian_noise_prob=p), g)
        assert out.min() >= 0 and out.max() <= 1 and not torch.equal(out, img)


# ----------------------------------------------------------------------------- JPEG


def test_jpeg_error_decreases_with_quality_and_tracks_opencv(data_dir):
    rgb = image_rgb(data_dir)[:200, :232]  # not a multiple of 16: exercises the padding
    x = to_tensor(rgb)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    errors = []
    for q in (20, 40, 60, 80, 95):
        ours = jpeg_compress(x, float(q))[0].permute(1, 2, 0).numpy()
        assert ours.shape == rgb.shape
        _, enc = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, q])
        ref = cv2.imdecode(enc, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255
        errors.append(np.mean((ours - rgb / 255.0) ** 2))
        # Same codec up to table rounding and chroma upsampling: close to OpenCV's decode and
        # as lossy as it (within 1 dB).
        assert psnr(ours, ref) > 37.0
        assert abs(psnr(ours, rgb / 255.0) - psnr(ref, rgb / 255.0)) < 1.0
    assert all(a > b for a, b in zip(errors, errors[1:]))
    assert errors[-1] > 1e-5  # still lossy at 95


def test_jpeg_uses_a_quality_per_image(data_dir):
    x = to_tensor(image_rgb(data_dir, "bird")[:64, :80])
    batch = jpeg_compress(x.repeat(2, 1, 1, 1), torch.tensor([30.0, 90.0]))
    torch.testing.assert_close(batch[0], jpeg_compress(x, 30.0)[0])
    torch.testing.assert_close(batch[1], jpeg_compress(x, 90.0)[0])
    assert not torch.equal(batch[0], batch[1])
    assert torch.isfinite(jpeg_compress(x, 100.0)).all()
    with pytest.raises(InputError):
        jpeg_compress(x, 0.5)


# ----------------------------------------------------------------------------- pipeline

HR_SIDE = 96  # above DegradationConfig().min_hr_size() (76), small enough for CPU tests


def _hr(seed: int = 0, b: int = 2) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    # Smooth content plus texture, like a natural image patch.
    base = torch.nn.functional.interpolate(torch.rand(b, 3, 4, 4, generator=g), size=HR_SIDE, mode="bicubic")
    return (base + 0.1 * torch.rand(b, 3, HR_SIDE, HR_SIDE, generator=g)).clamp(0, 1)


def test_pipeline_output_shape_range_and_8bit_values():
    cfg = DegradationConfig()
    lq = degrade_realesrgan(_hr(), cfg, torch.Generator().manual_seed(0))
    assert lq.shape == (2, 3, HR_SIDE // 4, HR_SIDE // 4)
    assert lq.min() >= 0 and lq.max() <= 1
    assert torch.allclose(lq * 255, (lq * 255).round(), atol=1e-4)


def test_pipeline_is_deterministic_per_seed():
    cfg, hr = DegradationConfig(), _hr()
    a = degrade_realesrgan(hr, cfg, torch.Generator().manual_seed(7))
    b = degrade_realesrgan(hr, cfg, torch.Generator().manual_seed(7))
    c = degrade_realesrgan(hr, cfg, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize(
    "cfg",
    [
        DegradationConfig(first=StageConfig(resize_prob=(1, 0, 0), gaussian_noise_prob=0.0, gray_noise_prob=1.0)),
        DegradationConfig(
            second=StageConfig(blur=BlurConfig(sinc_prob=1.0), resize_prob=(0, 1, 0), resize_range=(0.3, 1.2)),
            final_sinc_prob=1.0,
            sinc_first_prob=0.0,
        ),
        DegradationConfig(final_sinc_prob=0.0, sinc_first_prob=1.0, kernel_sizes=(7,)),
    ],
    ids=["up-poisson-grey", "down-sinc-jpeg-first", "no-final-sinc"],
)
def test_pipeline_branches_stay_valid(cfg):
    hr = _hr(1)
    lq = degrade_realesrgan(hr, cfg, torch.Generator().manual_seed(3))
    assert lq.shape == (2, 3, HR_SIDE // 4, HR_SIDE // 4)
    assert torch.isfinite(lq).all() and lq.min() >= 0 and lq.max() <= 1
    # Degraded but still the same picture: close to a plain 4x average-pool of the HR.
    ref = torch.nn.functional.avg_pool2d(hr, 4)
    assert (lq - ref).abs().mean() < 0.15


def test_pipeline_validates_its_inputs():
    cfg = DegradationConfig()
    g = torch.Generator()
    with pytest.raises(InputError, match="multiple of scale"):
        degrade_realesrgan(torch.rand(1, 3, 98, 96), cfg, g)
    with pytest.raises(InputError, match="below"):
        degrade_realesrgan(torch.rand(1, 3, 64, 64), cfg, g)
    with pytest.raises(InputError):
        degrade_realesrgan(torch.rand(1, 1, 96, 96), cfg, g)


def test_config_defaults_are_the_authors_and_bad_values_raise():
    cfg = DegradationConfig()
    assert cfg.first.blur.kernel_prob == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    assert (cfg.first.blur.sigma, cfg.second.blur.sigma) == ((0.2, 3.0), (0.2, 1.5))
    assert (cfg.second.blur_prob, cfg.final_sinc_prob, cfg.hr_crop, cfg.gt_size) == (0.8, 0.8, 600, 256)
    assert cfg.second.resize_prob == (0.3, 0.4, 0.3) and cfg.second.resize_range == (0.3, 1.2)
    assert cfg.second.noise_range == (1.0, 25.0) and cfg.second.poisson_scale_range == (0.05, 2.5)
    assert cfg.kernel_pad == 21
    with pytest.raises(ConfigError):
        StageConfig(jpeg_range=(30.0, 120.0))
    with pytest.raises(ConfigError):
        BlurConfig(kernel_prob=(1.0, 0.0))
    with pytest.raises(ConfigError):
        BlurConfig(betag=(1.5, 4.0))
    with pytest.raises(ConfigError):
        DegradationConfig(kernel_sizes=(7, 8))
    with pytest.raises(ConfigError):
        DegradationConfig(gt_size=250)
    with pytest.raises(Exception):  # frozen
        cfg.scale = 2  # type: ignore[misc]


def test_paired_crop_keeps_hr_and_lq_aligned():
    g = torch.Generator().manual_seed(0)
    hr = torch.rand(2, 3, 96, 128, generator=g)
    lq = torch.nn.functional.avg_pool2d(hr, 4)
    hr_patch, lq_patch = paired_random_crop(hr, lq, 32, 4, g)
    assert hr_patch.shape == (2, 3, 32, 32) and lq_patch.shape == (2, 3, 8, 8)
    torch.testing.assert_close(torch.nn.functional.avg_pool2d(hr_patch, 4), lq_patch)
    with pytest.raises(InputError):
        paired_random_crop(hr, lq, 256, 4, g)


def test_realesrgan_pair_crops_gt_size():
    cfg = DegradationConfig(gt_size=64)
    hr_patch, lq_patch = realesrgan_pair(_hr(), cfg, torch.Generator().manual_seed(0))
    assert hr_patch.shape == (2, 3, 64, 64) and lq_patch.shape == (2, 3, 16, 16)
