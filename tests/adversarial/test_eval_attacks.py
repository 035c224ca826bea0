"""eval's outputs against its inputs: --save-images never replaces ground truth, --csv never a file unasked."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from .attacks import cli, one_line_error, png


def _gt_folder(folder: Path) -> dict[Path, bytes]:
    files = [png(folder / f"im{k}.png", seed=k, size=32) for k in range(3)]
    return {f: f.read_bytes() for f in files}


def test_save_images_into_the_folder_holding_gt_is_refused_up_front(tmp_path: Path) -> None:
    gt = _gt_folder(tmp_path / "gt")
    for target in (tmp_path, tmp_path / "gt" / ".."):  # DIR holds the GT folder: DIR/gt/<name>.png are the GT files
        result = cli("eval", "--gt", tmp_path / "gt", "-t", "sisr", "--model", "bicubic", "--save-images", target)
        assert "is an input of this evaluation" in one_line_error(result)
    assert {f: f.read_bytes() for f in gt} == gt
    assert sorted(p.name for p in (tmp_path / "gt").iterdir()) == ["im0.png", "im1.png", "im2.png"]


def test_csv_onto_an_input_or_an_existing_file_is_refused_and_written_atomically(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gt = _gt_folder(tmp_path / "gt")
    first = next(iter(gt))
    onto_gt = cli("eval", "--gt", tmp_path / "gt", "-t", "sisr", "--model", "bicubic", "--csv", first, "--overwrite")
    assert "is an input of this evaluation" in one_line_error(onto_gt)
    assert first.read_bytes() == gt[first]

    rows = tmp_path / "rows.csv"
    rows.write_text("previous results\n")
    kept = cli("eval", "--gt", tmp_path / "gt", "-t", "sisr", "--model", "bicubic", "--csv", rows)
    assert "pass --overwrite" in one_line_error(kept)
    assert rows.read_text() == "previous results\n"

    def disk_full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", disk_full)
    full = cli("eval", "--gt", tmp_path / "gt", "-t", "sisr", "--model", "bicubic", "--csv", rows, "--overwrite", "-q")
    assert "No space left on device" in one_line_error(full)
    assert rows.read_text() == "previous results\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt", "rows.csv"]  # no temporary file left
    monkeypatch.undo()
    done = cli("eval", "--gt", tmp_path / "gt", "-t", "sisr", "--model", "bicubic", "--csv", rows, "--overwrite", "-q")
    assert done.exit_code == 0, done.output
    assert rows.read_text().splitlines()[0].startswith("benchmark,image,gt")
    assert len(rows.read_text().splitlines()) == 4
