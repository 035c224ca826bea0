"""Worker failures in one line: torchrun's report read back, the cause named, the log kept out of the terminal."""

from __future__ import annotations

import signal
import textwrap
from pathlib import Path

import pytest

from vmambair_core.errors import BackendUnavailableError, ConfigError
from vmambair_core.train.distributed import check_gpu_count, launch_torchrun, torchrun_args
from vmambair_core.train.launch import WorkerFailure, describe_failure, read_report, root_cause


def test_gpus_means_cuda_gpus() -> None:
    with pytest.raises(BackendUnavailableError, match="--gpus 8 asks for 8 GPUs but no CUDA GPU is visible here; for 8 CPU"):
        check_gpu_count(8, "auto", visible=0)
    with pytest.raises(BackendUnavailableError, match="only 2 CUDA GPUs are visible here; use --gpus 2 or"):
        check_gpu_count(4, "cuda", visible=2)
    with pytest.raises(ConfigError, match="must be auto, cpu or cuda"):
        check_gpu_count(2, "cuda:1", visible=4)
    check_gpu_count(4, "cuda", visible=4)
    check_gpu_count(8, "cpu", visible=0)  # CPU processes asked for plainly


def test_the_failure_that_started_it_is_named() -> None:
    log = Path("run/workers.log")
    killed = WorkerFailure(rank=3, exitcode=-signal.SIGKILL, timestamp=10)
    torn_down = WorkerFailure(rank=0, exitcode=-signal.SIGTERM, timestamp=9)
    line = describe_failure([torn_down, killed], log, 1)
    assert line.startswith("training worker rank 3 was killed by the system (signal 9), most likely out of memory")
    assert "--accum" in line and line.endswith("full log: run/workers.log") and "\n" not in line
    raised = WorkerFailure(rank=1, exitcode=1, message="RuntimeError: boom\n  at the end", timestamp=12)
    assert root_cause([raised, WorkerFailure(0, 130, timestamp=11)]) == raised
    assert describe_failure([raised], log, 1) == "training worker rank 1 failed: at the end; full log: run/workers.log"
    assert describe_failure([WorkerFailure(2, 7)], None, 1) == "training worker rank 2 failed: exited with code 7"
    assert "SIGSEGV" in describe_failure([WorkerFailure(2, -signal.SIGSEGV)], None, 1)
    assert describe_failure([], None, 1) == "training workers failed (launcher exit code 1)"


_WORKER = """
    import os, signal, sys, time
    from vmambair_core.train.launch import record_worker_error
    if os.environ["RANK"] == "1":
        if sys.argv[1] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        try:
            raise RuntimeError("the data folder went away")
        except RuntimeError as exc:
            record_worker_error(exc)
            sys.exit(1)
    time.sleep(60)
"""


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "raise"])
def test_real_torchrun_failure_comes_back_as_data(tmp_path: Path, capfd: pytest.CaptureFixture[str], how: str) -> None:
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(_WORKER), encoding="utf-8")
    report, log = tmp_path / "failures.json", tmp_path / "workers.log"
    rc = launch_torchrun(torchrun_args(2), [str(script), how], report=report, log=log)
    assert rc == 1
    cause = root_cause(read_report(report))
    assert cause is not None and cause.rank == 1
    if how == "kill":
        assert cause.signal == signal.SIGKILL
    else:
        assert cause.message == "RuntimeError: the data folder went away"
        assert "Traceback" in cause.traceback and "the data folder went away" in log.read_text()
    out = capfd.readouterr()
    assert "Traceback" not in out.err + out.out and "ChildFailedError" not in out.err + out.out
    assert "Root Cause" in log.read_text()  # torchrun's own summary, kept in the log
