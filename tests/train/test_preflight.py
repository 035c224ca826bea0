"""Memory preflight: the estimate against a measured step, the accumulation it chooses, one-line refusals."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest
import torch

from vmambair_core.errors import ConfigError
from vmambair_core.memory import HighWater, available_memory_bytes
from vmambair_core.models import build_model
from vmambair_core.train import preflight, resolve_config, train
from vmambair_core.train.preflight import GIB, StepMemory, measure_step, plan_memory
from vmambair_core.train.steps import build_parts, train_step

CPU = torch.device("cpu")
MIB = 2**20


def _cfg(**over: object):
    return resolve_config("sisr", overrides={"model.dim": 8, "model.blocks": 1, "data.root": "x",
                                             "data.patch_size": 128, "data.batch_size": 6, **over})


def test_available_memory_is_known_here() -> None:
    free = available_memory_bytes()
    assert free is not None and 0 < free < 2**50


@pytest.mark.slow
def test_the_estimate_matches_a_measured_step() -> None:
    """Predicted peak of a batch-6 step (from steps at batch 1 and 2) against that step's measured peak."""
    hw = HighWater()
    if not hw.available:
        pytest.skip("peak memory cannot be read here")
    cfg = _cfg()
    mem = measure_step(cfg, CPU)  # no budget: the full-patch step is taken
    assert mem is not None and mem.patch == 128 and mem.per_sample > 0
    torch.manual_seed(0)
    parts = build_parts(cfg, build_model(cfg.network()), CPU, torch.float32)
    lq, gt = torch.rand(6, 3, 32, 32), torch.rand(6, 3, 128, 128)
    peaks = []
    for _ in range(2):  # the first step also creates the gradients and Adam's state
        gc.collect()
        hw.reset()
        train_step(parts, lq, gt, CPU)
        peaks.append(hw.peak())
    # Peaks are the process's resident size (what the kernel's OOM killer sees), as measure_step's are:
    # differences from a resident size read before the steps go negative when freed memory is returned.
    measured, predicted = max(peaks), mem.peak(6)
    assert 0.95 * measured <= predicted <= 1.3 * measured, (predicted / MIB, measured / MIB)


def test_accumulation_is_the_fewest_micro_batches_that_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _cfg()
    mem = StepMemory(fixed=GIB, per_sample=GIB, patch=128)  # batch 6: 7 GiB at once
    monkeypatch.setattr(preflight, "available_memory_bytes", lambda: 5 * GIB)  # budget 4.25 GiB
    plan = plan_memory(cfg, CPU, mem=mem)
    assert plan is not None and plan.accum == 2  # 3 samples: 4 GiB
    monkeypatch.setattr(preflight, "available_memory_bytes", lambda: 100 * GIB)
    assert plan_memory(cfg, CPU, mem=mem).accum == 1  # type: ignore[union-attr]
    monkeypatch.setattr(preflight, "available_memory_bytes", lambda: 16 * GIB)
    assert plan_memory(cfg, CPU, mem=mem, procs=4).accum == 3  # type: ignore[union-attr]  # 3.4 GiB each: 2 samples


def test_no_fit_at_batch_one_is_refused_with_what_would_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _cfg()
    mem = StepMemory(fixed=GIB, per_sample=4 * GIB, patch=128)
    monkeypatch.setattr(preflight, "available_memory_bytes", lambda: 4 * GIB)
    with pytest.raises(ConfigError) as err:
        plan_memory(cfg, CPU, mem=mem)
    msg = str(err.value)
    assert "needs about 5.0 GiB" in msg and "4.0 GiB is free" in msg and "--patch-size 96" in msg  # 96: 3.25 GiB
    with pytest.raises(ConfigError, match="--accum 2 .* fits"):
        plan_memory(_cfg(accum=1), CPU, mem=StepMemory(GIB, GIB // 2, 128))


def test_train_chooses_saves_and_says_the_accumulation(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                       data_dir: Path) -> None:
    cfg = _cfg(**{"data.root": str(data_dir / "sr_train" / "T91"), "iters": 1, "data.patch_size": 32,
                  "model.dim": 4, "data.workers": 0, "data.batch_size": 4})
    monkeypatch.setattr(preflight, "measure_step", lambda *a, **k: StepMemory(GIB, GIB, 32))
    monkeypatch.setattr(preflight, "resident_memory", lambda device: 0)
    monkeypatch.setattr(preflight, "available_memory_bytes", lambda: 4 * GIB)
    train(cfg, tmp_path / "run", device="cpu")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["accum"] == 2
    first = (tmp_path / "run" / "train.log").read_text().splitlines()[0]
    assert "batch 4 as 2 micro-batches of 2" in first
    monkeypatch.setattr(preflight, "available_memory_bytes", lambda: GIB)
    with pytest.raises(ConfigError, match="one training step of a single 32-px sample"):
        train(cfg, tmp_path / "refused", device="cpu")
    assert not (tmp_path / "refused").exists()  # refused before the run folder is written
