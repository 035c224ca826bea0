"""Blur kernels of the Real-ESRGAN degradation, built batched on the training device.

Every kernel is laid on a common ``pad`` x ``pad`` grid centred at zero (x = column offset,
y = row offset) and masked to its own odd ``size``, which equals Real-ESRGAN's "build at
``size``, normalise, zero-pad to 21". With the rotated coordinates
``u = x cos t + y sin t``, ``v = -x sin t + y cos t`` and ``Q = u^2 / sx^2 + v^2 / sy^2``
(the quadratic form of the rotated covariance ``U diag(sx^2, sy^2) U^T``):

* Gaussian              ``exp(-Q / 2)``
* generalized Gaussian  ``exp(-Q^beta / 2)``      (beta < 1 heavy tails, > 1 flat top)
* plateau               ``1 / (1 + Q^beta)``
* circular sinc         ``w J1(w r) / (2 pi r)``, ``w^2 / (4 pi)`` at r = 0 (cutoff w in rad)

each normalised to sum 1. Isotropic kinds use ``sy = sx`` and ``t = 0``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from vmambair_core.data.degrade.config import BlurConfig
from vmambair_core.errors import InputError

# Kernel families as built by ``blur_kernels`` (the isotropic/anisotropic split is in the sigmas).
GAUSSIAN, GENERALIZED, PLATEAU, SINC = 0, 1, 2, 3
# KERNEL_KINDS index -> (family, isotropic)
_KIND_FAMILY = (GAUSSIAN, GAUSSIAN, GENERALIZED, GENERALIZED, PLATEAU, PLATEAU)
_KIND_ISO = (True, False, True, False, True, False)


def _grid(pad: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    half = pad // 2
    ax = torch.arange(-half, half + 1, device=device, dtype=dtype)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    return xx, yy


def _as_batch(value: Tensor | float, batch: int, device: torch.device, dtype: torch.dtype) -> Tensor:
    return torch.as_tensor(value, device=device, dtype=dtype).expand(batch).reshape(-1, 1, 1)


def blur_kernels(
    family: Tensor,
    size: Tensor,
    sigma_x: Tensor,
    sigma_y: Tensor,
    theta: Tensor,
    beta: Tensor,
    omega: Tensor,
    pad: int = 21,
) -> Tensor:
    """Build one kernel per batch entry: (B,) parameters -> (B, pad, pad), each summing to 1.

    ``family`` holds ``GAUSSIAN``/``GENERALIZED``/``PLATEAU``/``SINC``; ``size`` the odd support
    (<= pad); ``theta`` is in radians; ``beta`` is ignored by Gaussian and sinc kernels and
    ``omega`` (sinc cutoff, radians) by all others.
    """
    if pad % 2 == 0:
        raise InputError(f"kernel pad must be odd, got {pad}")
    if bool(((size % 2) == 0).any()) or bool((size > pad).any()) or bool((size < 1).any()):
        raise InputError(f"kernel sizes must be odd and at most {pad}, got {size.tolist()}")
    dtype = sigma_x.dtype if sigma_x.is_floating_point() else torch.float32
    device, batch = sigma_x.device, family.shape[0]
    xx, yy = _grid(pad, device, dtype)
    sx, sy, t, b, w = (_as_batch(v, batch, device, dtype) for v in (sigma_x, sigma_y, theta, beta, omega))
    cos, sin = torch.cos(t), torch.sin(t)
    u = xx * cos + yy * sin
    v = -xx * sin + yy * cos
    q = u.square() / sx.square() + v.square() / sy.square()  # (B, pad, pad)

    gauss = torch.exp(-0.5 * q)
    generalized = torch.exp(-0.5 * q.pow(b))
    plateau = torch.reciprocal(q.pow(b) + 1.0)
    r = torch.sqrt(xx.square() + yy.square()).expand_as(q)
    r_safe = torch.where(r > 0, r, torch.ones_like(r))
    sinc = torch.where(
        r > 0,
        w * torch.special.bessel_j1(w * r_safe) / (2 * math.pi * r_safe),
        w.square() / (4 * math.pi),
    )

    fam = family.to(device).reshape(-1, 1, 1)
    kernel = torch.where(
        fam == GAUSSIAN, gauss, torch.where(fam == GENERALIZED, generalized, torch.where(fam == PLATEAU, plateau, sinc))
    )
    half = size.to(device).reshape(-1, 1, 1) // 2
    inside = (xx.abs() <= half) & (yy.abs() <= half)
    kernel = kernel * inside
    return kernel / kernel.sum(dim=(1, 2), keepdim=True)


def _uniform(n: int, low: float, high: float, generator: torch.Generator) -> Tensor:
    return low + (high - low) * torch.rand(n, generator=generator, device=generator.device)


def _split_beta(n: int, rng: tuple[float, float], generator: torch.Generator) -> Tensor:
    """Half the draws in [lo, 1), half in [1, hi] (Real-ESRGAN's beta sampling)."""
    below = torch.rand(n, generator=generator, device=generator.device) < 0.5
    return torch.where(below, _uniform(n, rng[0], 1.0, generator), _uniform(n, 1.0, rng[1], generator))


def _choose_sizes(n: int, sizes: tuple[int, ...], generator: torch.Generator) -> Tensor:
    choice = torch.randint(len(sizes), (n,), generator=generator, device=generator.device)
    return torch.tensor(sizes, device=generator.device)[choice]


def sample_blur_kernels(
    batch: int, blur: BlurConfig, sizes: tuple[int, ...], generator: torch.Generator, pad: int = 21
) -> Tensor:
    """Draw ``batch`` first/second-stage blur kernels: (B, pad, pad) on ``generator.device``.

    Per image: an odd size from ``sizes``; with ``blur.sinc_prob`` a sinc kernel (cutoff in
    [pi/3, pi] below size 13, [pi/5, pi] from 13 on), otherwise a kind from ``KERNEL_KINDS``
    weighted by ``blur.kernel_prob`` with sigmas in ``blur.sigma``, a rotation in [-pi, pi]
    and a shape beta for the generalized/plateau kinds.
    """
    g = generator
    size = _choose_sizes(batch, sizes, g)
    is_sinc = torch.rand(batch, generator=g, device=g.device) < blur.sinc_prob
    omega_low = torch.where(size < 13, math.pi / 3, math.pi / 5)
    omega = omega_low + (math.pi - omega_low) * torch.rand(batch, generator=g, device=g.device)

    weights = torch.tensor(blur.kernel_prob, device=g.device, dtype=torch.float64)
    kind = torch.multinomial(weights, batch, replacement=True, generator=g)
    family = torch.tensor(_KIND_FAMILY, device=g.device)[kind]
    iso = torch.tensor(_KIND_ISO, device=g.device)[kind]
    sigma_x = _uniform(batch, blur.sigma[0], blur.sigma[1], g)
    sigma_y = torch.where(iso, sigma_x, _uniform(batch, blur.sigma[0], blur.sigma[1], g))
    theta = torch.where(iso, torch.zeros_like(sigma_x), _uniform(batch, -math.pi, math.pi, g))
    beta = torch.where(family == PLATEAU, _split_beta(batch, blur.betap, g), _split_beta(batch, blur.betag, g))

    family = torch.where(is_sinc, torch.full_like(family, SINC), family)
    return blur_kernels(family, size, sigma_x, sigma_y, theta, beta, omega, pad)


def sample_final_sinc(
    batch: int, prob: float, sizes: tuple[int, ...], generator: torch.Generator, pad: int = 21
) -> Tensor:
    """Final sinc kernels (cutoff in [pi/3, pi]) with probability ``prob``, else identity pulses."""
    g = generator
    use = torch.rand(batch, generator=g, device=g.device) < prob
    size = _choose_sizes(batch, sizes, g)
    omega = _uniform(batch, math.pi / 3, math.pi, g)
    ones = torch.ones(batch, device=g.device)
    sinc = blur_kernels(torch.full((batch,), SINC, device=g.device), size, ones, ones, ones * 0, ones, omega, pad)
    pulse = torch.zeros_like(sinc)
    pulse[:, pad // 2, pad // 2] = 1.0
    return torch.where(use.reshape(-1, 1, 1), sinc, pulse)


def trim_kernels(kernel: Tensor) -> Tensor:
    """Cut (B, k, k) zero-padded kernels to the smallest centred odd square holding every non-zero tap.

    Sizes are drawn per image but padded to the largest (21): a batch whose kernels are all
    smaller convolves with fewer taps, and the result is the same up to rounding (the cut taps
    are zeros, and the reflect padding they would have read is only multiplied by them).
    """
    k = kernel.shape[-1]
    taps = (kernel != 0).any(dim=0).nonzero()
    if taps.numel() == 0:
        return kernel
    r = int((taps - k // 2).abs().max())
    return kernel[:, k // 2 - r : k // 2 + r + 1, k // 2 - r : k // 2 + r + 1]


def filter2d(img: Tensor, kernel: Tensor) -> Tensor:
    """Correlate each image of (B, C, H, W) with its own (B, k, k) kernel (odd k), reflect-padded.

    One grouped convolution for the whole batch, like BasicSR's ``filter2D`` (cv2.filter2D
    semantics); the kernel is applied to every channel, cut to the batch's real support first.
    """
    b, c, h, w = img.shape
    k = kernel.shape[-1]
    if kernel.shape != (b, k, k) or k % 2 == 0:
        raise InputError(f"expected (B={b}, k, k) kernels with odd k, got {tuple(kernel.shape)}")
    kernel = trim_kernels(kernel)
    k = kernel.shape[-1]
    if k // 2 >= min(h, w):
        raise InputError(f"image {h}x{w} is too small for reflect padding of a {k}x{k} kernel")
    padded = F.pad(img, (k // 2,) * 4, mode="reflect")
    weight = kernel.to(img.dtype).repeat_interleave(c, dim=0).unsqueeze(1)  # (B*C, 1, k, k)
    out = F.conv2d(padded.reshape(1, b * c, h + k - 1, w + k - 1), weight, groups=b * c)
    return out.reshape(b, c, h, w)
