"""Export trained weights as ``.safetensors`` that ``restore``/``eval`` and ``load`` read.

Metadata: ``vmambair.preset`` (the network config's name: ``sisr``, or ``sisr-tiny`` for a toy
model), ``vmambair.task``, ``vmambair.config`` (the full ``VmambaIRConfig`` as JSON, so toy
and future variants rebuild exactly), plus provenance (stage, iterations, which weights).
The tensors are the EMA average when the run kept one (what the authors evaluate), else the
trained weights; ``fp16`` halves the file (inference casts back to the run's precision).
``vmambair_core.weights.load(path, task)`` reads every export back, rebuilding its network
from this metadata (tiny variants too).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from torch import Tensor

from vmambair_core.errors import CheckpointError
from vmambair_core.models import VmambaIRConfig
from vmambair_core.train.recipes import config_from_dict
from vmambair_core.weights import write_safetensors
from vmambair_core.weights.metadata import network_metadata
from vmambair_core.weights.formats import load_torch_file


def export_weights(
    state_dict: Mapping[str, Tensor],
    cfg: VmambaIRConfig,
    task: str,
    path: str | os.PathLike[str],
    *,
    fp16: bool = False,
    extra: Mapping[str, str] | None = None,
) -> Path:
    """Write ``state_dict`` of a ``cfg`` network atomically with the metadata above."""
    tensors = {k: (v.half() if fp16 and v.is_floating_point() else v) for k, v in state_dict.items()}
    meta = {**network_metadata(cfg, task), "vmambair.dtype": "fp16" if fp16 else "fp32", **(extra or {})}
    return write_safetensors(tensors, path, meta)


def export_checkpoint(folder: str | os.PathLike[str], path: str | os.PathLike[str], *, fp16: bool = False) -> Path:
    """Export a training checkpoint folder (``RUN/checkpoints/iter_*``) without resuming it."""
    state_file = Path(folder) / "state.pt"
    state = load_torch_file(state_file, "checkpoint file")
    if not isinstance(state, dict):
        raise CheckpointError(f"{state_file} is not a vmambair training checkpoint")
    cfg = config_from_dict(state["config"])
    weights, which = (state["ema"]["module"], "params_ema") if state.get("ema") else (state["model"], "params")
    extra = {"vmambair.stage": cfg.stage, "vmambair.iterations": str(state["iteration"]), "vmambair.weights": which}
    return export_weights(weights, cfg.network(), cfg.task, path, fp16=fp16, extra=extra)
