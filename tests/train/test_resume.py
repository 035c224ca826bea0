"""Interrupt + resume continues an uninterrupted run (exact data/RNG, weights within noise); atomic checkpoints."""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pytest
import torch

from vmambair_core.errors import CheckpointError, ConfigError
from vmambair_core.train import loop as loop_module
from vmambair_core.train import (
    NullReporter, TrainingInterrupted, TrainResult, config_to_dict, resolve_config, train,
)
from vmambair_core.train import checkpoint as checkpoint_module
from vmambair_core.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from vmambair_core.train.data import PatchDataset
from vmambair_core.train.distributed import DistEnv
from vmambair_core.train.resume import continue_config

TINY = {"model.dim": 4, "model.blocks": 1, "data.workers": 0, "data.batch_size": 1, "log_every": 1}


def _cfg(data_dir: Path, task: str, iters: int):
    """``realsr-gan``: the GAN stage with feature matching, the pattern penalty, USM GT and a mild share."""
    stage = "gan" if task.endswith("-gan") else "l1"
    task = task.removesuffix("-gan")
    file: dict = {"data": {"hr_crop": 80, "pool_size": 2}} if task == "realsr" else {}
    if stage == "gan":
        file.update(loss={"perceptual": 0.0, "gan": 0.1, "feature_matching": 1.0, "pattern": 10.0, "usm_gt": True,
                          "disc_features": 4}, mild={"prob": 0.5})
    return resolve_config(task, stage, file=file, overrides={
        **TINY, "data.root": str(data_dir / "sr_train" / "T91"), "iters": iters, "data.patch_size": 32})


class _SignalAt(NullReporter):
    """Sends this process a real SIGTERM after iteration ``k`` (what `kill` or a scheduler does)."""

    def __init__(self, k: int) -> None:
        self.k = k

    def iteration_done(self, iteration: int) -> None:
        if iteration == self.k:
            signal.raise_signal(signal.SIGTERM)


# Two runs of the same job agree only up to floating-point noise on some CPUs (an Intel Xeon gave
# 1e-9..3e-8 on most weights and 3e-5 on one bias between two uninterrupted runs in one process), so
# exact equality is asserted only for what holds by construction: counters, data positions, RNG
# states, which samples make each batch, the config. Floating-point state is compared by groups
# (the weights, the EMA, each kind of optimiser moment, each queued image tensor):
#     rms(resumed - whole) <= K * rms(whole - whole2) + ATOL
# where whole and whole2 are two uninterrupted runs measured in the test. The root mean square over
# a group, not the largest element: Adam turns a gradient that is zero in exact arithmetic (say a
# bias feeding a softmax) into a +-lr step of random sign, so a few parameters are pure noise whose
# size in one pair of runs says little about another pair (with injected noise a per-tensor max
# failed by 48x); the RMS over a group averages them with everything else.
#   * K = 10: the resumed run carries the same kind of noise as whole2 over the same iterations; one
#     measurement of it is a rough estimate, and 10x leaves room for that.
#   * weights: ATOL = 1% of one optimiser step (lr). Adam moves each weight by up to about lr per
#     step, so a skipped or repeated batch changes the weights' RMS by a sizeable fraction of lr, far
#     above this; on a deterministic CPU the spread is 0 and ATOL alone is the tolerance.
#   * optimiser moments have no lr scale: ATOL = RTOL_STATE of the group's own RMS (another batch
#     changes a gradient moment by a large fraction of itself).
#   * the realsr pair queue holds 8-bit images: ATOL = one level (1/255), since noise just below a
#     rounding boundary can flip a stored level; another batch changes whole images.
#   * losses are logged with 6 significant digits (metrics.csv): one unit of the 6th digit.
K = 10.0
ATOL_STEPS = 0.01
RTOL_STATE = 1e-4
LOSS_RTOL = 1e-5


