"""`vmambair train`: flags -> config, resume rules, torchrun launch, exit codes (core patched out)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import vmambair_cli.train as cli_train
from vmambair_cli.app import app
from vmambair_core.train import TrainingInterrupted, TrainResult

runner = CliRunner()


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


def test_config_errors_exit_1(calls: list, tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text("[data]\nbach_size = 3\n", encoding="utf-8")
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", _data(tmp_path), "-o", str(tmp_path / "r"),
                              "--config", str(f)])
    assert res.exit_code == 1 and "unknown config key 'data.bach_size'" in res.output
    res = runner.invoke(app, ["train", "--task", "sisr", "-o", str(tmp_path / "r")])
    assert res.exit_code == 1 and "--data" in res.output
    res = runner.invoke(app, ["train", "--task", "nope", "--data", _data(tmp_path), "-o", str(tmp_path / "r")])
    assert res.exit_code == 1 and "unknown task" in res.output
    assert not calls


def test_resume_takes_the_saved_config(calls: list, tmp_path: Path) -> None:
    res = runner.invoke(app, ["train", "-o", str(tmp_path / "run"), "--resume", "--task", "sisr", "--workers", "2"])
    assert res.exit_code == 0, res.output
    assert calls[0]["cfg"] is None and calls[0]["resume"] and calls[0]["expect_task"] == "sisr"
    assert calls[0]["workers"] == 2
    res = runner.invoke(app, ["train", "-o", str(tmp_path / "run"), "--resume", "--iters", "5"])
    assert res.exit_code == 1 and "--resume continues the saved config" in res.output and "iters" in res.output


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


def test_gpus_checks_before_launching(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, data_dir: Path) -> None:
    monkeypatch.setattr(cli_train, "launch_torchrun", lambda *a, **k: pytest.fail("must not launch"))
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", _data(tmp_path), "-o", str(tmp_path / "r"),
                              "--gpus", "2"])
    assert res.exit_code == 1 and "no images" in res.output
    res = runner.invoke(app, ["train", "--task", "sisr", "--data", str(data_dir / "sr_train" / "T91"),
                              "-o", str(tmp_path / "r"), "--gpus", "2", "--nnodes", "2"])
    assert res.exit_code == 1 and "--master-addr" in res.output


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
