"""Pairing LQ and GT files by name, across the naming schemes benchmark copies use."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmambair_core.errors import InputError
from vmambair_core.evaluate.pairing import gt_key, list_images, lq_key_candidates, natural_key, pair_images


def _touch(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in names:
        (folder / n).write_bytes(b"")
    return folder


@pytest.mark.parametrize(
    ("stem", "key"),
    [("baby", "baby"), ("img_001_SRF_4_HR", "img_001"), ("norain-001", "1"), ("0801", "801"), ("face_HR", "face")],
)
def test_gt_keys(stem: str, key: str) -> None:
    assert gt_key(stem) == key


def test_lq_candidates_literal_first() -> None:
    assert lq_key_candidates("babyx4") == ("babyx4", "baby")
    assert lq_key_candidates("rain-012") == ("rain-012", "12")
    assert lq_key_candidates("img_001_SRF_4_LR") == ("img_001_SRF_4_LR", "img_001")
    assert lq_key_candidates("7") == ("7",)


def test_natural_order() -> None:
    keys = ["10", "2", "1", "img_10", "img_2"]
    assert sorted(keys, key=natural_key) == ["1", "2", "10", "img_2", "img_10"]


def test_edsr_suffix_and_literal_names(tmp_path: Path) -> None:
    gt = _touch(tmp_path / "HR", "baby.png", "box4.png", "SHA256SUMS", ".hidden.png")
    lq = _touch(tmp_path / "LR", "babyx4.png", "box4.png")
    p = pair_images(lq, gt)
    assert [(x.key, x.gt.name, x.lq.name) for x in p.pairs] == [("baby", "baby.png", "babyx4.png"),
                                                                   ("box4", "box4.png", "box4.png")]
    assert p.gt_only == () and p.lq_only == ()
    assert [f.name for f in list_images(gt)] == ["baby.png", "box4.png"]


def test_rain_prefixes_and_numbers(tmp_path: Path) -> None:
    gt = _touch(tmp_path / "norain", *(f"norain-{i:03d}.png" for i in (1, 2, 10)))
    lq = _touch(tmp_path / "rain", "rain-001.png", "rain-002.png", "rain-010.png", "926_10(1).png")
    p = pair_images(lq, gt)
    assert [x.key for x in p.pairs] == ["1", "2", "10"]
    assert [x.lq.name for x in p.pairs] == ["rain-001.png", "rain-002.png", "rain-010.png"]
    assert p.lq_only == ("926_10(1).png",)


def test_identical_names_in_both_folders(tmp_path: Path) -> None:
    gt = _touch(tmp_path / "norain", "norain-1.png", "norain-2.png")
    lq = _touch(tmp_path / "rain", "norain-1.png")
    p = pair_images(lq, gt)
    assert [(x.key, x.lq.name) for x in p.pairs] == [("1", "norain-1.png")]
    assert p.gt_only == ("norain-2.png",)


def test_selfexsr_one_folder_with_patterns(tmp_path: Path) -> None:
    d = _touch(tmp_path / "image_SRF_4", "img_001_SRF_4_HR.png", "img_001_SRF_4_LR.png", "img_002_SRF_4_HR.png",
               "img_002_SRF_4_LR.png")
    p = pair_images(d, d, lq_pattern="*_LR.*", gt_pattern="*_HR.*")
    assert [(x.key, x.lq.name) for x in p.pairs] == [("img_001", "img_001_SRF_4_LR.png"),
                                                     ("img_002", "img_002_SRF_4_LR.png")]


def test_duplicate_keys_are_an_error(tmp_path: Path) -> None:
    gt = _touch(tmp_path / "gt", "a.png", "a.jpg")
    with pytest.raises(InputError, match="a.jpg and a.png|a.png and a.jpg"):
        pair_images(_touch(tmp_path / "lq", "a.png"), gt)
    gt2 = _touch(tmp_path / "gt2", "5.png")
    with pytest.raises(InputError, match="both pair with GT 5.png"):
        pair_images(_touch(tmp_path / "lq2", "rain-5.png", "rain-005.png"), gt2)
