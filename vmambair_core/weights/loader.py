"""One way to load a network: ``load(spec, task) -> LoadedModel``, a descriptor as spandrel returns one.

Which network a weights file becomes, rule by rule (:func:`load` follows them in order):

1. **Read.** ``spec`` is what ``--weights`` takes (:mod:`.spec`): a local file, a registry name, a Hub
   file, None for the task's published default (SHA-256 checked), or weights already read (a blend).
2. **Real-ESRGAN.** An official generator file, told from its keys (:mod:`.realesrgan`), is that network;
   it must fit the task's scale (x4 SR).
3. **Neither.** A file that is not VmambaIR either is refused, naming what it holds.
4. **Task.** What the file's metadata says it holds (``vmambair.task``, else ``vmambair.preset``) must be
   what was asked for (:func:`.metadata.check_file_task`, also run by :func:`load_into`). A file without metadata
   whose keys show another preset fails the strict check of rule 6, whose hint names that preset.
5. **Network.** An explicit ``VmambaIRConfig``; else the file's ``vmambair.config``; else the named task's
   preset (the authors' files are the presets); else, with no task, the widths and depths the tensor
   shapes describe on the preset the keys show (:func:`.detect.config_from_state_dict`). A config from
   the file is never larger than the file's own tensors (checked before anything is built).
6. **Strict load.** Every key and shape, floating point only (:func:`.detect.check_state_dict`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from ..errors import CheckpointError
from ..models import VmambaIR, VmambaIRConfig, build_model, get_preset
from ..tasks import TASKS
from .detect import check_state_dict, config_from_state_dict, detect_preset, looks_like_vmambair
from .formats import META_PRESET, META_TASK, LoadedWeights, read_weights
from .metadata import META_CONFIG, check_config_fits, check_file_task, config_from_metadata
from .realesrgan import KNOWN, PeerNetwork, check_peer_scale, describe_found, read_peer
from .resolve import infer_task, resolve_weights

WeightsSource = str | os.PathLike[str] | LoadedWeights
"""What :func:`load` reads: a ``--weights`` value (path, registry name, Hub file) or weights already read."""


@dataclass(frozen=True)
class LoadedModel:
    """A network with its weights loaded strictly, in eval mode, and what it is.

    ``config`` is None for a Real-ESRGAN generator (its size is in ``net.label``); ``task`` is the task it
    restores; ``origin`` says where the weights came from, for logs and JSON output.
    """

    net: VmambaIR | PeerNetwork
    config: VmambaIRConfig | None
    task: str
    origin: str

    @property
    def scale(self) -> int:
        return int(self.net.scale)


def load_into(net: VmambaIR, weights: LoadedWeights) -> VmambaIR:
    """Rules 4 and 6 for a network already built: strictly load checked weights (converted to its dtype)."""
    check_file_task(weights, net.config)
    check_state_dict(weights.state_dict, net.config, weights.source, net)
    net.load_state_dict(weights.state_dict, strict=True)
    return net


def load(
    spec: WeightsSource | None,
    task: str | VmambaIRConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    scan_backend: str = "auto",
) -> LoadedModel:
    """The network ``spec`` holds, weights loaded strictly, in eval mode on ``device`` (rules in the module docstring).

    ``task``: a task name, an explicit ``VmambaIRConfig`` (non-preset sizes), or None: the task the
    registry name or the file declares, else the preset its keys show, else ``DEFAULT_TASK``.
    """
    if isinstance(task, str):
        get_preset(task)  # an unknown task fails before any file is read
    weights, origin = _read(spec, task)  # rule 1
    peer = read_peer(weights)  # rule 2
    if peer is not None:
        name = _task_name(task, weights, spec, default="realsr")
        scale = task.scale if isinstance(task, VmambaIRConfig) else get_preset(name).scale
        check_peer_scale(peer, task.name if isinstance(task, VmambaIRConfig) else name, scale, weights.source)
        return LoadedModel(peer.to(device), None, name, f"{origin} · {peer.label}")
    if not (looks_like_vmambair(weights.state_dict) or any(k.startswith("vmambair.") for k in weights.metadata)):
        raise CheckpointError(  # rule 3
            f"{weights.source} is neither a VmambaIR checkpoint nor a {KNOWN}: it holds {describe_found(weights)}"
        )
    if task is not None:
        check_file_task(weights, task)  # rule 4
    cfg = _network(weights, task, spec)  # rule 5
    net = load_into(build_model(cfg, scan_backend=scan_backend), weights)  # rule 6
    return LoadedModel(net.to(device).eval(), cfg, _task_name(task, weights, spec), origin)


def _read(spec: WeightsSource | None, task: str | VmambaIRConfig | None) -> tuple[LoadedWeights, str]:
    """Rule 1: the weights and a one-line origin (registry entry, file or Hub file; SHA-256 note)."""
    if isinstance(spec, LoadedWeights):
        return spec, spec.source
    name = task.name if isinstance(task, VmambaIRConfig) else task or infer_task(spec)[0]
    resolved = resolve_weights(name, spec)
    note = " (SHA-256 verified)" if resolved.sha256_verified else ""
    return read_weights(resolved.path), f"{resolved.description} [{resolved.origin}]{note}"


def _network(weights: LoadedWeights, task: str | VmambaIRConfig | None, spec: WeightsSource | None) -> VmambaIRConfig:
    """Rule 5: the config to build, checked against the file's size where the file supplied it."""
    if isinstance(task, VmambaIRConfig):
        return task
    if META_CONFIG in weights.metadata:
        return check_config_fits(config_from_metadata(weights.metadata), weights)
    if task is not None:
        return get_preset(task)
    from_shapes = config_from_state_dict(weights.state_dict)
    if from_shapes is None:  # damaged beyond telling: the strict check names the mismatch
        return get_preset(_task_name(None, weights, spec))
    return check_config_fits(from_shapes, weights, "shapes")


def _task_name(
    task: str | VmambaIRConfig | None, weights: LoadedWeights, spec: WeightsSource | None, default: str | None = None
) -> str:
    """The task a network restores: the one asked for, else what the file declares or its keys show."""
    if isinstance(task, str):
        return task
    declared = [weights.metadata.get(META_TASK), weights.metadata.get(META_PRESET), detect_preset(weights.state_dict)]
    found = next((t for t in declared if t in TASKS), None)
    if found is not None:
        return found
    if isinstance(task, VmambaIRConfig):
        return task.name
    if default is not None:
        return default
    return infer_task(None if isinstance(spec, LoadedWeights) else spec)[0]
