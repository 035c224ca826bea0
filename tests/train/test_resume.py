"""Interrupt + resume equals an uninterrupted run (bitwise on CPU); atomic checkpoints; clear refusals."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from vmambair_core.errors import CheckpointError, ConfigError
from vmambair_core.train import NullReporter, TrainingInterrupted, config_to_dict, resolve_config, train
from vmambair_core.train.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from vmambair_core.train.distributed import DistEnv

TINY = {"model.dim": 4, "model.blocks": 1, "data.workers": 0, "data.batch_size": 1, "log_every": 1}


def _cfg(data_dir: Path, task: str, iters: int):
    file: dict = {"data": {"hr_crop": 80, "pool_size": 2}} if task == "realsr" else {}
    return resolve_config(task, file=file, overrides={
        **TINY, "data.root": str(data_dir / "sr_train" / "T91"), "iters": iters, "data.patch_size": 32})


class _SignalAt(NullReporter):
    """Sends this process a real SIGTERM after iteration ``k`` (what `kill` or a scheduler does)."""

    def __init__(self, k: int) -> None:
        self.k = k

    def iteration_done(self, iteration: int) -> None:
        if iteration == self.k:
            signal.raise_signal(signal.SIGTERM)


def _assert_same(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), path
        for k in a:
            _assert_same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    else:
        assert a == b, path


def _losses(run: Path) -> list[tuple[str, str]]:
    with open(run / "metrics.csv", newline="", encoding="utf-8") as fh:
        return [(r["iteration"], r["l_pix"]) for r in csv.DictReader(fh)]


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sisr", "realsr"])
def test_sigterm_then_resume_equals_uninterrupted(data_dir: Path, tmp_path: Path, task: str) -> None:
    """realsr adds the device-side degradation and the pair queue (filled at iteration 2, used at 3)."""
    cfg = _cfg(data_dir, task, iters=3)
    whole = train(cfg, tmp_path / "a", device="cpu")
    with pytest.raises(TrainingInterrupted) as stop:
        train(cfg, tmp_path / "b", device="cpu", reporter=_SignalAt(2))
    assert stop.value.iteration == 2 and stop.value.checkpoint.name == "iter_00000002"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored
    resumed = train(None, tmp_path / "b", device="cpu", resume=True)

    a = torch.load(whole.checkpoint / "state.pt", weights_only=True)
    b = torch.load(resumed.checkpoint / "state.pt", weights_only=True)
    for key in ("model", "ema", "optimizers", "schedulers", "scaler", "data"):
        _assert_same(a[key], b[key], key)
    _assert_same(torch.load(whole.checkpoint / "rank_0.pt", weights_only=True)["batches"],
                 torch.load(resumed.checkpoint / "rank_0.pt", weights_only=True)["batches"], "batches")
    assert _losses(tmp_path / "a") == _losses(tmp_path / "b")  # logged rows past the checkpoint replaced


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
    shutil.rmtree(run)
