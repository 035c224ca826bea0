"""Training: the authors' recipes (``recipes``) on a typed schema (``config``), data pipelines, a resumable DDP loop, export.

Typical use::

    from vmambair_core.train import resolve_config, train
    cfg = resolve_config("sisr", "l1", overrides={"data.root": "T91", "iters": 2000})
    result = train(cfg, "runs/sisr-l1")          # result.weights: runs/sisr-l1/model.safetensors
"""

from vmambair_core.train.config import (
    STAGES,
    TASKS,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimizerConfig,
    ProgressiveConfig,
    SchedulerConfig,
    TrainConfig,
    ValConfig,
    config_to_dict,
    save_config,
)
from vmambair_core.train.export import export_checkpoint, export_weights
from vmambair_core.train.loop import EXPORT_NAME, TrainingInterrupted, TrainResult, train
from vmambair_core.train.monitor import NullReporter, Reporter
from vmambair_core.train.overrides import read_config_file
from vmambair_core.train.recipes import config_from_dict, recipe, resolve_config

__all__ = [
    "EXPORT_NAME", "STAGES", "TASKS", "DataConfig", "LossConfig", "ModelConfig", "NullReporter", "OptimizerConfig",
    "ProgressiveConfig", "Reporter", "SchedulerConfig", "TrainConfig", "TrainResult", "TrainingInterrupted",
    "ValConfig", "config_from_dict", "config_to_dict", "export_checkpoint", "export_weights",
    "read_config_file", "recipe", "resolve_config", "save_config", "train",
]
