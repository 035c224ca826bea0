"""Sets without ground truth (RealSRSet, --lq alone) scored without reference, and score_folder."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vmambair_core.data.io import read_image
from vmambair_core.data.resize import imresize
from vmambair_core.errors import ConfigError, InputError
from vmambair_core.evaluate import (
    BicubicPredictor,
    EvalRequest,
    build_sets,
    evaluate,
    input_set,
    load_benchmark,
    lpips_wanted,
    niqe_wanted,
    score_folder,
)
from vmambair_core.metrics import fixed_pattern_amplitude, niqe_score
from vmambair_core.metrics.color import to_uint8

SMALL = ("chip", "comic1")  # the two 120x120 photos: x4 outputs of 480x480


def _rgb(path: Path) -> np.ndarray:
    return to_uint8(read_image(path).rgb, 1.0)


@pytest.fixture(scope="module")
def realsrset(data_dir: Path) -> Path:
    return data_dir / "real_sr" / "RealSRSet" / "input"


@pytest.fixture
def two_inputs(realsrset: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in SMALL:
        shutil.copy(realsrset / f"{name}.png", folder / f"{name}.png")
    return folder


def test_realsrset_is_found_complete_and_without_reference(data_dir: Path) -> None:
    data = load_benchmark("realsrset", data_dir)
    assert data.name == "RealSRSet" and not data.reference and data.scale == 4 and data.task == "realsr"
    assert [p.key for p in data.pairs][:3] == ["building", "butterfly", "butterfly2"] and len(data.pairs) == 20
    assert all(p.lq == p.gt and p.lq is not None for p in data.pairs)
    assert data.describe_lq() == "LQ from files, no ground truth"
    with pytest.raises(ConfigError, match="no ground truth"):
        load_benchmark("RealSRSet", data_dir, lq_source="hr")


def test_realsrset_names_are_checked(realsrset: Path, tmp_path: Path) -> None:
    folder = tmp_path / "RealSRSet" / "input"
    shutil.copytree(realsrset, folder)
    (folder / "dog.png").unlink()
    shutil.copy(folder / "frog.png", folder / "cat.png")
    with pytest.raises(InputError, match=r"RealSRSet .* incomplete.*missing: dog.*not part of the set: cat"):
        load_benchmark("RealSRSet", tmp_path)


def test_no_reference_run_scores_the_outputs(two_inputs: Path, tmp_path: Path) -> None:
    data = input_set(two_inputs, scale=4, task="realsr")
    res = evaluate(data, BicubicPredictor(4), save_dir=tmp_path / "out")
    assert not res.reference and res.no_reference and res.scale == 4
    assert [i.key for i in res.images] == list(SMALL)
    for img in res.images:
        out = imresize(_rgb(two_inputs / f"{img.key}.png"), 4)
        assert img.gt is None and img.psnr is None and img.ssim is None and img.lpips is None
        assert img.niqe == pytest.approx(niqe_score(out), abs=1e-9)
        assert img.pattern == pytest.approx(fixed_pattern_amplitude(out, 4), abs=1e-12)
        assert np.array_equal(_rgb(tmp_path / "out" / f"{img.key}.png"), out)  # what --save-images writes
    assert res.mean_of("niqe") == pytest.approx(np.mean([i.niqe for i in res.images]))
    assert res.mean_psnr is None and res.to_dict()["mean"]["psnr"] is None
    assert res.to_dict()["mean"]["niqe"] == res.mean_of("niqe") and res.to_dict()["reference"] is False
    with pytest.raises(ConfigError, match="no ground truth"):
        evaluate(data, BicubicPredictor(4), no_reference=False)


def test_an_input_too_small_for_niqe_fails_alone(two_inputs: Path) -> None:
    cv2.imwrite(str(two_inputs / "tiny.png"), np.full((20, 20, 3), 128, np.uint8))
    res = evaluate(input_set(two_inputs, scale=4), BicubicPredictor(4))
    assert [i.key for i in res.scored] == list(SMALL)
    (bad,) = res.failed
    assert bad.name == "tiny.png" and "96x96" in (bad.error or "")


def test_niqe_beside_psnr_on_request(data_dir: Path) -> None:
    data = load_benchmark("Set5", data_dir / "sr").head(2)
    plain = evaluate(data, BicubicPredictor(4))
    both = evaluate(data, BicubicPredictor(4), no_reference=True)
    assert plain.mean_of("niqe") is None and not plain.no_reference
    assert both.mean_psnr == plain.mean_psnr and both.mean_of("niqe") is not None and both.mean_of("pattern") is not None


def test_request_switches(two_inputs: Path, data_dir: Path) -> None:
    req = EvalRequest(lq_dir=two_inputs, model="bicubic")
    (data,) = build_sets(req)
    assert not data.reference and niqe_wanted(req, data) and not lpips_wanted(req, data)
    with pytest.raises(ConfigError, match="no ground truth: NIQE is its only score; drop --no-niqe"):
        build_sets(EvalRequest(lq_dir=two_inputs, model="bicubic", niqe=False))
    with pytest.raises(ConfigError, match="--task"):
        build_sets(EvalRequest(lq_dir=two_inputs))
    set5_req = EvalRequest(benches=("Set5",), data_root=data_dir / "sr", model="bicubic")
    (set5,) = build_sets(set5_req)
    assert not niqe_wanted(set5_req, set5)
    assert niqe_wanted(EvalRequest(benches=("Set5",), model="bicubic", niqe=True), set5)


def test_score_folder_of_restored_images(two_inputs: Path, tmp_path: Path) -> None:
    outs = tmp_path / "restored"
    outs.mkdir()
    expected = {}
    for name in SMALL:
        out = imresize(_rgb(two_inputs / f"{name}.png"), 4)
        cv2.imwrite(str(outs / f"{name}.png"), out[..., ::-1])
        expected[f"{name}.png"] = (niqe_score(out), fixed_pattern_amplitude(out, 4))
    (outs / "broken.png").write_bytes(b"not a png")
    s = score_folder(outs, scale=4)
    assert s.names == ("chip.png", "comic1.png")
    for name, score in zip(s.names, s.scores, strict=True):
        assert (score.niqe, score.pattern) == pytest.approx(expected[name], abs=1e-9)
    assert [n for n, _ in s.failed] == ["broken.png"]
    assert s.mean_niqe == pytest.approx(np.mean([v[0] for v in expected.values()]))
    assert s.to_dict()["mean"]["pattern_amplitude"] == s.mean_pattern
    assert score_folder(outs, scale=1).scores[0].pattern is None  # same-size outputs have no grid
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no images"):
        score_folder(tmp_path / "empty", 4)
