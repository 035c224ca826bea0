"""Frozen configuration of the Real-ESRGAN second-order degradation.

Defaults are the authors' realsr recipe (``docs/architecture.md`` §7, the ``RealESRGANDataset``
options of ``RealSR/options/mambaSR11*_x4.yml``); field names follow the Real-ESRGAN option
keys so a YAML/TOML recipe maps one to one (``blur_sigma2`` -> ``second.blur.sigma``, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from vmambair_core.errors import ConfigError

#: Blur-kernel families in the order of ``BlurConfig.kernel_prob`` (Real-ESRGAN's ``kernel_list``).
KERNEL_KINDS: tuple[str, ...] = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
)

#: Interpolation modes drawn uniformly for every random resize (as in Real-ESRGAN's ``feed_data``).
RESIZE_MODES: tuple[str, ...] = ("area", "bilinear", "bicubic")


def _check_range(name: str, value: tuple[float, float], low: float, high: float) -> None:
    if len(value) != 2:
        raise ConfigError(f"{name} must be a (min, max) pair, got {value!r}")
    a, b = float(value[0]), float(value[1])
    if not (math.isfinite(a) and math.isfinite(b)) or a > b or a < low or b > high:
        raise ConfigError(f"{name} must satisfy {low} <= min <= max <= {high}, got {value!r}")


def _check_prob(name: str, value: float) -> None:
    if not 0.0 <= float(value) <= 1.0:
        raise ConfigError(f"{name} must be a probability in [0, 1], got {value!r}")


def _check_weights(name: str, value: tuple[float, ...], length: int) -> None:
    if len(value) != length or any(w < 0 for w in value) or sum(value) <= 0:
        raise ConfigError(
            f"{name} must hold {length} non-negative weights with a positive sum, got {value!r}"
        )


@dataclass(frozen=True)
class BlurConfig:
    """Random blur kernel of one degradation stage (Real-ESRGAN's dataset-side kernel options)."""

    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    """Weights of ``KERNEL_KINDS`` (iso, aniso, generalized iso/aniso, plateau iso/aniso)."""
    sigma: tuple[float, float] = (0.2, 3.0)
    """Range of the Gaussian widths sigma_x, sigma_y in pixels (``blur_sigma``)."""
    betag: tuple[float, float] = (0.5, 4.0)
    """Shape range of the generalized Gaussian; half the draws below 1, half above (``betag_range``)."""
    betap: tuple[float, float] = (1.0, 2.0)
    """Shape range of the plateau kernel, drawn like ``betag`` (``betap_range``)."""
    sinc_prob: float = 0.1
    """Probability that the kernel is a circular sinc (low-pass with ringing) instead."""

    def __post_init__(self) -> None:
        _check_weights("kernel_prob", self.kernel_prob, len(KERNEL_KINDS))
        _check_range("sigma", self.sigma, 1e-3, 100.0)
        _check_range("betag", self.betag, 1e-3, 100.0)
        _check_range("betap", self.betap, 1e-3, 100.0)
        # Real-ESRGAN draws beta from [lo, 1) or [1, hi]: the range must straddle 1.
        for name, rng in (("betag", self.betag), ("betap", self.betap)):
            if not rng[0] <= 1.0 <= rng[1]:
                raise ConfigError(f"{name} must contain 1 (half the draws fall on each side), got {rng!r}")
        _check_prob("sinc_prob", self.sinc_prob)


@dataclass(frozen=True)
class StageConfig:
    """One blur -> resize -> noise -> JPEG round of the second-order model."""

    blur: BlurConfig = field(default_factory=BlurConfig)
    blur_prob: float = 1.0
    """Probability of blurring at all (1 in the first stage, ``second_blur_prob`` in the second)."""
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)
    """Weights of resizing up / down / keeping the size."""
    resize_range: tuple[float, float] = (0.15, 1.5)
    """Scale range: ``up`` draws from [1, max], ``down`` from [min, 1]."""
    gaussian_noise_prob: float = 0.5
    """Probability of Gaussian noise; Poisson noise otherwise."""
    noise_range: tuple[float, float] = (1.0, 30.0)
    """Gaussian sigma range on the 0..255 scale."""
    poisson_scale_range: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    """Per-image probability that the noise is the same in all three channels."""
    jpeg_range: tuple[float, float] = (30.0, 95.0)
    """JPEG quality range, drawn per image."""

    def __post_init__(self) -> None:
        _check_prob("blur_prob", self.blur_prob)
        _check_weights("resize_prob", self.resize_prob, 3)
        _check_range("resize_range", self.resize_range, 1e-3, 100.0)
        if not self.resize_range[0] <= 1.0 <= self.resize_range[1]:
            raise ConfigError(f"resize_range must contain 1 (down below, up above), got {self.resize_range!r}")
        _check_prob("gaussian_noise_prob", self.gaussian_noise_prob)
        _check_range("noise_range", self.noise_range, 0.0, 255.0)
        _check_range("poisson_scale_range", self.poisson_scale_range, 0.0, 100.0)
        _check_prob("gray_noise_prob", self.gray_noise_prob)
        _check_range("jpeg_range", self.jpeg_range, 1.0, 100.0)


