"""`vmambair train`: flags -> config, resume rules, torchrun launch, exit codes (core patched out)."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

import vmambair_cli.train as cli_train
from vmambair_cli.app import app
from vmambair_core.train import TrainConfig, TrainingInterrupted, TrainResult, config_to_dict, resolve_config
from vmambair_core.train.checkpoint import save_checkpoint
from vmambair_core.train.distributed import DistEnv
from vmambair_core.train.preflight import MemoryPlan

runner = CliRunner()


@pytest.fixture(autouse=True)
def _planned_memory(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The launcher measures a real step of the full network before starting CPU processes: here it
    is told the run fits with accumulation 2 (the measurement itself is tested in tests/train)."""
    seen: list[int] = []

    def plan(cfg: Any, device: Any, *, procs: int = 1, **_kw: Any) -> MemoryPlan:
        seen.append(procs)
        return MemoryPlan(accum=2, need=2**30, free=8 * 2**30, procs=procs)

    monkeypatch.setattr(cli_train, "plan_memory", plan)
    return seen


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []

    def fake_train(cfg: Any, run_dir: Any, **kwargs: Any) -> TrainResult:
        seen.append({"cfg": cfg, "run_dir": Path(run_dir), **kwargs})
        return TrainResult(Path(run_dir), 1, Path(run_dir) / "c", Path(run_dir) / "model.safetensors", None)

    monkeypatch.setattr(cli_train, "train", fake_train)
    return seen


def _data(tmp_path: Path) -> str:
    (tmp_path / "data").mkdir(exist_ok=True)
    return str(tmp_path / "data")


def test_flags_and_file_become_the_config(calls: list, tmp_path: Path) -> None:
    f = tmp_path / "run.toml"
    f.write_text("seed = 9\n[data]\nbatch_size = 3\n[optim_g]\nlr = 1e-4\n", encoding="utf-8")
    res = runner.invoke(app, [
        "train", "--task", "derain", "--data", _data(tmp_path), "-o", str(tmp_path / "run"), "--config", str(f),
        "--iters", "3000", "--lr", "5e-5", "--patch-size", "64", "--model-dim", "4", "--model-blocks", "1",
        "--device", "cpu", "--workers", "0", "--export-fp16", "--quiet",
    ])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().endswith("model.safetensors")
    (call,) = calls
    cfg = call["cfg"]
    assert cfg.task == "derain" and cfg.seed == 9 and cfg.iters == 3000
    assert cfg.optim_g.lr == 5e-5 and cfg.data.batch_size == 3 and cfg.data.patch_size == 64
    assert cfg.data.progressive is None and cfg.sched_g.periods == (920, 2080) and cfg.export_fp16
    assert cfg.network().name == "derain-tiny"
    assert call["device"] == "cpu" and call["workers"] == 0 and call["resume"] is False and call["reporter"] is None