def _leaves(obj: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(obj, dict):
        for k in obj:
            yield from _leaves(obj[k], f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _leaves(v, f"{path}[{i}]")
    else:
        yield path, obj


def _group(path: str) -> str:
    """.model.x.weight -> .model; .optimizers.g.state.7.exp_avg -> .optimizers.g.exp_avg; else itself."""
    parts = path.split(".")
    if parts[1] in ("model", "ema", "net_d"):
        return f".{parts[1]}"
    if parts[1] == "optimizers":
        return f".optimizers.{parts[2]}.{parts[-1]}"
    return path


def _atol(group: str, rms_whole: float, lr: float) -> float:
    if group in (".model", ".ema", ".net_d"):
        return ATOL_STEPS * lr
    if group.startswith(".batches."):
        return 1.0 / 255.0
    return RTOL_STATE * rms_whole


def _as_float(path: str, x: torch.Tensor) -> torch.Tensor | None:
    """The tensor in comparable float units, or None where it must match exactly."""
    if path.startswith(".batches.") and x.dtype == torch.uint8:
        return x.double() / 255.0  # 8-bit images (pair queue)
    if x.is_floating_point() and not path.endswith(".step"):  # Adam's step counter is exact
        return x.double()
    return None


def _rms(parts: list[torch.Tensor]) -> float:
    n = sum(t.numel() for t in parts)
    return (sum(float((t * t).sum()) for t in parts) / n) ** 0.5 if n else 0.0


def _differences(whole: dict[str, Any], whole2: dict[str, Any], other: dict[str, Any], lr: float) -> list[str]:
    """What in ``other`` is not the uninterrupted run ``whole`` (``whole2`` measures the noise)."""
    a, a2, b = dict(_leaves(whole)), dict(_leaves(whole2)), dict(_leaves(other))
    assert set(a) == set(a2), "two uninterrupted runs must save the same structure"
    if set(a) != set(b):
        return [f"keys differ: {sorted(set(a) ^ set(b))[:5]}"]
    out = []
    groups: dict[str, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = {}
    for path, x in a.items():
        y, x2 = b[path], a2[path]
        xf = _as_float(path, x) if isinstance(x, torch.Tensor) else None
        if xf is None:
            assert _equal(x, x2), f"{path} differs between two uninterrupted runs; it should be exact"
            if not _equal(x, y):
                out.append(f"{path}: {y!r} != {x!r}")
            continue
        yf, x2f = _as_float(path, y), _as_float(path, x2)
        if yf is None or yf.shape != xf.shape:
            out.append(f"{path}: {y!r} is not like {x!r}")
            continue
        groups.setdefault(_group(path), []).append((xf, x2f, yf))
    for group, members in groups.items():
        spread = _rms([x2 - x for x, x2, _ in members])
        err = _rms([y - x for x, _, y in members])
        tol = K * spread + _atol(group, _rms([x for x, _, _ in members]), lr)
        if err > tol:
            out.append(f"{group}: RMS off by {err:.3g} > {tol:.3g} (run-to-run RMS spread {spread:.3g})")
    return out


def _equal(x: Any, y: Any) -> bool:
    if isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor):
        return isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor) and torch.equal(x, y)
    return bool(x == y)


def _state(result: TrainResult) -> dict[str, Any]:
    """Shared and rank-0 state of a run's final checkpoint, and its logged losses."""
    folder = result.checkpoint
    shared = torch.load(folder / "state.pt", weights_only=True)
    rank = torch.load(folder / "rank_0.pt", weights_only=True)
    return {**shared, "rng": rank["rng"], "batches": rank["batches"], "losses": _losses(result.run_dir)}


def _loss_differences(whole: list[tuple[int, float]], whole2: list[tuple[int, float]],
                      other: list[tuple[int, float]]) -> list[str]:
    """Iterations logged must be the same rows; loss values within noise (see LOSS_RTOL)."""
    if [i for i, _ in other] != [i for i, _ in whole]:
        return [f"logged iterations {[i for i, _ in other]} != {[i for i, _ in whole]}"]
    spread = max(abs(x - y) for (_, x), (_, y) in zip(whole, whole2))
    return [f"loss at {i}: {y} vs {x}" for (i, x), (_, y) in zip(whole, other)
            if abs(y - x) > K * spread + LOSS_RTOL * abs(x)]


def _losses(run: Path) -> list[tuple[int, float]]:
    with open(run / "metrics.csv", newline="", encoding="utf-8") as fh:
        return [(int(r["iteration"]), float(r["l_pix"])) for r in csv.DictReader(fh)]


def _all_differences(whole: dict[str, Any], whole2: dict[str, Any], other: dict[str, Any], lr: float) -> list[str]:
    drop = ("losses",)
    out = _differences({k: v for k, v in whole.items() if k not in drop},
                       {k: v for k, v in whole2.items() if k not in drop},
                       {k: v for k, v in other.items() if k not in drop}, lr)
    return out + _loss_differences(whole["losses"], whole2["losses"], other["losses"])


class _Spy:
    """Which (image index, sample position) items the loader fetched, in order (workers=0)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.items: list[tuple[int, int]] = []
        original = PatchDataset.__getitem__

        def getitem(ds: PatchDataset, item: tuple[int, int]) -> dict[str, torch.Tensor]:
            self.items.append((int(item[0]), int(item[1])))
            return original(ds, item)

        monkeypatch.setattr(PatchDataset, "__getitem__", getitem)

    def take(self) -> list[tuple[int, int]]:
        out, self.items = self.items, []
        return out


def _shifted_sampler(monkeypatch: pytest.MonkeyPatch, shift: int) -> None:
    """A broken resume: the data continue ``shift`` batches off (+1 skips one, -1 repeats one)."""
    original = loop_module.PositionSampler

    def make(*args: Any, start_iteration: int = 0, **kwargs: Any) -> Any:
        return original(*args, start_iteration=start_iteration + shift if start_iteration else 0, **kwargs)

    monkeypatch.setattr(loop_module, "PositionSampler", make)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sisr", "realsr", "realsr-gan"])
def test_sigterm_then_resume_equals_uninterrupted(
    data_dir: Path, tmp_path: Path, task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """realsr adds the device-side degradation and the pair queue (filled at iteration 2, used at 3).

    Negative control: the same check on a resume whose data skip or repeat one batch must fail,
    both on the samples fed and on the trained state (so the tolerance is tight enough to see it).
    """
    cfg = _cfg(data_dir, task, iters=3)
    lr = cfg.optim_g.lr
    spy = _Spy(monkeypatch)
    whole = _state(train(cfg, tmp_path / "a", device="cpu"))
    whole_items = spy.take()
    whole2 = _state(train(cfg, tmp_path / "a2", device="cpu"))
    assert spy.take() == whole_items
    with pytest.raises(TrainingInterrupted) as stop:
        train(cfg, tmp_path / "b", device="cpu", reporter=_SignalAt(2))
    assert stop.value.iteration == 2 and stop.value.checkpoint.name == "iter_00000002"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    first_items = spy.take()
    for shift in (1, -1):
        shutil.copytree(tmp_path / "b", tmp_path / f"broken{shift}")
    resumed = train(None, tmp_path / "b", device="cpu", resume=True)
    assert resumed.iterations == 3
    assert first_items + spy.take() == whole_items  # the same samples make each batch
    assert _all_differences(whole, whole2, _state(resumed), lr) == []

    for shift in (1, -1):
        with monkeypatch.context() as m:
            _shifted_sampler(m, shift)
            broken = _state(train(None, tmp_path / f"broken{shift}", device="cpu", resume=True))
        assert first_items + spy.take() != whole_items
        problems = _all_differences(whole, whole2, broken, lr)
        # The trained state shows it (sisr: weights and moments; realsr trains iteration 3 on a queued
        # pair, so there the queue shows it).
        assert any(p.startswith((".model:", ".optimizers.", ".batches.pool.")) for p in problems), (shift, problems)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_signals_to_the_cli_save_and_exit_130(data_dir: Path, tmp_path: Path, how: str) -> None:
    """SIGTERM to the process, or SIGINT to its whole group as a terminal's Ctrl-C (data workers too)."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "vmambair_cli", "train", "--task", "sisr", "--data", str(data_dir / "sr_train" / "T91"),
           "-o", str(run), "--iters", "500", "--batch-size", "1", "--patch-size", "16", "--model-dim", "4",
           "--model-blocks", "1", "--workers", "1", "--device", "cpu", "--log-every", "1", "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        metrics = run / "metrics.csv"
        if metrics.is_file() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 130, err.decode()
    assert b"--resume" in err
    folder = latest_checkpoint(run)
    assert folder is not None
    meta = json.loads((folder / "meta.json").read_text())
    assert 1 <= meta["iteration"] < 500
    assert not list((run / "checkpoints").glob(".*partial"))


def test_checkpoints_are_atomic_and_pruned(tmp_path: Path) -> None:
    env = DistEnv()
    for it in (1, 2, 3):
        save_checkpoint(tmp_path, it, env, shared={"x": torch.tensor([it])}, per_rank={"r": it}, meta={}, keep_last=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["iter_00000002", "iter_00000003", "latest"]
    # A save that died half-way leaves a .partial folder; the last complete one stays the latest.
    (tmp_path / "checkpoints" / ".iter_00000004.partial").mkdir()
    folder = latest_checkpoint(tmp_path)
    assert folder is not None and folder.name == "iter_00000003"
    ck = load_checkpoint(folder, env)
    assert ck.iteration == 3 and ck.per_rank == {"r": 3} and torch.equal(ck.shared["x"], torch.tensor([3]))
    # Another world size cannot resume it.
    with pytest.raises(CheckpointError, match="saved by 1 process"):
        load_checkpoint(folder, DistEnv(rank=0, world_size=2))
    (folder / "state.pt").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="cannot read"):
        load_checkpoint(folder, env)


@pytest.mark.parametrize("fail_at", [2, 3])
def test_a_crash_while_saving_the_same_iteration_again_keeps_a_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    """A resume interrupted at once saves its iteration again: a fault between moving the old folder
    aside and installing the new one (2), or before ``latest`` is rewritten (3), loses nothing."""
    env = DistEnv()
    for it in (1, 2):
        save_checkpoint(tmp_path, it, env, shared={"x": torch.tensor([it])}, per_rank={}, meta={}, keep_last=2)
    real_replace, real_write = os.replace, checkpoint_module.atomic_write_text

    def replace(src: Any, dst: Any) -> None:
        if fail_at == 2 and Path(src).name == ".iter_00000002.partial":
            raise KeyboardInterrupt  # the old iter_00000002 is out of the way, the new one not yet in
        real_replace(src, dst)

    def write(path: Path, text: str) -> None:
        if fail_at == 3 and path.name == "latest":
            raise KeyboardInterrupt
        real_write(path, text)

    monkeypatch.setattr(checkpoint_module.os, "replace", replace)
    monkeypatch.setattr(checkpoint_module, "atomic_write_text", write)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(tmp_path, 2, env, shared={"x": torch.tensor([20])}, per_rank={}, meta={}, keep_last=2)
    monkeypatch.undo()
    folder = latest_checkpoint(tmp_path)
    assert folder is not None
    ck = load_checkpoint(folder, env)
    assert ck.iteration == 2 and int(ck.shared["x"]) in (2, 20)
    # The next save puts back what the crash left aside, then keeps the last two.
    save_checkpoint(tmp_path, 3, env, shared={"x": torch.tensor([3])}, per_rank={}, meta={}, keep_last=2)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir() if not p.name.endswith(".partial"))
    assert names == ["iter_00000002", "iter_00000003", "latest"]
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "iter_00000003"


