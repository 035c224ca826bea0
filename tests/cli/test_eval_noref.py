"""`vmambair eval` without ground truth: NIQE and the pattern amplitude only, in the table, JSON and CSV."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.data.io import read_image
from vmambair_core.evaluate.benchmarks import ENV_DATA_ROOT
from vmambair_core.metrics import fixed_pattern_amplitude, niqe_score
from vmambair_core.metrics.color import to_uint8

runner = CliRunner()
SMALL = ("chip", "comic1")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("VMAMBAIR_LPIPS_BACKBONE", "VMAMBAIR_LPIPS_HEADS", ENV_DATA_ROOT):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))


@pytest.fixture
def photos(data_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in SMALL:
        shutil.copy(data_dir / "real_sr" / "RealSRSet" / "input" / f"{name}.png", folder / f"{name}.png")
    return folder


def test_lq_alone_json_csv_and_saved_images(photos: Path, tmp_path: Path) -> None:
    rows_csv, saved = tmp_path / "rows.csv", tmp_path / "saved"
    r = runner.invoke(app, ["eval", "--lq", str(photos), "--model", "bicubic", "--json", "--csv", str(rows_csv),
                            "--save-images", str(saved)])
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["reference"] is False and res["images_scored"] == 2 and res["mean"]["psnr"] is None
    assert "niqe" in res["lower_is_better"]
    for img in res["images"]:
        out = to_uint8(read_image(saved / "photos" / f"{img['image']}.png").rgb, 1.0)  # the saved output
        assert img["niqe"] == pytest.approx(niqe_score(out), abs=1e-9) and img["psnr"] is None
        assert img["pattern_amplitude"] == pytest.approx(fixed_pattern_amplitude(out, 4), abs=1e-12)
    assert res["mean"]["niqe"] == pytest.approx(sum(i["niqe"] for i in res["images"]) / 2)
    rows = list(csv.DictReader(rows_csv.open()))
    assert [(row["image"], row["gt"], row["psnr"], row["ssim"]) for row in rows] == [(n, "", "", "") for n in SMALL]
    assert [float(row["niqe"]) for row in rows] == [i["niqe"] for i in res["images"]]


def test_table_has_niqe_and_no_psnr_within_80_columns(photos: Path) -> None:
    r = runner.invoke(app, ["eval", "--lq", str(photos), "--model", "bicubic"], env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    j = runner.invoke(app, ["eval", "--lq", str(photos), "--model", "bicubic", "--json"])
    mean = json.loads(j.stdout)["results"][0]["mean"]
    assert f"{mean['niqe']:.3f}" in r.stdout and f"{mean['pattern_amplitude']:.3f}" in r.stdout
    assert "NIQE↓" in r.stdout and "pattern↓" in r.stdout and "lower is better" in r.stdout
    table = r.stdout.split("NIQE:")[0]
    assert f"{mean['niqe']:.3f}" in table and not any(col in table for col in ("PSNR", "SSIM", "LPIPS"))
    assert max(len(line) for line in table.splitlines()) <= 80


def test_realsrset_bench(data_dir: Path) -> None:
    r = runner.invoke(app, ["eval", "--bench", "RealSRSet", "--model", "bicubic", "--data-root", str(data_dir),
                            "--limit", "2", "--json"])
    assert r.exit_code == 0, r.output
    (res,) = json.loads(r.stdout)["results"]
    assert res["benchmark"] == "RealSRSet" and res["reference"] is False and res["limited"] is True
    assert [i["image"] for i in res["images"]] == ["building", "butterfly"]
    assert all(i["niqe"] > 0 and i["pattern_amplitude"] < 0.1 for i in res["images"])


def test_no_niqe_without_ground_truth_is_one_line_error(photos: Path) -> None:
    r = runner.invoke(app, ["eval", "--lq", str(photos), "--model", "bicubic", "--no-niqe"])
    assert r.exit_code == 2  # a contradictory flag value is a usage error
    assert "drop --no-niqe" in r.output and "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_mixed_table_keeps_every_number_within_80_columns(data_dir: Path) -> None:
    """Set5 (GT, --niqe) beside RealSRSet (no GT): all means readable at 80 columns, no PSNR for RealSRSet."""
    args = ["eval", "--bench", "Set5,RealSRSet", "--model", "bicubic", "--data-root", str(data_dir), "--niqe",
            "--limit", "1"]
    r = runner.invoke(app, args, env={"COLUMNS": "80"})
    assert r.exit_code == 0, r.output
    set5, real = (res["mean"] for res in json.loads(runner.invoke(app, [*args, "--json"]).stdout)["results"])
    table = r.stdout.split("NIQE:")[0]
    assert max(len(line) for line in table.splitlines()) <= 80
    for value in (f"{set5['psnr']:.2f}", f"{set5['ssim']:.4f}", f"{set5['niqe']:.3f}",
                  f"{set5['pattern_amplitude']:.3f}", f"{real['niqe']:.3f}", f"{real['pattern_amplitude']:.3f}"):
        assert value in table, value
    lines = table.splitlines()
    start = next(i for i, line in enumerate(lines) if "RealSRSet" in line)
    if "│" in lines[start]:  # a table row: PSNR, SSIM, LPIPS shown as absent, not zero
        assert lines[start].count("—") == 3
    else:  # stacked (wider than 80 columns): the set's block has no PSNR/SSIM/LPIPS line at all
        block = [line for line in lines[start + 1:] if line.startswith("  ")][:8]
        assert block and not any(k in line for line in block for k in ("PSNR", "SSIM", "LPIPS"))
    assert real["psnr"] is None and set5["psnr"] > 20
