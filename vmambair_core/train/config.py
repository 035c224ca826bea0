"""The training config's schema: frozen dataclasses that validate themselves, and writing them out.

Each dataclass checks its own fields in ``__post_init__`` and ``TrainConfig`` the rules between
them (patch sizes against the scale, what a task or stage needs), so a config that exists is one a
run can use. The values the authors train with are ``train.recipes``; overrides from files and
flags reach these classes through ``train.overrides`` (every key must name a field, values are
checked against the field's type). The resolved config is what a run saves (``config.json``) and
what ``--resume`` reads back.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from vmambair_core.atomic import atomic_write_bytes
from vmambair_core.data.degrade.mild import MildConfig
from vmambair_core.data.degrade.realesrgan import DegradationConfig
from vmambair_core.data.degrade.rain import RainConfig
from vmambair_core.device import Precision
from vmambair_core.errors import ConfigError
from vmambair_core.models import VmambaIRConfig, get_preset, tiny_config
from vmambair_core.tasks import TASKS, Task
from vmambair_core.train.losses import PERCEPTUAL_LAYER_WEIGHTS

Stage = Literal["l1", "gan"]
STAGES: dict[str, tuple[str, ...]] = {"sisr": ("l1", "gan"), "realsr": ("l1", "gan"), "derain": ("l1",)}


def _positive(name: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    """The generator. ``dim``/``blocks`` (expert, tests) build ``tiny_config(task, dim, blocks)``."""

    dim: int | None = None
    blocks: int | None = None
    init: str | None = None
    """Initial generator weights (.safetensors/.pth); the GAN stages start from the L1 stage's EMA."""
    scan_backend: str = "auto"
    icnr: bool = False
    """x4 tasks, new models only: ICNR-initialise the tail's sub-pixel convs (no checkerboard at the start)."""

    def __post_init__(self) -> None:
        if self.icnr and self.init:
            raise ConfigError("model.icnr initialises a new model's tail; with model.init the weights come from the file")
        if self.dim is not None and (self.dim <= 0 or self.dim % 2):
            raise ConfigError(f"model.dim must be a positive even number, got {self.dim!r}")
        if self.blocks is not None and self.blocks < 1:
            raise ConfigError(f"model.blocks must be at least 1, got {self.blocks!r}")

    def network(self, task: str) -> VmambaIRConfig:
        """The network config: the task's preset, or its tiny variant when dim/blocks are set."""
        if self.dim is None and self.blocks is None:
            return get_preset(task)
        return tiny_config(task, self.dim if self.dim is not None else 8, self.blocks if self.blocks is not None else 1)


@dataclass(frozen=True)
class ProgressiveConfig:
    """Restormer's progressive patches: stage j trains on ``patch_sizes[j]`` x ``batch_sizes[j]``.

    ``iters[j]`` iterations per stage; the last stage continues to the end of training. Batches
    are loaded at the largest size and cut down in the loop (random subset, one random crop).
    """

    patch_sizes: tuple[int, ...] = (128, 160, 192, 256, 320, 384)
    batch_sizes: tuple[int, ...] = (8, 5, 3, 2, 1, 1)
    iters: tuple[int, ...] = (92_000, 64_000, 48_000, 36_000, 36_000, 24_000)

    def __post_init__(self) -> None:
        n = len(self.patch_sizes)
        if n == 0 or len(self.batch_sizes) != n or len(self.iters) != n:
            raise ConfigError(
                f"data.progressive needs patch_sizes, batch_sizes and iters of one non-zero length, got "
                f"{len(self.patch_sizes)}, {len(self.batch_sizes)}, {len(self.iters)}"
            )
        if min(self.patch_sizes) < 1 or min(self.batch_sizes) < 1 or min(self.iters) < 1:
            raise ConfigError("data.progressive patch sizes, batch sizes and iters must be positive")

    def stage_at(self, iteration: int) -> int:
        """Stage of 1-based ``iteration``: the first whose cumulative end is >= it (Restormer's rule)."""
        end = 0
        for j, n in enumerate(self.iters):
            end += n
            if iteration <= end:
                return j
        return len(self.iters) - 1


