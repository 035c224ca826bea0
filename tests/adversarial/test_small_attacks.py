"""Leftovers of killed runs, terminal escapes in names, non-reproducible files, unsafe advice."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import pytest
import torch

from vmambair_core.atomic import clean_stale_temps
from vmambair_core.evaluate import synthetic
from vmambair_core.weights import write_safetensors
from vmambair_core.weights.formats import load_failure_detail

from .attacks import ESCAPE_NAME, cli, malicious_pickle, one_line_error, png, stale_temp, tiny_weights


def test_stale_temporaries_of_a_killed_restore_are_removed_on_the_next_run(tmp_path: Path) -> None:
    out = tmp_path / "out"
    old = stale_temp(out, ".a.png.0badc0de.tmp", age_s=7200)
    recent = stale_temp(out, ".b.png.12345678.tmp", age_s=10)  # another restore may be writing it now
    foreign = stale_temp(out, ".notes.tmp", age_s=7200)  # not our naming
    result = cli("restore", png(tmp_path / "in" / "a.png"), "-o", out, "-t", "sisr", "-w",
                 tiny_weights(tmp_path / "w.safetensors"))
    assert result.exit_code == 0, result.output
    assert not old.exists() and recent.exists() and foreign.exists()
    assert (out / "a.png").is_file()


def test_stale_cache_build_folders_are_removed(tmp_path: Path) -> None:
    old = stale_temp(tmp_path, ".BSD100-realesrgan.deadbeef.tmp", age_s=7200, directory=True)
    recent = stale_temp(tmp_path, ".BSD100-realesrgan.0000abcd.tmp", age_s=5, directory=True)
    assert clean_stale_temps(tmp_path) == [old]
    assert not old.exists() and recent.exists()


def test_sigterm_during_the_cache_build_leaves_no_temporary_folder(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(synthetic.CACHE_ENV, str(tmp_path / "cache"))
    benchmarks = tmp_path / "cache" / "benchmarks"
    leftover = stale_temp(benchmarks, ".BSD100-realesrgan.deadbeef.tmp", age_s=7200, directory=True)

    def killed_midway(pairs, recipe, out_dir: Path) -> str:  # noqa: ANN001
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / f"{pairs[0].key}.png").write_bytes(b"partial")
        os.kill(os.getpid(), signal.SIGTERM)  # what `kill` or a scheduler sends
        raise AssertionError("SIGTERM did not interrupt")

    monkeypatch.setattr(synthetic, "generate_lq", killed_midway)
    result = cli("eval", "--bench", "BSD100-realesrgan", "--model", "bicubic", "--data-root", data_dir / "sr")
    assert result.exit_code == 130, result.output
    assert not leftover.exists()
    assert sorted(p.name for p in benchmarks.iterdir()) == []


def test_escape_sequences_in_file_names_are_shown_escaped(tmp_path: Path) -> None:
    bad = tmp_path / "in" / ESCAPE_NAME
    bad.parent.mkdir()
    bad.write_bytes(b"not an image")
    good = png(tmp_path / "in" / "good.png")
    weights = tiny_weights(tmp_path / "w.safetensors")
    partial = cli("restore", bad, good, "-o", tmp_path / "out", "-t", "sisr", "-w", weights)
    assert partial.exit_code == 3, partial.output
    assert "\x1b" not in partial.stderr and "\x07" not in partial.stderr
    assert "a\\x1b]0;pwned\\x07\\x1b[2J.png" in partial.stderr
    missing = cli("restore", tmp_path / ESCAPE_NAME, "-o", tmp_path / "out", "-t", "sisr", "-w", weights)
    line = one_line_error(missing)
    assert "\x1b" not in line and "\\x1b[2J.png: no such file or folder" in line


def test_the_same_weights_and_metadata_give_the_same_bytes_every_time(tmp_path: Path) -> None:
    """safetensors orders metadata by a randomly seeded hash map, new for every file written."""
    meta = {f"key{k}": str(k) for k in range(8)}
    digests = {hashlib.sha256(write_safetensors({"w": torch.arange(4.0)}, tmp_path / f"{k}.safetensors", meta)
                              .read_bytes()).hexdigest() for k in range(4)}
    assert len(digests) == 1


def test_refusals_never_advise_weights_only_false(tmp_path: Path) -> None:
    evil = malicious_pickle(tmp_path / "evil.pth")
    line = one_line_error(cli("restore", png(tmp_path / "a.png"), "-o", tmp_path / "out", "-t", "sisr", "-w", evil))
    assert "getcwd" in line and "weights_only" not in line and "trust" not in line
    torch_2_4 = ("Weights only load failed. Re-running `torch.load` with `weights_only` set to `False` will likely "
                 "succeed, but it can result in arbitrary code execution.Do it only if you get the file from a trusted "
                 "source. WeightsUnpickler error: Unsupported global: GLOBAL posix.getcwd was not an allowed global by "
                 "default. Please use `torch.serialization.add_safe_globals([getcwd])` to allowlist this global if "
                 "you trust this class/function.")
    detail = load_failure_detail(RuntimeError(torch_2_4))
    assert "GLOBAL posix.getcwd was not an allowed global" in detail and "weights_only" not in detail
    assert "add_safe_globals" not in detail


def test_a_malicious_training_checkpoint_is_refused_without_unsafe_advice(tmp_path: Path) -> None:
    from vmambair_core.errors import CheckpointError
    from vmambair_core.train.export import export_checkpoint

    folder = tmp_path / "run" / "checkpoints" / "iter_00000001"
    folder.mkdir(parents=True)
    malicious_pickle(folder / "state.pt")
    (folder / "meta.json").write_text('{"version": 1, "iteration": 1, "world_size": 1}')
    (folder.parent / "latest").write_text("iter_00000001\n")
    line = one_line_error(cli("train", "-o", tmp_path / "run", "--resume"))
    assert "cannot read checkpoint file" in line and "getcwd" in line and "weights_only" not in line
    with pytest.raises(CheckpointError, match="getcwd") as refused:
        export_checkpoint(folder, tmp_path / "x.safetensors")
    assert "weights_only" not in str(refused.value)
