"""train against finished run folders, tampered resume state and a full disk: nothing lost, one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmambair_core.errors import ConfigError
from vmambair_core.train import resolve_config, train

from .attacks import cli, one_line_error

TINY = {"model.dim": 4, "model.blocks": 1, "data.workers": 0, "data.batch_size": 1, "log_every": 1, "data.patch_size": 32}


def _cfg(data_dir: Path, iters: int = 1):  # noqa: ANN202
    return resolve_config("sisr", overrides={**TINY, "data.root": str(data_dir / "sr_train" / "T91"), "iters": iters})


def _finished_run(run: Path) -> dict[str, bytes]:
    """A run folder after its checkpoints/ was removed: the export, its config and logs remain."""
    run.mkdir(parents=True)
    files = {"model.safetensors": b"exported weights", "config.json": b'{"task": "sisr"}', "train.log": b"log\n"}
    for name, payload in files.items():
        (run / name).write_bytes(payload)
    return files


def test_a_new_run_refuses_a_folder_holding_an_export(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    files = _finished_run(run)
    result = cli("train", "--task", "sisr", "--data", data_dir / "sr_train" / "T91", "-o", run, "--iters", "1",
                 "--model-dim", "4", "--model-blocks", "1")
    assert "already holds a run (model.safetensors, config.json, train.log)" in one_line_error(result)
    assert "--overwrite" in result.stderr
    assert {name: (run / name).read_bytes() for name in files} == files
    assert sorted(p.name for p in run.iterdir()) == sorted(files)
    with pytest.raises(ConfigError, match="pass one of them"):
        train(_cfg(data_dir), run, device="cpu", resume=True, overwrite=True)


@pytest.mark.slow
def test_overwrite_replaces_the_old_run(data_dir: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    _finished_run(run)
    result = train(_cfg(data_dir), run, device="cpu", overwrite=True)
    assert result.weights == run / "model.safetensors"
    assert (run / "model.safetensors").read_bytes() != b"exported weights"
    assert "log\n" not in (run / "train.log").read_text()  # the old run's log is gone, not appended to