@dataclass(frozen=True)
class DataConfig:
    """Training data. ``patch_size`` is on the ground-truth side; ``batch_size`` is per process."""

    root: str = ""
    patch_size: int = 256
    batch_size: int = 8
    hflip: bool = True
    rotate: bool = True
    """With ``hflip``: the 8 flips/rotations (BasicSR's hflip + rot); without: horizontal flips only."""
    workers: int | None = None
    """Loader processes; None: ``min(4, cores - 1)``, at least 1 (``train.data.default_workers``)."""
    hr_crop: int | None = None
    """realsr: HR crop (reflect-padded when smaller) degraded on the device before the patch crop."""
    pool_size: int = 0
    """realsr: Real-ESRGAN's training-pair queue (180); 0 turns it off."""
    progressive: ProgressiveConfig | None = None

    def __post_init__(self) -> None:
        _positive("data.patch_size", self.patch_size)
        _positive("data.batch_size", self.batch_size)
        if self.workers is not None and self.workers < 0:
            raise ConfigError(f"data.workers must be >= 0, got {self.workers!r}")
        if self.hr_crop is not None and self.hr_crop < self.patch_size:
            raise ConfigError(f"data.hr_crop ({self.hr_crop}) must be at least data.patch_size ({self.patch_size})")
        if self.pool_size < 0 or (self.pool_size and self.pool_size % self.batch_size):
            raise ConfigError(
                f"data.pool_size ({self.pool_size}) must be 0 or a multiple of data.batch_size ({self.batch_size})"
            )
        if self.progressive is not None:
            p = self.progressive
            if max(p.patch_sizes) > self.patch_size or max(p.batch_sizes) > self.batch_size:
                raise ConfigError(
                    f"data.progressive sizes (max patch {max(p.patch_sizes)}, max batch {max(p.batch_sizes)}) "
                    f"must fit the loaded batch (data.patch_size {self.patch_size}, data.batch_size {self.batch_size})"
                )


@dataclass(frozen=True)
class OptimizerConfig:
    kind: Literal["adam", "adamw"] = "adam"
    lr: float = 2e-4
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("adam", "adamw"):
            raise ConfigError(f"optimizer kind must be 'adam' or 'adamw', got {self.kind!r}")
        _positive("lr", self.lr)
        if not all(0.0 <= b < 1.0 for b in self.betas) or self.weight_decay < 0:
            raise ConfigError(f"betas must lie in [0, 1) and weight_decay >= 0, got {self.betas}, {self.weight_decay}")


@dataclass(frozen=True)
class SchedulerConfig:
    """``multistep``: lr x gamma at each milestone; ``cosine_restart``: CosineAnnealingRestartCyclicLR."""

    kind: Literal["multistep", "cosine_restart"] = "multistep"
    milestones: tuple[int, ...] = ()
    gamma: float = 0.5
    periods: tuple[int, ...] = ()
    restart_weights: tuple[float, ...] = ()
    eta_mins: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("multistep", "cosine_restart"):
            raise ConfigError(f"scheduler kind must be 'multistep' or 'cosine_restart', got {self.kind!r}")
        if list(self.milestones) != sorted(self.milestones) or any(m < 1 for m in self.milestones):
            raise ConfigError(f"milestones must be non-decreasing positive iterations, got {list(self.milestones)}")
        if self.kind == "cosine_restart" and not (
            self.periods and len(self.restart_weights) == len(self.periods) == len(self.eta_mins)
        ):
            raise ConfigError("cosine_restart needs periods, restart_weights and eta_mins of one non-zero length")


@dataclass(frozen=True)
class LossConfig:
    """Loss weights (0 turns a term off) and the perceptual loss's VGG19 layers."""

    pixel: float = 1.0
    perceptual: float = 0.0
    gan: float = 0.0
    perceptual_layers: dict[str, float] = field(default_factory=lambda: dict(PERCEPTUAL_LAYER_WEIGHTS))
    vgg_weights: str | None = None
    """torchvision ``vgg19-dcbb9e9d.pth``; None reads ``$VMAMBAIR_VGG19_WEIGHTS``."""
    disc_features: int = 64
    feature_matching: float = 0.0
    """GAN stages: L1 between the discriminator's activations of output and GT (no pretrained net needed)."""
    pattern: float = 0.0
    """Penalty on the period-x``scale`` fixed pattern of ``out - gt`` (``losses.PeriodicPatternLoss``)."""
    usm_gt: bool = False
    """Real-ESRGAN's unsharp-masked GT for the pixel and perceptual terms (the GAN sees the plain GT)."""

    def __post_init__(self) -> None:
        if min(self.pixel, self.perceptual, self.gan, self.feature_matching, self.pattern) < 0:
            raise ConfigError("loss weights must be >= 0")
        _positive("loss.disc_features", self.disc_features)


@dataclass(frozen=True)
class ValConfig:
    """Validation on ``root`` every ``every`` iterations and at the end (rank 0, EMA weights)."""

    root: str | None = None
    every: int = 5000
    crop_border: int = 0
    max_images: int | None = None
    samples: int = 3
    """Outputs written to ``samples/`` at each validation."""

    def __post_init__(self) -> None:
        _positive("val.every", self.every)
        if self.crop_border < 0 or self.samples < 0 or (self.max_images is not None and self.max_images < 1):
            raise ConfigError("val.crop_border and val.samples must be >= 0, val.max_images >= 1")


