"""Benchmark registry: conventions, finding sets under a data root, layouts, missing/incomplete sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmambair_core.errors import ConfigError, InputError
from vmambair_core.evaluate import BENCHMARKS, get_benchmark, load_benchmark, resolve_data_root
from vmambair_core.evaluate.benchmarks import ENV_DATA_ROOT, MetricConvention

SET5 = ("baby", "bird", "butterfly", "head", "woman")


def _touch(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(b"")
    return folder


def test_registry_covers_the_paper_sets_with_their_conventions() -> None:
    expected = {
        "Set5": ("sisr", 4, 5), "Set14": ("sisr", 4, 14), "BSD100": ("sisr", 4, 100), "Urban100": ("sisr", 4, 100),
        "Manga109": ("sisr", 4, 109), "General100": ("sisr", 4, 100), "DIV2K100": ("sisr", 4, 100),
        "NTIRE2020-Track1": ("realsr", 4, 100), "AIM2019": ("realsr", 4, 100), "BSD100-realesrgan": ("realsr", 4, 100),
        "BSD100-mild": ("realsr", 4, 100),
        "RealSRSet": ("realsr", 4, 20), "Rain100L": ("derain", 1, 100), "Rain100H": ("derain", 1, 100), "Test100": ("derain", 1, 98),
        "Test1200": ("derain", 1, 1200), "Test2800": ("derain", 1, 2800),
    }
    assert {n: (b.task, b.scale, b.count) for n, b in BENCHMARKS.items()} == expected
    for b in BENCHMARKS.values():
        want = MetricConvention("y", 4 if b.scale == 4 else 0, "matlab")
        assert b.convention == want, b.name
        assert (b.degradation == "bicubic") == (b.task == "sisr")
    # LPIPS by default exactly where the paper's Tables 1-2 report it.
    assert {n for n, b in BENCHMARKS.items() if b.lpips_reported} == {
        "Set14", "Urban100", "Manga109", "General100", "DIV2K100", "NTIRE2020-Track1", "AIM2019"}


def test_aliases_and_unknown_names() -> None:
    assert get_benchmark("b100").name == "BSD100"
    assert get_benchmark("AIM19").name == "AIM2019"
    assert get_benchmark("rain100h_test").name == "Rain100H"
    with pytest.raises(ConfigError, match="unknown benchmark 'Set6'.*Set5"):
        get_benchmark("Set6")


def test_data_root_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_DATA_ROOT, raising=False)
    with pytest.raises(ConfigError, match="--data-root"):
        resolve_data_root(None)
    monkeypatch.setenv(ENV_DATA_ROOT, str(tmp_path))
    assert resolve_data_root(None) == tmp_path
    with pytest.raises(InputError, match="not a folder"):
        resolve_data_root(tmp_path / "nope")


def test_shared_sets_found_from_either_root(data_dir: Path) -> None:
    s5 = load_benchmark("Set5", data_dir / "sr")
    assert [p.key for p in s5.pairs] == list(SET5) and s5.lq_from_gt and all(p.lq is None for p in s5.pairs)
    assert s5.layout == "HR/"
    s5f = load_benchmark("Set5", data_dir, lq_source="files")  # group folder sr/ searched
    assert s5f.layout == "HR/ + LR_bicubic_x4/" and [p.lq.name for p in s5f.pairs][0] == "babyx4.png"
    rain = load_benchmark("Rain100H", data_dir / "derain")
    assert len(rain.pairs) == 100 and rain.layout == "norain/ + rain/"
    assert rain.pairs[0].gt.name == rain.pairs[0].lq.name == "norain-1.png"
    assert [p.key for p in rain.pairs[:3]] == ["1", "2", "3"]  # natural order, not 1, 10, 100
    assert load_benchmark("Rain100H", data_dir / "derain" / "Rain100H_test").location.name == "Rain100H_test"
    with pytest.raises(ConfigError, match="no bicubic recipe"):
        load_benchmark("Rain100H", data_dir, lq_source="hr")


def test_missing_set_names_where_it_looked(data_dir: Path) -> None:
    with pytest.raises(InputError) as exc:
        load_benchmark("Urban100", data_dir)
    msg = str(exc.value)
    assert "Urban100 not found" in msg and str(data_dir / "sr") in msg and "sr_train" in msg


def test_incomplete_set_lists_missing_names(tmp_path: Path, data_dir: Path) -> None:
    hr = tmp_path / "Set5" / "HR"
    hr.mkdir(parents=True)
    for name in SET5:
        if name != "head":
            (hr / f"{name}.png").symlink_to(data_dir / "sr/Set5/HR" / f"{name}.png")
    with pytest.raises(InputError) as exc:
        load_benchmark("Set5", tmp_path)
    msg = str(exc.value)
    assert "expected 5 images, found 4" in msg and "missing: head" in msg
    _touch(hr, "extra.png")
    with pytest.raises(InputError, match="not part of the set: extra"):
        load_benchmark("Set5", tmp_path)


def test_incomplete_pairs_list_both_sides(tmp_path: Path) -> None:
    root = tmp_path / "Datasets" / "test"  # Restormer's tree
    _touch(root / "Rain100L" / "target", *(f"{i}.png" for i in range(1, 101)))
    _touch(root / "Rain100L" / "input", *(f"{i}.png" for i in range(1, 100)), "100(1).png")
    with pytest.raises(InputError) as exc:
        load_benchmark("Rain100L", tmp_path)
    msg = str(exc.value)
    assert "expected 100 images, found 99" in msg
    assert "GT without LQ: 100.png" in msg and "LQ without GT: 100(1).png" in msg
    (root / "Rain100L" / "input" / "100(1).png").rename(root / "Rain100L" / "input" / "100.png")
    data = load_benchmark("Rain100L", tmp_path)
    assert len(data.pairs) == 100 and data.layout == "target/ + input/" and data.convention.crop_border == 0


def test_test100_accepts_98_or_100_and_other_layouts(tmp_path: Path) -> None:
    _touch(tmp_path / "Test100" / "gt", *(f"{i}.jpg" for i in range(1, 99)))
    _touch(tmp_path / "Test100" / "input", *(f"{i}.jpg" for i in range(1, 99)))
    assert len(load_benchmark("Test100", tmp_path).pairs) == 98
    sub = _touch(tmp_path / "x" / "Urban100" / "image_SRF_4",
                 *(f"img_{i:03d}_SRF_4_{s}.png" for i in range(1, 101) for s in ("HR", "LR")))
    data = load_benchmark("Urban100", tmp_path / "x", lq_source="files")
    assert data.layout == "image_SRF_4/*_HR.* + image_SRF_4/*_LR.*" and data.pairs[0].lq == sub / "img_001_SRF_4_LR.png"
    _touch(tmp_path / "y" / "AIM19" / "valid-gt-clean", *(f"{i:04d}.png" for i in range(1, 101)))
    _touch(tmp_path / "y" / "AIM19" / "valid-input-noisy", *(f"{i:04d}.png" for i in range(1, 101)))
    aim = load_benchmark("AIM2019", tmp_path / "y")
    assert aim.task == "realsr" and not aim.lq_from_gt and aim.convention.crop_border == 4


def test_no_known_layout(tmp_path: Path) -> None:
    _touch(tmp_path / "Set5" / "pictures", "baby.png")
    with pytest.raises(InputError, match="no known layout.*Sub-folders found: pictures"):
        load_benchmark("Set5", tmp_path)
    _touch(tmp_path / "Set5" / "HR", *(f"{n}.png" for n in SET5))
    with pytest.raises(InputError, match="no known layout"):
        load_benchmark("Set5", tmp_path, lq_source="files")  # HR only: no LR folder to read