def test_resume_refusals(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="nothing to resume"):
        train(None, tmp_path / "empty", device="cpu", resume=True)
    run = tmp_path / "run"
    cfg = _cfg(data_dir, "sisr", iters=3)
    save_checkpoint(run, 1, DistEnv(), shared={"config": config_to_dict(cfg)},
                    per_rank={}, meta={})
    with pytest.raises(ConfigError, match="already holds a run"):
        train(cfg, run, device="cpu")
    with pytest.raises(ConfigError, match="holds a sisr run; it cannot resume as --task derain"):
        train(None, run, device="cpu", resume=True, expect_task="derain")
    other = resolve_config("sisr", overrides={**TINY, "data.root": cfg.data.root, "iters": 3, "data.patch_size": 32,
                                              "optim_g.lr": 1e-3})
    with pytest.raises(ConfigError, match=r"optim_g\.lr"):
        train(other, run, device="cpu", resume=True)
    bigger = resolve_config("sisr", overrides={**TINY, "data.root": cfg.data.root, "model.dim": 8})
    with pytest.raises(ConfigError, match="cannot resume as"):
        train(bigger, run, device="cpu", resume=True)
    with pytest.raises(ConfigError, match="not shorten it: iters is 3 in the saved run, 2 now"):
        train(dataclasses.replace(cfg, iters=2), run, device="cpu", resume=True)
    # A whole config may only extend iters; the schedule stays the saved one (a re-resolved one differs).
    assert continue_config(cfg, dataclasses.replace(cfg, iters=5)) == dataclasses.replace(cfg, iters=5)
    with pytest.raises(ConfigError, match=r"sched_g\.milestones is \[.*\] in the saved run"):
        continue_config(cfg, _cfg(Path(cfg.data.root).parents[1], "sisr", iters=5))
    shutil.rmtree(run)
