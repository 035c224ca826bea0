"""Typed training recipes: the authors' settings per task and stage, plus user overrides.

``recipe(task, stage)`` returns the values of the authors' option files (``docs/architecture.md``
§7); ``resolve_config`` layers a TOML/YAML/JSON file and command-line overrides on top. Every key
of a file must name a field (``ConfigError`` otherwise, with the valid keys), values are checked
against the field's type, and each dataclass validates itself. The resolved config is what a run
saves (``config.json``) and what ``--resume`` reads back.

Scaling rule: when ``iters`` is overridden and the schedule keys are not, the iteration-based
parts of the recipe (LR milestones, cosine periods, progressive patch stages) are rescaled by
``new_iters / recipe_iters``, so a short run keeps the recipe's shape.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
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
from vmambair_core.train.overrides import apply_overrides, flatten_keys, merge_nested, nest_dotted

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


# --------------------------------------------------------------------------- the authors' recipes


def _sr_gan_optim(lr_g: float) -> dict[str, Any]:
    return {
        "optim_g": OptimizerConfig(lr=lr_g),
        "optim_d": OptimizerConfig(lr=1e-4),
        "loss": LossConfig(pixel=1.0, perceptual=1.0, gan=1.0),
    }


def recipe(task: str, stage: str = "l1") -> TrainConfig:
    """The authors' settings for ``task``/``stage`` (``docs/architecture.md`` §7)."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose one of {', '.join(TASKS)}")
    if stage not in STAGES[task]:
        raise ConfigError(f"task {task} has stages {', '.join(STAGES[task])}, not {stage!r}")
    if task == "sisr":
        data = DataConfig(patch_size=256, batch_size=8, hflip=True, rotate=True)
        if stage == "l1":  # SRGAN/options/MambaSISR15_x4.yml
            return TrainConfig(
                task="sisr", stage="l1", iters=100_000, data=data,
                sched_g=SchedulerConfig(milestones=(50_000, 70_000)), val=ValConfig(crop_border=4),
            )
        return TrainConfig(  # MambaSISR15GAN_x4.yml
            task="sisr", stage="gan", iters=300_000, data=data, **_sr_gan_optim(2e-4),
            sched_g=SchedulerConfig(milestones=(150_000,)), sched_d=SchedulerConfig(milestones=(150_000,)),
            val=ValConfig(crop_border=0),
        )
    if task == "realsr":
        data = DataConfig(patch_size=256, batch_size=9, hflip=True, rotate=False, hr_crop=600, pool_size=180)
        if stage == "l1":  # RealSR/options/mambaSR11_x4.yml
            return TrainConfig(
                task="realsr", stage="l1", iters=500_000, data=data, degradation=DegradationConfig(),
                sched_g=SchedulerConfig(milestones=(250_000, 350_000)), val=ValConfig(crop_border=0),
            )
        # mambaSR11GAN_x4.yml: G's lr is overwritten each step to 1e-4 * 0.5**(iter // 300k), i.e. a
        # milestone at 300k; D keeps MultiStepLR [400k] (never reached in 400k iterations).
        return TrainConfig(
            task="realsr", stage="gan", iters=400_000, data=data, degradation=DegradationConfig(),
            **_sr_gan_optim(1e-4), sched_g=SchedulerConfig(milestones=(300_000,)),
            sched_d=SchedulerConfig(milestones=(400_000,)), val=ValConfig(every=10_000, crop_border=4),
        )
    # derain: Deraining/Options/Deraining_mamber28.yml (from scratch)
    return TrainConfig(
        task="derain", stage="l1", iters=300_000, seed=100,
        data=DataConfig(patch_size=384, batch_size=8, hflip=True, rotate=True, progressive=ProgressiveConfig()),
        optim_g=OptimizerConfig(kind="adamw", lr=3e-4, betas=(0.9, 0.999), weight_decay=1e-4),
        sched_g=SchedulerConfig(
            kind="cosine_restart", periods=(92_000, 208_000), restart_weights=(1.0, 1.0), eta_mins=(3e-4, 1e-6)
        ),
        ema_decay=None, grad_clip=0.01, rain=RainConfig(), val=ValConfig(crop_border=0),
    )


#: Keys the run derives itself; setting them would be silently overwritten, so it is an error.
_DERIVED = {
    "degradation.gt_size": "data.patch_size",
    "degradation.hr_crop": "data.hr_crop",
    "degradation.scale": "the task (x4)",
}