def _second_stage() -> StageConfig:
    return StageConfig(
        blur=BlurConfig(sigma=(0.2, 1.5)),
        blur_prob=0.8,
        resize_prob=(0.3, 0.4, 0.3),
        resize_range=(0.3, 1.2),
        noise_range=(1.0, 25.0),
        poisson_scale_range=(0.05, 2.5),
    )


@dataclass(frozen=True)
class DegradationConfig:
    """Every parameter of the realsr degradation; the defaults are the authors' values.

    ``hr_crop`` (the dataset's crop/pad size, 600 in VmambaIR, 400 in Real-ESRGAN) is kept here
    for the data loader; the degradation itself works on any size of at least
    :meth:`min_hr_size`.
    """

    scale: int = 4
    gt_size: int = 256
    """HR crop taken after degrading (LQ crop = gt_size // scale)."""
    hr_crop: int = 600
    kernel_sizes: tuple[int, ...] = (7, 9, 11, 13, 15, 17, 19, 21)
    """Odd blur/sinc kernel sizes drawn uniformly; kernels are zero-padded to the largest."""
    first: StageConfig = field(default_factory=StageConfig)
    second: StageConfig = field(default_factory=_second_stage)
    final_sinc_prob: float = 0.8
    """Probability of the final sinc filter (an identity pulse otherwise)."""
    sinc_first_prob: float = 0.5
    """Probability of [resize back + sinc] before the last JPEG rather than after it."""

    def __post_init__(self) -> None:
        if self.scale < 1:
            raise ConfigError(f"scale must be a positive integer, got {self.scale!r}")
        if self.gt_size < self.scale or self.gt_size % self.scale:
            raise ConfigError(f"gt_size must be a positive multiple of scale {self.scale}, got {self.gt_size!r}")
        if self.hr_crop < self.gt_size:
            raise ConfigError(f"hr_crop ({self.hr_crop}) must be at least gt_size ({self.gt_size})")
        if not self.kernel_sizes or any(k < 1 or k % 2 == 0 for k in self.kernel_sizes):
            raise ConfigError(f"kernel_sizes must be odd positive integers, got {self.kernel_sizes!r}")
        _check_prob("final_sinc_prob", self.final_sinc_prob)
        _check_prob("sinc_first_prob", self.sinc_first_prob)

    @property
    def kernel_pad(self) -> int:
        """Side of the padded kernels (21 for the default sizes)."""
        return max(self.kernel_sizes)

    def min_hr_size(self) -> int:
        """Smallest HR side for which every reflect padding of a blur fits the image.

        The second-stage blur runs on the first-stage output (as small as ``resize_range[0]``
        times the HR side) and the final sinc on the LQ size; reflect padding needs more pixels
        than half a kernel in both places.
        """
        need = self.kernel_pad // 2 + 1
        size = self.scale * need
        while math.floor(size * self.first.resize_range[0]) < need:
            size += self.scale
        return size
