"""Weights code: safe reading/writing, preset detection, strict loading into a network.

Not to be confused with the repository folder ``weights/``, installed as the data package
``vmambair_weights``: that one holds the registry (``registry.json``) and the bundled ``*.safetensors``
files, and no code; ``registry`` here reads it.
"""

from __future__ import annotations

import os

import torch

from ..errors import CheckpointError
from ..models import VmambaIR, VmambaIRConfig, build_model, get_preset
from .detect import check_state_dict, detect_preset, expected_shapes, looks_like_vmambair
from .formats import META_PRESET, META_TASK, LoadedWeights, read_weights, write_safetensors
from .metadata import META_CONFIG, config_for_task, config_from_metadata, network_metadata
from .realesrgan import KNOWN, PeerNetwork, check_peer_scale, describe_found, read_peer
from .resolve import (
    DEFAULT_TASK, ResolvedWeights, cache_status, convert_checkpoint, entry_status, infer_task, resolve_named,
    resolve_weights,
)

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
    check_state_dict(weights.state_dict, cfg, weights.source, net)
    net.load_state_dict(weights.state_dict, strict=True)
    return net


def load_resolved(
    task: str | VmambaIRConfig,
    weights: WeightsSource | None = None,
    *,
    device: str | torch.device = "cpu",
    scan_backend: str = "auto",
) -> tuple[VmambaIR | PeerNetwork, str]:
    """The network ``restore`` and ``eval`` run, and where its weights came from (for logs and JSON output).

    VmambaIR, or an official Real-ESRGAN generator file told from its keys and shapes
    (:mod:`.realesrgan`), which must fit the task's scale (x4 SR). A file that is neither is refused in
    one line naming what it holds.
    """
    if isinstance(weights, LoadedWeights):
        loaded, origin = weights, weights.source
    else:
        name = task.name if isinstance(task, VmambaIRConfig) else get_preset(task).name
        resolved = resolve_weights(name, weights)
        loaded = read_weights(resolved.path)
        note = " (SHA-256 verified)" if resolved.sha256_verified else ""
        origin = f"{resolved.description} [{resolved.origin}]{note}"
    peer = read_peer(loaded)
    if peer is not None:
        cfg = task if isinstance(task, VmambaIRConfig) else get_preset(task)
        check_peer_scale(peer, cfg.name, cfg.scale, loaded.source)
        return peer.to(device), f"{origin} · {peer.label}"
    if not (looks_like_vmambair(loaded.state_dict) or any(k.startswith("vmambair.") for k in loaded.metadata)):
        raise CheckpointError(
            f"{loaded.source} is neither a VmambaIR checkpoint nor a {KNOWN}: it holds {describe_found(loaded)}"
        )
    cfg = task if isinstance(task, VmambaIRConfig) else config_for_task(task, loaded)
    net = load_into(build_model(cfg, scan_backend=scan_backend), loaded)
    return net.to(device).eval(), origin


def load_model(
    task: str | VmambaIRConfig,
    weights: WeightsSource | None = None,
    *,
    device: str | torch.device = "cpu",
    scan_backend: str = "auto",
) -> VmambaIR:
    """A task's VmambaIR network with weights loaded strictly, in eval mode on ``device``.

    ``task``: a preset name (the network is the preset's, or the config a ``vmambair train`` export
    carries in its metadata) or an explicit ``VmambaIRConfig``. ``weights``: a local
    ``.safetensors``/``.pth`` path, a Hub file ``hf://OWNER/REPO/FILE[@REV]`` (``hf://`` may be left out where
    the value cannot be a local path: see :mod:`.spec`), an already read
    ``LoadedWeights``, or None for the task's published default (registry, SHA-256 checked).
    A Real-ESRGAN file is refused here (``load_resolved`` runs it).
    """
    net, origin = load_resolved(task, weights, device=device, scan_backend=scan_backend)
    if not isinstance(net, VmambaIR):
        raise CheckpointError(f"{origin} is a Real-ESRGAN generator, not VmambaIR weights (load_resolved runs it)")
    return net


__all__ = [
    "META_CONFIG", "PeerNetwork", "config_for_task", "config_from_metadata", "load_resolved",
    "network_metadata", "read_peer",
    "DEFAULT_TASK", "ResolvedWeights", "cache_status", "convert_checkpoint", "entry_status", "infer_task", "resolve_named",
    "resolve_weights",
    "LoadedWeights", "META_PRESET", "META_TASK", "check_state_dict", "detect_preset", "expected_shapes",
    "load_into", "load_model", "read_weights", "write_safetensors",
]
