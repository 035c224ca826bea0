"""One knob between two models of one network: ESRGAN's network interpolation.

``blend(a, b, s)`` is the state dict ``(1 - s) * a + s * b``, tensor by tensor, for two weights files of
the *same* configuration (same keys, shapes and network metadata), e.g. a fidelity (L1) model and a
perceptual (GAN) model fine-tuned from it: ``s = 0`` gives ``a``, ``s = 1`` gives ``b``, and values
between trade PSNR for sharpness smoothly (Wang et al. 2018, ESRGAN §3.4; Real-ESRGAN's ``-dn`` does
the same between a denoising and a non-denoising model). Models of different configurations, or
trained apart from different initialisations, do not interpolate meaningfully and are refused.
"""

from __future__ import annotations

import math

import torch

from ..errors import CheckpointError, ConfigError
from .formats import LoadedWeights
from .metadata import META_CONFIG

__all__ = ["blend"]


def _check_compatible(a: LoadedWeights, b: LoadedWeights) -> None:
    ka, kb = set(a.state_dict), set(b.state_dict)
    if ka != kb:
        only = sorted(ka ^ kb)[:3]
        raise CheckpointError(f"cannot blend {a.source} with {b.source}: different networks (keys {only} "
                              "are in one only); both must be the same configuration")
    for key in sorted(ka):
        if a.state_dict[key].shape != b.state_dict[key].shape:
            raise CheckpointError(
                f"cannot blend {a.source} with {b.source}: '{key}' is {tuple(a.state_dict[key].shape)} in one and "
                f"{tuple(b.state_dict[key].shape)} in the other; both must be the same configuration")
    ca, cb = a.metadata.get(META_CONFIG), b.metadata.get(META_CONFIG)
    if ca and cb and ca != cb:
        raise CheckpointError(f"cannot blend {a.source} with {b.source}: their network configs differ "
                              f"({ca} vs {cb})")


def blend(a: LoadedWeights, b: LoadedWeights, strength: float) -> LoadedWeights:
    """``(1 - strength) * a + strength * b`` in float32 (fp16 files are upcast first); b's metadata."""
    if not (isinstance(strength, (int, float)) and math.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise ConfigError(f"strength must lie in [0, 1], got {strength!r}")
    _check_compatible(a, b)
    out: dict[str, torch.Tensor] = {}
    for key, tb in b.state_dict.items():
        ta = a.state_dict[key]
        if not (ta.is_floating_point() and tb.is_floating_point()):
            raise CheckpointError(f"cannot blend {a.source} with {b.source}: '{key}' is not a floating-point tensor")
        out[key] = torch.lerp(ta.float(), tb.float(), float(strength))
    source = f"{1 - strength:g} x {a.source} + {strength:g} x {b.source}"
    return LoadedWeights(out, source, None, dict(b.metadata))