@dataclass(frozen=True)
class TrainConfig:
    """One training run: a task, a stage and every setting it needs."""

    task: Task = "sisr"
    stage: Stage = "l1"
    iters: int = 100_000
    seed: int = 0
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim_g: OptimizerConfig = field(default_factory=OptimizerConfig)
    sched_g: SchedulerConfig = field(default_factory=SchedulerConfig)
    optim_d: OptimizerConfig | None = None
    sched_d: SchedulerConfig | None = None
    loss: LossConfig = field(default_factory=LossConfig)
    ema_decay: float | None = 0.999
    grad_clip: float | None = None
    accum: int | None = None
    """Micro-batches per batch (gradient accumulation); None: the fewest that fit in memory, chosen when
    the run starts and saved in its config."""
    precision: Precision = "auto"
    compile: bool = False
    degradation: DegradationConfig | None = None
    mild: MildConfig | None = None
    """realsr: each training image gets the mild degradation instead with probability ``mild.prob``."""
    rain: RainConfig | None = None
    val: ValConfig = field(default_factory=ValConfig)
    save_every: int = 5000
    keep_last: int = 2
    log_every: int = 100
    export_fp16: bool = False
    tensorboard: Literal["auto", "on", "off"] = "auto"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"unknown task {self.task!r}; choose one of {', '.join(TASKS)}")
        if self.stage not in STAGES[self.task]:
            raise ConfigError(f"task {self.task} has stages {', '.join(STAGES[self.task])}, not {self.stage!r}")
        for name in ("iters", "save_every", "keep_last", "log_every"):
            _positive(name, getattr(self, name))
        if self.ema_decay is not None and not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must lie in [0, 1) or be null, got {self.ema_decay!r}")
        if self.grad_clip is not None:
            _positive("grad_clip", self.grad_clip)
        if self.accum is not None and (isinstance(self.accum, bool) or self.accum < 1):
            raise ConfigError(f"accum must be a positive number of micro-batches or null, got {self.accum!r}")
        if self.precision not in get_args(Precision):
            raise ConfigError(f"precision must be one of {', '.join(get_args(Precision))}, got {self.precision!r}")
        if self.tensorboard not in ("auto", "on", "off"):
            raise ConfigError(f"tensorboard must be auto, on or off, got {self.tensorboard!r}")
        self._check_task_parts()

    def _check_task_parts(self) -> None:
        scale = self.scale
        sizes = self.data.progressive.patch_sizes if self.data.progressive else (self.data.patch_size,)
        step = scale * (8 if self.stage == "gan" else 1)  # the discriminator needs multiples of 8
        if any(s % step for s in (*sizes, self.data.patch_size)):
            raise ConfigError(f"patch sizes {sorted(set(sizes))} must be multiples of {step} for {self.task}/{self.stage}")
        if self.stage == "gan" and (self.optim_d is None or self.sched_d is None):
            raise ConfigError("the GAN stage needs optim_d and sched_d (the discriminator's optimiser and schedule)")
        for sched in (self.sched_g, self.sched_d):
            if sched is not None and sched.kind == "cosine_restart" and sum(sched.periods) < self.iters:
                raise ConfigError(
                    f"cosine periods {list(sched.periods)} end at {sum(sched.periods)}, before iters={self.iters}; "
                    "make them sum to at least iters"
                )
        if self.task == "realsr":
            if self.degradation is None or self.data.hr_crop is None:
                raise ConfigError("realsr needs a degradation config and data.hr_crop")
            if self.data.hr_crop % scale:
                raise ConfigError(f"data.hr_crop ({self.data.hr_crop}) must be a multiple of the scale {scale}")
            if self.data.hr_crop < self.degradation.min_hr_size():
                raise ConfigError(
                    f"data.hr_crop {self.data.hr_crop} is below {self.degradation.min_hr_size()}, the smallest HR "
                    "crop the Real-ESRGAN degradation can blur"
                )
        if self.mild is not None and self.mild.prob > 0 and self.task != "realsr":
            raise ConfigError("mild (the light-degradation share of the batches) is part of the realsr data only")
        if self.model.icnr and scale < 2:
            raise ConfigError("model.icnr initialises an x4 tail: the derain network has none")
        if self.stage != "gan" and self.loss.feature_matching > 0:
            raise ConfigError("loss.feature_matching needs the GAN stage's discriminator (stage gan)")
        if self.loss.pattern > 0 and scale < 2:
            raise ConfigError("loss.pattern penalises a period-x4 pattern: it needs an x4 task")
        if self.data.pool_size and self.task != "realsr":
            raise ConfigError("data.pool_size (the training-pair queue) is part of the realsr recipe only")

    @property
    def scale(self) -> int:
        return 1 if self.task == "derain" else 4

    def network(self) -> VmambaIRConfig:
        return self.model.network(self.task)

    def degradation_config(self) -> DegradationConfig:
        """The realsr degradation with the run's patch and crop sizes filled in."""
        assert self.degradation is not None and self.data.hr_crop is not None
        return replace(self.degradation, gt_size=self.data.patch_size, hr_crop=self.data.hr_crop, scale=self.scale)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain JSON-able dict (tuples become lists) of any config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def save_config(cfg: TrainConfig, path: str | os.PathLike[str]) -> Path:
    """Write the resolved config as JSON (TOML cannot say null); ``--config`` reads it back."""
    return atomic_write_bytes(path, (json.dumps(config_to_dict(cfg), indent=2) + "\n").encode("utf-8"))