def test_config_errors_exit_2(calls: list, tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[data]\nbach_size = 3\n", encoding="utf-8")
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", _data(tmp_path), "-o", str(tmp_path / "r"),
                              "--config", str(f)])
    assert res.exit_code == 2 and "unknown config key 'data.bach_size'" in res.output
    res = runner.invoke(app, ["train", "--task", "sisr", "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "--data" in res.output
    res = runner.invoke(app, ["train", "--task", "nope", "--data", _data(tmp_path), "-o", str(tmp_path / "r")])
    assert res.exit_code == 2 and "unknown task" in res.output
    assert not calls


def _saved_run(run: Path, data: str, **overrides: Any) -> TrainConfig:
    """A run folder holding one checkpoint of ``vmambair train --task sisr --data DATA --iters 4 ...``."""
    cfg = resolve_config("sisr", overrides={"data.root": data, "iters": 4, "data.batch_size": 2,
                                            "data.patch_size": 32, **overrides})
    save_checkpoint(run, 2, DistEnv(), shared={"config": config_to_dict(cfg)}, per_rank={}, meta={})
    return cfg


SAME = ["--task", "sisr", "--iters", "4", "--batch-size", "2", "--patch-size", "32"]


def test_resume_accepts_the_same_command(calls: list, tmp_path: Path) -> None:
    """A job script re-queued with --resume: flags equal to the saved config are accepted."""
    run, data = tmp_path / "run", _data(tmp_path)
    saved = _saved_run(run, data)
    res = runner.invoke(app, ["train", *SAME, "--data", data, "-o", str(run), "--resume", "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert calls[0]["cfg"] == saved and calls[0]["resume"] and calls[0]["expect_task"] == "sisr"
    assert calls[0]["workers"] == 2
    # the same place spelled another way is the same data folder
    res = runner.invoke(app, ["train", "-o", str(run), "--resume", "--data", data + "/../data"])
    assert res.exit_code == 0, res.output
    f = tmp_path / "run.toml"
    f.write_text("task = 'sisr'\n[data]\nbatch_size = 2\n", encoding="utf-8")
    res = runner.invoke(app, ["train", "-o", str(run), "--resume", "--config", str(f)])
    assert res.exit_code == 0, res.output
    assert calls[-1]["cfg"] == saved


def test_resume_with_more_iters_extends_the_run_with_the_saved_schedule(calls: list, tmp_path: Path) -> None:
    run, data = tmp_path / "run", _data(tmp_path)
    saved = _saved_run(run, data)
    res = runner.invoke(app, ["train", *SAME[:2], "--iters", "6", "--data", data, "-o", str(run), "--resume"])
    assert res.exit_code == 0, res.output
    cfg = calls[0]["cfg"]
    assert cfg.iters == 6 and cfg.sched_g == saved.sched_g  # milestones not rescaled
    assert cfg == replace(saved, iters=6)
    res = runner.invoke(app, ["train", "-o", str(run), "--resume", "--iters", "3"])
    assert res.exit_code == 2 and "not shorten it: iters is 4 in the saved run, 3 now" in res.output


def test_resume_refuses_a_different_setting_by_name(calls: list, tmp_path: Path) -> None:
    run, data = tmp_path / "run", _data(tmp_path)
    _saved_run(run, data)
    res = runner.invoke(app, ["train", *SAME, "--batch-size", "3", "--data", data, "-o", str(run), "--resume"])
    assert res.exit_code == 2
    assert "data.batch_size is 2 in the saved run, 3 now" in " ".join(res.output.split())
    res = runner.invoke(app, ["train", "-o", str(run), "--resume", "--stage", "gan"])
    assert res.exit_code == 2 and "cannot resume as --stage gan" in res.output
    res = runner.invoke(app, ["train", "-o", str(tmp_path / "empty"), "--resume"])
    assert res.exit_code == 1 and "nothing to resume" in res.output
    assert not calls


def test_resume_with_gpus_checks_the_flags_before_launching(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            data_dir: Path) -> None:
    launched: list[list[str]] = []
    monkeypatch.setattr(cli_train, "launch_torchrun", lambda launcher, entry, **_k: launched.append(entry) or 0)
    monkeypatch.setattr(cli_train, "train", lambda *a, **k: pytest.fail("the parent must not train"))
    run, data = tmp_path / "run", str(data_dir / "sr_train" / "T91")
    _saved_run(run, data)
    res = runner.invoke(app, ["train", *SAME, "--batch-size", "3", "--data", data, "-o", str(run), "--resume",
                              "--gpus", "2", "--device", "cpu"])
    assert res.exit_code == 2 and "data.batch_size" in res.output and not launched
    res = runner.invoke(app, ["train", *SAME[:2], "--iters", "6", "--data", data, "-o", str(run), "--resume",
                              "--gpus", "2", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    (entry,) = launched
    assert "--resume" in entry and entry[entry.index("--iters") + 1] == "6"


def test_interrupt_exits_130_with_a_resume_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def stopped(*_a: Any, **_k: Any) -> None:
        raise TrainingInterrupted(7, tmp_path / "run" / "checkpoints" / "iter_00000007")

    monkeypatch.setattr(cli_train, "train", stopped)
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", _data(tmp_path), "-o", str(tmp_path / "run")])
    assert res.exit_code == 130
    assert "iteration 7" in res.output and "--resume" in res.output


@pytest.mark.parametrize(("rc", "code"), [(0, 0), (130, 130), (1, 1)])
def test_gpus_launch_torchrun(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path, rc: int, code: int) -> None:
    launched: list[tuple[list[str], list[str]]] = []

    def fake_launch(launcher: list[str], entry: list[str], **_k: Any) -> int:
        launched.append((launcher, entry))
        return rc

    monkeypatch.setattr(cli_train, "launch_torchrun", fake_launch)
    monkeypatch.setattr(cli_train, "train", lambda *a, **k: pytest.fail("the parent must not train"))
    data = str(data_dir / "sr_train" / "T91")
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", data, "-o", str(tmp_path / "run"), "--gpus", "2",
                              "--iters", "5", "--compile", "--device", "cpu"])
    assert res.exit_code == code, res.output
    (launcher, entry) = launched[0]
    assert launcher == ["--standalone", "--nproc-per-node=2"]
    assert entry[:3] == ["-m", "vmambair_cli", "train"]
    args = entry[3:]
    assert "--gpus" not in args and "--nnodes" not in args
    assert args[args.index("--task") + 1] == "sisr" and args[args.index("--iters") + 1] == "5"
    assert args[args.index("--data") + 1] == data and "--compile" in args and "--resume" not in args
    assert args[args.index("--accum") + 1] == "2"  # checked for both processes together, passed on


def test_gpus_checks_before_launching(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path) -> None:
    monkeypatch.setattr(cli_train, "launch_torchrun", lambda *a, **k: pytest.fail("must not launch"))
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", _data(tmp_path), "-o", str(tmp_path / "r"),
                              "--gpus", "2", "--device", "cpu"])
    assert res.exit_code == 1 and "no images" in res.output
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", str(data_dir / "sr_train" / "T91"),
                              "-o", str(tmp_path / "r"), "--gpus", "2", "--nnodes", "2", "--device", "cpu"])
    assert res.exit_code == 2 and "--master-addr" in res.output


