"""Which config a resumed run continues with: the saved one, extended by a larger ``iters``.

Re-running the command that started a run, plus ``--resume``, is what job scripts and scheduler
re-queues do; so settings given again are compared with the saved config instead of being
refused for being given. A setting that equals the saved value is accepted; one that differs is
refused, naming the key and both values. ``iters`` may grow: the run continues to the new end
with the schedule as saved (MultiStepLR milestones and cosine periods are not rescaled; past the
last milestone the lr stays at its last value; cosine periods must still cover the new end).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any


from vmambair_core.errors import CheckpointError, ConfigError
from vmambair_core.train.checkpoint import checkpoint_dir, latest_checkpoint
from vmambair_core.train.config import TrainConfig, config_to_dict
from vmambair_core.train.overrides import apply_overrides
from vmambair_core.train.recipes import config_from_dict
from vmambair_core.weights.formats import load_torch_file

#: Keys holding file or folder paths: the same place spelled differently (relative, ~) is equal.
_PATH_KEYS = frozenset({"data.root", "val.root", "model.init", "loss.vgg_weights"})


def saved_config(run_dir: str | Path) -> TrainConfig:
    """The config of the newest checkpoint in ``run_dir`` (the run ``--resume`` would continue)."""
    folder = latest_checkpoint(Path(run_dir))
    if folder is None:
        raise CheckpointError(f"nothing to resume: {checkpoint_dir(Path(run_dir))} holds no checkpoint")
    state = load_torch_file(folder / "state.pt", "checkpoint file")  # truncated, corrupt or unsafe: one line
    try:
        return config_from_dict(state["config"])  # type: ignore[index]
    except (KeyError, TypeError) as exc:
        raise CheckpointError(f"{folder}: no training config in state.pt ({exc})") from None


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, Mapping):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _same(key: str, saved: Any, new: Any) -> bool:
    if saved == new:
        return True
    if key in _PATH_KEYS and isinstance(saved, str) and isinstance(new, str) and saved and new:
        return Path(saved).expanduser().resolve() == Path(new).expanduser().resolve()
    return False


def _extend(saved: TrainConfig, iters: int) -> TrainConfig:
    if iters < saved.iters:
        raise ConfigError(f"--resume can extend a run, not shorten it: iters is {saved.iters} in the saved run, "
                          f"{iters} now")
    if iters == saved.iters:
        return saved
    try:
        return replace(saved, iters=iters)
    except ConfigError as exc:
        raise ConfigError(f"--resume cannot extend the run to iters={iters} with its saved schedule: {exc}") from None


def continue_config(saved: TrainConfig, requested: TrainConfig | None) -> TrainConfig:
    """``requested`` (a whole config, or None for the saved one) checked against ``saved``.

    Only ``iters`` may differ (and only grow); anything else is refused by key.
    """
    if requested is None or requested == saved:
        return saved
    if requested.task != saved.task or requested.network() != saved.network():
        raise ConfigError(
            f"the checkpoint was trained as {saved.task} ({saved.network().name}); it cannot resume as "
            f"{requested.task} ({requested.network().name})"
        )
    extended = _extend(saved, requested.iters)
    _refuse_differences(extended, requested)
    return extended


def resume_config(saved: TrainConfig, given: Mapping[str, Any]) -> TrainConfig:
    """The saved config, extended by a larger ``iters`` in ``given`` (nested keys from flags and a file).

    ``task`` and ``stage`` in ``given`` must be the saved ones; every other key must equal the
    saved value (paths compared as locations), else a ``ConfigError`` names it.
    """
    given = dict(given)
    for key in ("task", "stage"):
        value = given.pop(key, None)
        if value is not None and value != getattr(saved, key):
            raise ConfigError(
                f"the checkpoint holds a {saved.task}/{saved.stage} run; it cannot resume as --{key} {value}")
    iters = given.pop("iters", None)
    extended = saved if iters is None else _extend(saved, int(iters))
    _refuse_differences(extended, apply_overrides(extended, given), given)
    return extended


def _refuse_differences(saved: TrainConfig, requested: TrainConfig, given: Mapping[str, Any] | None = None) -> None:
    a, b = _flat(config_to_dict(saved)), _flat(config_to_dict(requested))
    keys = sorted(set(_flat(given)) if given is not None else set(a) | set(b))
    changed = [f"{k} is {a.get(k)!r} in the saved run, {b.get(k)!r} now"
               for k in keys if not _same(k, a.get(k), b.get(k))]
    if changed:
        raise ConfigError(
            f"--resume continues the saved config; {'; '.join(changed[:6])}{' ...' if len(changed) > 6 else ''} "
            "(drop the setting or give the saved value; only iters may grow)"
        )
