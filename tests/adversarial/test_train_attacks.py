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


def _disk_full_at(call: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """``torch.save`` writes half of its bytes and fails with ENOSPC from its ``call``-th use on."""
    import errno
    import io
    import os

    import torch

    real, calls = torch.save, []

    def save(obj, f, *args, **kwargs):  # noqa: ANN001, ANN202
        calls.append(1)
        if len(calls) < call:
            return real(obj, f, *args, **kwargs)
        buffer = io.BytesIO()
        real(obj, buffer)
        f.write(buffer.getvalue()[: buffer.tell() // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", save)


def test_disk_full_during_a_checkpoint_stops_with_one_line_and_keeps_the_previous(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vmambair_core.train.checkpoint import latest_checkpoint, load_checkpoint
    from vmambair_core.train.distributed import DistEnv

    run = tmp_path / "run"
    _disk_full_at(3, monkeypatch)  # iteration 1 saves rank_0.pt and state.pt; iteration 2's first file fails
    result = cli("train", "--task", "sisr", "--data", data_dir / "sr_train" / "T91", "-o", run, "--iters", "3",
                 "--save-every", "1", "--model-dim", "4", "--model-blocks", "1", "--batch-size", "1",
                 "--patch-size", "32", "--workers", "0", "--quiet")
    line = one_line_error(result)
    assert "cannot write checkpoint iter_00000002 (No space left on device)" in line
    assert "iter_00000001 is intact" in line and "--resume" in line
    monkeypatch.undo()
    assert latest_checkpoint(run) == run / "checkpoints" / "iter_00000001"
    assert load_checkpoint(run / "checkpoints" / "iter_00000001", DistEnv()).iteration == 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["iter_00000001", "latest"]
    assert not (run / "model.safetensors").exists()


def _damage_meta(folder: Path, **changes: object) -> None:
    import json

    meta = json.loads((folder / "meta.json").read_text())
    for key, value in changes.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value
    (folder / "meta.json").write_text(json.dumps(meta))


@pytest.mark.slow
def test_resume_from_damaged_checkpoint_metadata_is_one_line(data_dir: Path, tmp_path: Path) -> None:
    import shutil

    import torch

    from vmambair_core.errors import CheckpointError

    run = tmp_path / "run"
    train(_cfg(data_dir), run, device="cpu")
    folder = run / "checkpoints" / "iter_00000001"
    pristine = tmp_path / "pristine"
    shutil.copytree(folder, pristine)
    for changes, field in (({"world_size": None}, "world_size is None"), ({"world_size": "1"}, "world_size is '1'"),
                           ({"world_size": 1.5}, "world_size is 1.5")):
        _damage_meta(folder, **changes)
        with pytest.raises(CheckpointError, match=field):
            train(None, run, device="cpu", resume=True)
        assert field in one_line_error(cli("train", "-o", run, "--resume", "--iters", "2"))
        shutil.copy(pristine / "meta.json", folder / "meta.json")
    (folder / "meta.json").write_text("[1, 2]")
    assert "not a JSON object" in one_line_error(cli("train", "-o", run, "--resume", "--iters", "2"))
    shutil.copy(pristine / "meta.json", folder / "meta.json")
    state = torch.load(folder / "state.pt", weights_only=True)
    del state["iteration"]
    torch.save(state, folder / "state.pt")
    assert "iteration is None" in one_line_error(cli("train", "-o", run, "--resume", "--iters", "2"))
