"""The authors' training recipes, and how a user's file and flags are layered on top of one.

``recipe(task, stage)`` returns the values of the authors' option files (``docs/architecture.md``
§7); ``resolve_config`` layers a TOML/YAML/JSON file and command-line overrides on top, and
``config_from_dict`` reads a saved config back on its recipe. The schema the values must fit
(types, ranges, cross-field rules) is ``train.config``.

Scaling rule: when ``iters`` is overridden and the schedule keys are not, the iteration-based
parts of the recipe (LR milestones, cosine periods, progressive patch stages) are rescaled by
``new_iters / recipe_iters``, so a short run keeps the recipe's shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vmambair_core.data.degrade.realesrgan import DegradationConfig
from vmambair_core.data.degrade.rain import RainConfig
from vmambair_core.errors import ConfigError
from vmambair_core.tasks import TASKS
from vmambair_core.train.config import (
    STAGES,
    DataConfig,
    LossConfig,
    OptimizerConfig,
    ProgressiveConfig,
    SchedulerConfig,
    TrainConfig,
    ValConfig,
)
from vmambair_core.train.overrides import apply_overrides, flatten_keys, merge_nested, nest_dotted


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



def config_from_dict(data: Mapping[str, Any]) -> TrainConfig:
    """Rebuild a saved ``config.json``/checkpoint config exactly (no recipe scaling applied)."""
    task, stage = data.get("task"), data.get("stage")
    if task not in TASKS:
        raise ConfigError(f"saved config has no valid task (got {task!r})")
    body = {k: v for k, v in data.items() if k not in ("task", "stage")}
    return apply_overrides(recipe(str(task), str(stage or "l1")), body)
