"""benchmarks/image_sheet.py: any list of methods in labelled columns, each with a 4x zoom of one flat window."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vmambair_core.models.realesrgan import SRVGGNetCompact

from .conftest import REPO
from .weights.test_realesrgan import compact_state_dict


def _load_script():  # noqa: ANN202
    spec = importlib.util.spec_from_file_location("image_sheet", REPO / "benchmarks" / "image_sheet.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["image_sheet"] = module
    spec.loader.exec_module(module)
    return module


sheet_mod = _load_script()


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(30, 220, (h, w, 3), dtype=np.uint8)


def test_flattest_window_finds_the_flat_patch_and_skips_clipped_ones() -> None:
    img = _noise(96, 128)
    img[24:56, 40:72] = (120, 90, 60) + np.random.default_rng(1).integers(0, 3, (32, 32, 3)).astype(np.uint8)
    img[60:92, 0:32] = 255  # perfectly flat but clipped: shows nothing of a pattern
    assert sheet_mod.flattest_window(img) == (40, 24)
    img[60:92, 0:32] = 200  # the same window unclipped is now the flattest
    assert sheet_mod.flattest_window(img) == (0, 60)


def _crop_file(tmp_path: Path, name: str, seed: int) -> Path:
    path = tmp_path / f"{name}.png"
    rgb = cv2.resize(_noise(6, 6, seed).astype(np.float32), (20, 20), interpolation=cv2.INTER_CUBIC)
    assert cv2.imwrite(str(path), np.clip(rgb, 0, 255).astype(np.uint8)[..., ::-1])
    return path


def test_sheet_places_each_method_and_its_zoom_under_its_label(tmp_path: Path) -> None:
    weights = tmp_path / "realesr-general-x4v3.pth"
    torch.save({"params": compact_state_dict(seed=4)}, weights)
    methods = [sheet_mod.parse_method("bicubic", "realsr", "cpu"),
               sheet_mod.parse_method(f"{weights}=Real-ESRGAN compact", "realsr", "cpu")]
    assert [m.label for m in methods] == ["bicubic x4", "Real-ESRGAN compact"]
    assert isinstance(methods[1].predictor.restorer.net, SRVGGNetCompact)
    assert sheet_mod.parse_method(str(weights), "realsr", "cpu").label == "realesr-general-x4v3"
    crops = [sheet_mod.parse_crop(f"{_crop_file(tmp_path, 'a', 0)}@2,3", 16),
             sheet_mod.parse_crop(f"{_crop_file(tmp_path, 'b', 1)}#8,28", 16)]
    img = sheet_mod.sheet(crops, methods, ["credit line"])

    label, gap, zoom = sheet_mod._LABEL_H, sheet_mod._GAP, 32 * 4
    row_h = label + 64 + label + zoom
    assert img.shape == (2 * row_h + gap + 2 * gap + 20, 2 * zoom + gap, 3)  # columns as wide as the zoom, outputs centred
    for r, crop in enumerate(crops):
        at = crop.zoom_at or sheet_mod.flattest_window(sheet_mod.BicubicPredictor(4)(crop.lq))
        assert crop.zoom_at in (None, (8, 28))
        for c, method in enumerate(methods):
            out = method.predictor(crop.lq)
            out = sheet_mod.to_uint8(out, None if out.dtype == np.uint8 else 1.0)
            top, left = r * (row_h + gap), c * (zoom + gap)
            assert (img[top : top + label, left : left + zoom] < 128).any()  # the label is written
            np.testing.assert_array_equal(img[top + label : top + label + 64, left + 32 : left + 96], out)
            z_top = top + 2 * label + 64
            window = out[at[1] : at[1] + 32, at[0] : at[0] + 32]
            np.testing.assert_array_equal(img[z_top : z_top + zoom, left : left + zoom][::4, ::4], window)
            assert (img[z_top : z_top + zoom, left : left + zoom][1::4, 3::4] == window).all()  # nearest
    assert (img[-20:] < 128).any()  # the caption


def test_a_zoom_window_outside_the_output_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="zoom window must lie inside"):
        sheet_mod.parse_crop(f"{_crop_file(tmp_path, 'a', 0)}#40,0", 16)
