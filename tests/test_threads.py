"""`--threads`: one option on restore, eval, train and bench, applied by ``vmambair_core.threads``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.threads import set_threads, thread_report

runner = CliRunner()


@pytest.fixture
def keep_threads() -> Iterator[None]:
    before = torch.get_num_threads()
    numba = thread_report()["numba"]
    yield
    torch.set_num_threads(before)
    if numba is not None:
        import numba as nb  # noqa: PLC0415

        nb.set_num_threads(numba)


@pytest.mark.usefixtures("keep_threads")
def test_set_threads_sets_torch_and_numba_and_none_keeps_them() -> None:
    torch.set_num_threads(2)
    set_threads(None)
    assert torch.get_num_threads() == 2
    set_threads(1)
    report = thread_report()
    assert report["torch"] == 1 and report["numba"] in (None, 1)
    assert report["cores"] >= 1


@pytest.mark.usefixtures("keep_threads")
@pytest.mark.parametrize(
    "args",
    [
        ["bench", "--sizes", "x", "--device", "cpu"],  # fails on --sizes, after the threads are set
        ["restore", "missing-folder", "-o", "out", "-t", "sisr"],
        ["eval", "--model", "bicubic"],  # no benchmark or folders given
        ["train", "-o", "run"],  # no task
    ],
)
def test_every_compute_command_takes_threads(args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    torch.set_num_threads(2)
    r = runner.invoke(app, [*args, "--threads", "1"])
    # The command's own error (a usage error of its own exits 2 too), not Typer refusing --threads 1.
    assert r.exit_code != 0 and "--threads" not in r.output, r.output
    assert torch.get_num_threads() == 1
    zero = runner.invoke(app, [*args, "--threads", "0"])
    assert zero.exit_code == 2 and "--threads" in zero.output


def test_info_reports_the_threads_in_effect() -> None:
    r = runner.invoke(app, ["info"])
    assert r.exit_code == 0 and f"torch {torch.get_num_threads()} " in r.output
