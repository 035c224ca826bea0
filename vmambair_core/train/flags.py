"""A run as a command line asks for it: settings over a config file over the recipe, or a resumed run.

A launcher (the CLI, a job script) gathers what was given in :class:`RunFlags`, unset settings
left None, and calls :func:`run_config` once. A new run is the recipe of its task and stage, then
the file's keys, then the flags (``resolve_config``). With ``resume`` it is the config saved in
the run folder; settings given again must equal the saved ones and only ``iters`` may grow
(``train.resume``), so re-running the starting command with ``--resume`` works.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vmambair_core.errors import ConfigError
from vmambair_core.train.config import TrainConfig
from vmambair_core.train.data import ROOT_SEPARATOR, check_readable, discover_datasets
from vmambair_core.train.overrides import merge_nested, nest_dotted, read_config_file
from vmambair_core.train.recipes import resolve_config
from vmambair_core.train.resume import resume_config, saved_config
from vmambair_core.train.vgg import resolve_vgg19_weights

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class RunFlags:
    """Settings given on a command line, each the config key beside it; None (switches: False) = not given."""

    data: Sequence[PathLike] = ()  # data.root: several folders joined as one root list
    val: PathLike | None = None  # val.root
    iters: int | None = None  # iters
    batch_size: int | None = None  # data.batch_size
    patch_size: int | None = None  # data.patch_size
    lr: float | None = None  # optim_g.lr
    seed: int | None = None  # seed
    init: PathLike | None = None  # model.init
    vgg_weights: PathLike | None = None  # loss.vgg_weights
    save_every: int | None = None  # save_every
    val_every: int | None = None  # val.every
    log_every: int | None = None  # log_every
    precision: str | None = None  # precision
    compile: bool = False  # compile
    export_fp16: bool = False  # export_fp16
    model_dim: int | None = None  # model.dim
    model_blocks: int | None = None  # model.blocks
    backend: str | None = None  # model.scan_backend
    accum: int | None = None  # accum

    def overrides(self) -> dict[str, Any]:
        """Dotted config keys -> values, None for a setting not given (paths as strings)."""
        given: dict[str, Any] = {
            "data.root": ROOT_SEPARATOR.join(map(str, self.data)) if self.data else None,
            "val.root": self.val, "iters": self.iters, "data.batch_size": self.batch_size,
            "data.patch_size": self.patch_size, "optim_g.lr": self.lr, "seed": self.seed, "model.init": self.init,
            "loss.vgg_weights": self.vgg_weights, "save_every": self.save_every, "val.every": self.val_every,
            "log_every": self.log_every, "precision": self.precision, "compile": True if self.compile else None,
            "export_fp16": True if self.export_fp16 else None, "model.dim": self.model_dim,
            "model.blocks": self.model_blocks, "model.scan_backend": self.backend, "accum": self.accum,
        }
        return {k: (os.fspath(v) if isinstance(v, os.PathLike) else v) for k, v in given.items()}


def run_config(
    run_dir: PathLike,
    *,
    task: str | None = None,
    stage: str | None = None,
    config_file: PathLike | None = None,
    flags: RunFlags = RunFlags(),
    resume: bool = False,
) -> TrainConfig:
    """The config a run in ``run_dir`` starts with, or (``resume``) continues with.

    A new run needs training data (``--data`` or ``data.root`` in the file). Resuming, ``task``,
    ``stage``, the file's keys and the flags are checked against the saved config, key by key.
    """
    file = read_config_file(config_file) if config_file else None
    overrides = flags.overrides()
    if resume:  # the same command again: settings equal to the saved ones pass, --iters may grow
        named = {k: v for k, v in {"task": task, "stage": stage, **overrides}.items() if v is not None}
        return resume_config(saved_config(run_dir), merge_nested(dict(file or {}), nest_dotted(named)))
    cfg = resolve_config(task, stage, file=file, overrides=overrides)
    if not cfg.data.root:
        raise ConfigError("no training data: pass --data DIR (or set data.root in the config file)")
    return cfg


def check_inputs(cfg: TrainConfig) -> None:
    """The training images readable and, for a perceptual loss, the VGG19 file found.

    A launcher calls it before starting N workers, so a missing input fails once, not in each of them.
    """
    check_readable(discover_datasets(cfg.data.root, scale=cfg.scale))
    if cfg.loss.perceptual > 0:
        resolve_vgg19_weights(cfg.loss.vgg_weights)
