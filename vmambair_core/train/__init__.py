"""Training: the authors' recipes (``recipes``) on a typed schema (``config``), data pipelines, a resumable
DDP loop, export.

Typical use::

    from vmambair_core.train import resolve_config, train
    cfg = resolve_config("sisr", "l1", overrides={"data.root": "T91", "iters": 2000})
    result = train(cfg, "runs/sisr-l1")          # result.weights: runs/sisr-l1/model.safetensors

A launcher (the CLI) uses ``run_config`` (flags over a file over the recipe, or a resumed run's
config), the memory plan and the torchrun helpers below; it needs no submodule.
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
from vmambair_core.train.distributed import (
    EXIT_INTERRUPTED,
    check_gpu_count,
    launch_torchrun,
    torchrun_args,
    torchrun_env,
)
from vmambair_core.train.export import export_checkpoint, export_weights
from vmambair_core.train.flags import RunFlags, check_inputs, run_config
from vmambair_core.train.launch import LOG_NAME, describe_failure, read_report, record_worker_error
from vmambair_core.train.loop import EXPORT_NAME, TrainResult, train
from vmambair_core.train.monitor import NullReporter, Reporter
from vmambair_core.train.overrides import read_config_file
from vmambair_core.train.preflight import MemoryPlan, plan_memory, plan_words
from vmambair_core.train.recipes import config_from_dict, recipe, resolve_config
from vmambair_core.train.stopping import TrainingInterrupted

__all__ = [
    "EXIT_INTERRUPTED", "EXPORT_NAME", "LOG_NAME", "STAGES", "TASKS", "DataConfig", "LossConfig", "MemoryPlan",
    "ModelConfig", "NullReporter", "OptimizerConfig", "ProgressiveConfig", "Reporter", "RunFlags", "SchedulerConfig",
    "TrainConfig", "TrainResult", "TrainingInterrupted", "ValConfig", "check_gpu_count", "check_inputs",
    "config_from_dict", "config_to_dict", "describe_failure", "export_checkpoint", "export_weights",
    "launch_torchrun", "plan_memory", "plan_words", "read_config_file", "read_report", "recipe",
    "record_worker_error", "resolve_config", "run_config", "save_config", "torchrun_args", "torchrun_env", "train",
]
