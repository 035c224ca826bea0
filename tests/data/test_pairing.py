"""Pairing LQ and GT files by name, across the naming schemes benchmark copies use (train and eval share it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmambair_core.errors import InputError
from vmambair_core.data.pairing import gt_key, gt_pairs, list_images, name_keys, natural_key, pair_images


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


def test_lq_keys_literal_and_one_affix_off() -> None:
    assert name_keys("babyx4", "lq") == {"babyx4", "baby"}
    assert name_keys("rain-012", "lq") == {"rain-012", "12"}
    assert name_keys("img_001_SRF_4_LR", "lq") == {"img_001_srf_4_lr", "img_001", "img_001_srf_4"}
    assert name_keys("7", "lq") == {"7"}
    assert name_keys("babyx4", "lq", scale=2) == {"babyx4"}  # a known scale pins the x-token


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
    with pytest.raises(InputError, match="lq2/rain-005.png and rain-5.png both pair with GT gt2/5.png"):
        pair_images(_touch(tmp_path / "lq2", "rain-5.png", "rain-005.png"), gt2)


def test_gt_only_folder_refuses_two_files_of_one_key(tmp_path: Path) -> None:
    assert [(p.key, p.gt.name, p.lq) for p in gt_pairs(_touch(tmp_path / "a", "10.png", "0002.png"))] == [
        ("2", "0002.png", None), ("10", "10.png", None)]
    with pytest.raises(InputError, match="001.png and 1.png both count as GT image '1'"):
        gt_pairs(_touch(tmp_path / "b", "1.png", "001.png"))


# ------------------------------------------------------------- identical names pair first


def test_identical_names_pair(tmp_path: Path) -> None:
    names = [f"im{i}.png" for i in range(1, 15)]
    p = pair_images(_touch(tmp_path / "LQ", *names), _touch(tmp_path / "HR", *names))
    assert [(x.gt.name, x.lq.name) for x in p.pairs] == [(n, n) for n in names]
    assert p.gt_only == p.lq_only == ()


@pytest.mark.parametrize("scale", [None, 4])
def test_identical_names_with_tokens_pair_as_they_are(tmp_path: Path, scale: int | None) -> None:
    """The issue-13 report: the same ``*_SRF_4_HR.png`` names in LQ/ and HR/ (and _LR, x4, rain- ones)."""
    names = ["img_001_SRF_4_HR.png", "img_002_SRF_4_HR.png", "face_LR.png", "babyx4.png", "norain-3.png",
             "rain-4.png", "shot_GT.png"]
    p = pair_images(_touch(tmp_path / "LQ", *names), _touch(tmp_path / "HR", *names), scale=scale)
    assert sorted((x.gt.name, x.lq.name) for x in p.pairs) == sorted((n, n) for n in names)
    assert p.gt_only == p.lq_only == ()
    assert len({x.key for x in p.pairs}) == len(names)


def test_mixed_extensions_pair(tmp_path: Path) -> None:
    p = pair_images(_touch(tmp_path / "LQ", "a.png", "B.JPG", "cx4.webp"), _touch(tmp_path / "HR", "a.jpg", "b.png", "c.tif"))
    assert [(x.gt.name, x.lq.name) for x in p.pairs] == [("a.jpg", "a.png"), ("b.png", "B.JPG"), ("c.tif", "cx4.webp")]


def test_identical_name_wins_over_a_token_rule(tmp_path: Path) -> None:
    # babyx4 exists on both sides: it pairs with itself, never with GT baby (which stays without LQ).
    p = pair_images(_touch(tmp_path / "LQ", "babyx4.png"), _touch(tmp_path / "HR", "baby.png", "babyx4.png"))
    assert [(x.gt.name, x.lq.name) for x in p.pairs] == [("babyx4.png", "babyx4.png")]
    assert p.gt_only == ("baby.png",) and p.lq_only == ()


def test_two_way_pairing_is_refused_naming_both(tmp_path: Path) -> None:
    gt = _touch(tmp_path / "HR", "a.png", "ax4_HR.png")
    with pytest.raises(InputError, match=r"LQ LQ/ax4\.png could pair with GT HR/a\.png or HR/ax4_HR\.png"):
        pair_images(_touch(tmp_path / "LQ", "ax4.png"), gt)


def test_no_name_is_unpaired_on_both_sides(tmp_path: Path) -> None:
    """Whatever the names, a stem left without partner on one side has no file of that stem on the other."""
    lq_names = ["img_001_SRF_4_HR.png", "x_LR.png", "rain-7.png", "q.png", "zx4.png", "k_HR.png"]
    gt_names = ["img_001_SRF_4_HR.jpg", "x.png", "norain-007.png", "r.png", "z_HR.png", "k_HR.bmp"]
    p = pair_images(_touch(tmp_path / "LQ", *lq_names), _touch(tmp_path / "HR", *gt_names))
    stems = lambda names: {Path(n).stem.lower() for n in names}  # noqa: E731
    assert not stems(p.gt_only) & stems(p.lq_only)
    assert p.gt_only == ("r.png",) and p.lq_only == ("q.png",)
    assert len(p.pairs) == 5


def test_jorder_rain_prefixes_pair_in_eval_custom_sets(tmp_path: Path) -> None:
    from vmambair_core.evaluate import MetricConvention, custom_set

    gt = _touch(tmp_path / "Rain100L" / "norain", "norain-001.png", "norain-002.png")
    lq = _touch(tmp_path / "Rain100L" / "rain", "rain-001.png", "rain-002.png")
    data = custom_set(gt, lq, scale=1, convention=MetricConvention())
    assert [(x.key, x.lq.name) for x in data.pairs] == [("1", "rain-001.png"), ("2", "rain-002.png")]  # type: ignore[union-attr]


def test_custom_set_error_names_each_side_once(tmp_path: Path) -> None:
    from vmambair_core.evaluate import MetricConvention, custom_set

    gt = _touch(tmp_path / "HR", "a.png", "b.png")
    lq = _touch(tmp_path / "LQ", "a.png", "c.png")
    with pytest.raises(InputError, match=r"do not pair up by name; GT without LQ: b\.png; LQ without GT: c\.png$"):
        custom_set(gt, lq, scale=4, convention=MetricConvention())
