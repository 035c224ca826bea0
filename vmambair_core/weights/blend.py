"""One knob between two models of one network: ESRGAN's network interpolation.

``blend(a, b, s)`` is the state dict ``(1 - s) * a + s * b``, tensor by tensor, for two weights files of
the *same* configuration (same keys, shapes and network metadata), e.g. a fidelity (L1) model and a
perceptual (GAN) model fine-tuned from it: ``s = 0`` gives ``a``, ``s = 1`` gives ``b``, and values
between trade PSNR for sharpness smoothly (Wang et al. 2018, ESRGAN §3.4; Real-ESRGAN's ``-dn`` does
the same between a denoising and a non-denoising model). Models of different configurations are refused;
models of one configuration trained apart from different initialisations do not interpolate meaningfully
either, but that cannot be told from the files, so pair a model with the one it was fine-tuned from.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import torch

from ..errors import CheckpointError, ConfigError
from .detect import mismatch_summary
from .formats import LoadedWeights, read_weights
from .metadata import META_CONFIG
from .registry import read_registry
from .resolve import resolve_weights
from .spec import classify_spec

__all__ = ["blend", "blend_for"]


def _check_compatible(a: LoadedWeights, b: LoadedWeights) -> None:
    problems = mismatch_summary(a.state_dict, {k: tuple(v.shape) for k, v in b.state_dict.items()})
    if problems is not None:
        raise CheckpointError(f"cannot blend {a.source} with {b.source}: different networks ({problems}); "
                              "both must be the same configuration")
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
    # File names only: tables print the source's last path part.
    source = f"{Path(a.source).name} x {1 - strength:g} + {Path(b.source).name} x {strength:g}"
    return LoadedWeights(out, source, None, dict(b.metadata))


def _partner_of(task: str, weights: str | os.PathLike[str] | None) -> str | None:
    """The registry partner of the task's default (``weights`` None) or of a named entry; None otherwise."""
    reg = read_registry()
    if weights is None:
        entry = reg.default_entry(task)
    else:
        target = classify_spec(weights)
        entry = reg.lookup(target) if isinstance(target, str) else None
    return entry.partner if entry is not None else None


def blend_for(
    task: str,
    weights: str | os.PathLike[str] | None,
    strength: float | None,
    partner: str | os.PathLike[str] | None = None,
) -> str | os.PathLike[str] | LoadedWeights | None:
    """What ``--weights W --strength S [--partner P]`` means: ``weights`` as given when ``strength`` is None,
    else ``blend(P, W, S)`` with P the registry partner of W (or of the task's default) unless given."""
    if strength is None:
        if partner is not None:
            raise ConfigError("--partner needs --strength (the share of --weights in the blend)")
        return weights
    partner = partner if partner is not None else _partner_of(task, weights)
    if partner is None:
        what = f"weights '{weights}'" if weights is not None else f"the default {task} weights"
        raise ConfigError(f"{what} have no partner model to blend with: pass --partner NAME|FILE (same network)")
    main = read_weights(resolve_weights(task, weights).path)
    other = read_weights(resolve_weights(task, partner).path)
    return blend(other, main, strength)