def _scale_counts(values: tuple[int, ...], factor: float, total: int | None = None) -> list[int]:
    scaled = [max(1, round(v * factor)) for v in values]
    if total is not None:  # stages/periods must still cover the run exactly
        scaled[-1] = max(1, total - sum(scaled[:-1]))
    return scaled


def _derived_overrides(base: TrainConfig, user: Mapping[str, Any], user_keys: set[str]) -> dict[str, Any]:
    """Dotted overrides that keep the recipe's shape under ``iters``/size overrides (documented above).

    * ``iters`` changed: milestones, cosine periods and progressive stage lengths scale by
      ``iters / recipe iters`` (periods and stages then sum to ``iters``), unless set by the user.
    * derain, ``data.patch_size`` set: progressive patches off (one size); ``data.batch_size`` set
      alone: the stages' batch sizes scale to the new largest one.
    """
    out: dict[str, Any] = {}
    iters = user.get("iters", base.iters)
    f = iters / base.iters if isinstance(iters, (int, float)) and not isinstance(iters, bool) else 1.0
    if f != 1.0:
        for name in ("sched_g", "sched_d"):
            sched: SchedulerConfig | None = getattr(base, name)
            if sched is None:
                continue
            if f"{name}.milestones" not in user_keys and sched.milestones:
                out[f"{name}.milestones"] = [max(1, round(m * f)) for m in sched.milestones]  # repeats = 2 decays
            if f"{name}.periods" not in user_keys and sched.periods:
                out[f"{name}.periods"] = _scale_counts(sched.periods, f, max(int(iters), round(sum(sched.periods) * f)))
    prog = base.data.progressive
    if prog is not None and not any(k.startswith("data.progressive") for k in user_keys):
        if "data.patch_size" in user_keys:
            out["data.progressive"] = None
            return out
        if f != 1.0:
            out["data.progressive.iters"] = _scale_counts(prog.iters, f, int(iters))
        batch = user.get("data", {}).get("batch_size")
        if "data.batch_size" in user_keys and isinstance(batch, int) and batch > 0:
            g = batch / max(prog.batch_sizes)
            out["data.progressive.batch_sizes"] = [min(batch, max(1, round(b * g))) for b in prog.batch_sizes]
    return out


def resolve_config(
    task: str | None = None,
    stage: str | None = None,
    *,
    file: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Recipe for (task, stage), then the config file's keys, then dotted command-line overrides.

    ``task``/``stage`` may come from the file instead; the two must agree when both are given.
    ``overrides`` uses dotted keys (``{"data.batch_size": 4, "optim_g.lr": 1e-4}``); None values
    are ignored (flag not given). Everything is applied in one pass, so cross-field checks see
    the final values only.
    """
    file = dict(file or {})
    for key, value in (("task", task), ("stage", stage)):
        if value is not None and key in file and file[key] != value:
            raise ConfigError(f"--{key} {value} disagrees with {key} = {file[key]!r} in the config file")
    task = task or file.get("task")
    stage = stage or file.get("stage") or "l1"
    if task is None:
        raise ConfigError(f"no task given: pass --task ({', '.join(TASKS)}) or set task in the config file")
    base = recipe(str(task), str(stage))
    body = {k: v for k, v in file.items() if k not in ("task", "stage")}
    user = merge_nested(body, nest_dotted({k: v for k, v in (overrides or {}).items() if v is not None}))
    user_keys = flatten_keys(user)
    for key, instead in _DERIVED.items():
        if key in user_keys:
            raise ConfigError(f"'{key}' is derived by the run; set {instead} instead")
    derived = _derived_overrides(base, user, user_keys)
    return apply_overrides(base, merge_nested(nest_dotted(derived), user))


# --------------------------------------------------------------------------- (de)serialisation


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """Plain JSON-able dict (tuples become lists) of any config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def config_from_dict(data: Mapping[str, Any]) -> TrainConfig:
    """Rebuild a saved ``config.json``/checkpoint config exactly (no recipe scaling applied)."""
    task, stage = data.get("task"), data.get("stage")
    if task not in TASKS:
        raise ConfigError(f"saved config has no valid task (got {task!r})")
    body = {k: v for k, v in data.items() if k not in ("task", "stage")}
    return apply_overrides(recipe(str(task), str(stage or "l1")), body)


def save_config(cfg: TrainConfig, path: str | os.PathLike[str]) -> Path:
    """Write the resolved config as JSON (TOML cannot say null); ``--config`` reads it back."""
    return atomic_write_bytes(path, (json.dumps(config_to_dict(cfg), indent=2) + "\n").encode("utf-8"))