def test_gpus_n_without_n_gpus_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                      data_dir: Path) -> None:
    monkeypatch.setattr(cli_train, "launch_torchrun", lambda *a, **k: pytest.fail("must not launch"))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    started = time.monotonic()
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", str(data_dir / "sr_train" / "T91"),
                              "-o", str(tmp_path / "r"), "--gpus", "8"])
    assert time.monotonic() - started < 5
    assert res.exit_code == 1 and len(res.output.strip().splitlines()) == 1
    assert "--gpus 8 asks for 8 GPUs but no CUDA GPU is visible here" in res.output and "--device cpu" in res.output
    assert not (tmp_path / "r").exists()


def test_a_failed_worker_is_one_line_and_its_log_lands_in_the_run_folder(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path) -> None:
    def killed(launcher: list[str], entry: list[str], *, report: Path, log: Path, **_k: Any) -> int:
        log.write_text("torchrun's 40-line summary\nTraceback ...\n", encoding="utf-8")
        report.write_text(json.dumps([{"rank": 1, "exitcode": -9}, {"rank": 0, "exitcode": -15}]), encoding="utf-8")
        return 1

    monkeypatch.setattr(cli_train, "launch_torchrun", killed)
    run = tmp_path / "run"
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", str(data_dir / "sr_train" / "T91"), "-o", str(run),
                              "--gpus", "2", "--device", "cpu"])
    assert res.exit_code == 1
    memory, line = res.output.strip().splitlines()  # the launcher's memory check, then the failure
    assert memory.startswith("memory: 1.0 GiB needed by 2 process(es)")
    assert "rank 1 was killed by the system (signal 9), most likely out of memory" in line
    assert line.endswith(f"full log: {run / 'workers.log'}") and "Traceback" not in res.output
    assert "40-line summary" in (run / "workers.log").read_text()


def test_data_flag_repeats_for_several_folders(calls: list, tmp_path: Path) -> None:
    import os

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", str(a), "--data", str(b), "-o", str(tmp_path / "r"),
                              "--quiet"])
    assert res.exit_code == 0, res.output
    assert calls[0]["cfg"].data.root == f"{a}{os.pathsep}{b}"
    argv = cli_train._child_argv({"data": [a, b], "iters": 5, "gpus": 2})
    assert argv == ["--data", str(a), "--data", str(b), "--iters", "5"]


@pytest.mark.slow
def test_rerunning_the_command_with_resume_and_more_iters_trains_on(tmp_path: Path, data_dir: Path) -> None:
    """The reported case end to end: the same line with --iters 6 --resume continues from 4 to 6."""
    run = tmp_path / "run"
    line = ["train", "--task", "sisr", "--data", str(data_dir / "sr_train" / "T91"), "--batch-size", "2",
            "--patch-size", "32", "-o", str(run), "--model-dim", "4", "--model-blocks", "1", "--workers", "0",
            "--device", "cpu", "--log-every", "1", "--quiet"]
    assert runner.invoke(app, [*line, "--iters", "4"]).exit_code == 0
    res = runner.invoke(app, [*line, "--iters", "6", "--resume"])
    assert res.exit_code == 0, res.output
    with open(run / "metrics.csv", newline="", encoding="utf-8") as fh:
        assert [int(r["iteration"]) for r in csv.DictReader(fh)] == [1, 2, 3, 4, 5, 6]
    saved = json.loads((run / "checkpoints" / "iter_00000004" / "meta.json").read_text())
    assert saved["iteration"] == 4
    state = torch.load(run / "checkpoints" / "iter_00000006" / "state.pt", weights_only=True)
    assert state["config"]["iters"] == 6 and json.loads((run / "config.json").read_text())["iters"] == 6
    sched = state["config"]["sched_g"]
    four = resolve_config("sisr", overrides={"iters": 4})
    assert sched["milestones"] == list(four.sched_g.milestones)  # the saved schedule, not rescaled to 6
    passed = sum(m <= 6 for m in four.sched_g.milestones)
    assert state["schedulers"]["g"]["_last_lr"][0] == pytest.approx(four.optim_g.lr * four.sched_g.gamma**passed)
