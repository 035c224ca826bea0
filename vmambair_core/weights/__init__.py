"""Weights: safe reading/writing, preset detection, strict loading into a network."""

from __future__ import annotations

import os

import torch

from ..errors import CheckpointError
from ..models import VmambaIR, VmambaIRConfig, build_model, get_preset
from .detect import check_state_dict, detect_preset, expected_shapes
from .formats import META_PRESET, META_TASK, LoadedWeights, read_weights, write_safetensors
from .resolve import ResolvedWeights, cache_status, convert_checkpoint, resolve_weights

WeightsSource = str | os.PathLike[str] | LoadedWeights


def load_into(net: VmambaIR, weights: LoadedWeights) -> VmambaIR:
    """Strictly load checked weights into ``net`` (dtype converted to the network's)."""
    cfg = net.config
    meta_preset = weights.metadata.get(META_PRESET)
    if meta_preset and meta_preset != cfg.name:
        raise CheckpointError(
            f"{weights.source} holds '{meta_preset}' weights (file metadata) but task '{cfg.name}' was asked for; "
            f"use --task {meta_preset} or other weights"
        )
    check_state_dict(weights.state_dict, cfg, weights.source)
    net.load_state_dict(weights.state_dict, strict=True)
    return net


def load_model(
    task: str | VmambaIRConfig,
    weights: WeightsSource | None = None,
    *,
    device: str | torch.device = "cpu",
    scan_backend: str = "auto",
) -> VmambaIR:
    """A preset's network with weights loaded strictly, in eval mode on ``device``.

    ``weights``: a local ``.safetensors``/``.pth`` path, a Hub reference ``OWNER/REPO/FILE[@REV]``, an
    already read ``LoadedWeights``, or None for the task's published default (registry, SHA-256 checked).
    """
    cfg = task if isinstance(task, VmambaIRConfig) else get_preset(task)
    if isinstance(weights, LoadedWeights):
        loaded = weights
    else:
        loaded = read_weights(resolve_weights(cfg.name, None if weights is None else str(weights)).path)
    net = load_into(build_model(cfg, scan_backend=scan_backend), loaded)
    return net.to(device).eval()


__all__ = [
    "ResolvedWeights", "cache_status", "convert_checkpoint", "resolve_weights",
    "LoadedWeights", "META_PRESET", "META_TASK", "check_state_dict", "detect_preset", "expected_shapes",
    "load_into", "load_model", "read_weights", "write_safetensors",
]
