"""The runner against references: printed bicubic baselines, an independent PSNR/SSIM, a network run by hand."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from vmambair_core.data.resize import imresize
from vmambair_core.errors import ConfigError
from vmambair_core.evaluate import (
    BicubicPredictor,
    IdentityPredictor,
    MetricConvention,
    NetworkPredictor,
    custom_set,
    evaluate,
    load_benchmark,
    prepare_lpips,
)
from vmambair_core.metrics.lpips import LPIPS, lpips_distance
from vmambair_core.models import build_model, tiny_config

# Rain100H (the 100 JORDER pairs in ../shared/data/derain), rainy input vs clean, Y (MATLAB-rounded),
# no crop: measured by this runner; the 3-image check below validates it against skimage.
RAIN100H_INPUT = (13.5555, 0.37855)


def _y_matlab(rgb: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr luma of uint8 RGB, rounded half up: written out here, independent of the package."""
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return np.floor(16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0 + 0.5)


def _reference_scores(out: np.ndarray, gt: np.ndarray, crop: int) -> tuple[float, float]:
    a, b = _y_matlab(out), _y_matlab(gt)
    if crop:
        a, b = a[crop:-crop, crop:-crop], b[crop:-crop, crop:-crop]
    p = peak_signal_noise_ratio(b, a, data_range=255)
    s = structural_similarity(b, a, data_range=255, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    return float(p), float(s)


def _read_rgb(path: Path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1]


def test_set5_bicubic_reproduces_the_printed_baseline(data_dir: Path) -> None:
    data = load_benchmark("Set5", data_dir / "sr")
    r = evaluate(data, BicubicPredictor())
    assert r.convention.describe() == "Y (matlab), crop 4" and not r.failed and r.images_in_set == 5
    assert abs(r.mean_psnr - 28.42) <= 0.01 and abs(r.mean_ssim - 0.8104) <= 0.0005
    assert [(p.method, p.psnr) for p in r.published] == [("bicubic", 28.42)]
    # The float-Y convention is the 28.43 dB one; it is named in the result.
    rb = evaluate(data.with_convention(MetricConvention("y", 4, "basicsr")), BicubicPredictor())
    assert round(rb.mean_psnr, 2) == 28.43 and rb.to_dict()["convention"]["y_mode"] == "basicsr"


def test_set14_greyscale_bridge_is_scored_on_its_single_plane(tmp_path: Path, data_dir: Path) -> None:
    src = data_dir / "sr/Set14/HR/bridge.png"
    (tmp_path / "bridge.png").symlink_to(src)
    (score,) = evaluate(custom_set(tmp_path, None, scale=4, convention=MetricConvention("y", 4)),
                        BicubicPredictor()).images
    grey = cv2.imread(str(src), cv2.IMREAD_UNCHANGED)
    assert grey.ndim == 2
    sr = imresize(imresize(grey, 1 / 4), 4).astype(np.float64)  # bridge is 512x512: no mod-crop needed
    ref = peak_signal_noise_ratio(grey[4:-4, 4:-4].astype(np.float64), sr[4:-4, 4:-4], data_range=255)
    assert score.psnr == pytest.approx(ref, abs=1e-9)


def test_rain100h_identity_matches_an_independent_computation(data_dir: Path) -> None:
    data = load_benchmark("Rain100H", data_dir / "derain")
    r = evaluate(data, IdentityPredictor(), limit=3)
    assert r.limited and r.images_in_set == 100 and [i.key for i in r.images] == ["1", "2", "3"]
    for img in r.images:
        ref = _reference_scores(_read_rgb(data.location / "rain" / img.lq), _read_rgb(data.location / "norain" / img.gt), 0)
        assert img.psnr == pytest.approx(ref[0], abs=5e-3) and img.ssim == pytest.approx(ref[1], abs=1e-4)
    assert r.mean_psnr == pytest.approx(np.mean([i.psnr for i in r.images]))


@pytest.mark.slow
def test_rain100h_identity_full_set(data_dir: Path) -> None:
    r = evaluate(load_benchmark("Rain100H", data_dir / "derain"), IdentityPredictor())
    assert len(r.scored) == 100 and not r.limited
    assert r.mean_psnr == pytest.approx(RAIN100H_INPUT[0], abs=1e-3)
    assert r.mean_ssim == pytest.approx(RAIN100H_INPUT[1], abs=1e-4)
    assert {p.method for p in r.published} >= {"VmambaIR", "Restormer"}


def _smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    small = rng.integers(0, 256, size=(h // 8, w // 8, 3)).astype(np.uint8)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def test_network_predictor_equals_a_direct_forward(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    (tmp_path / "gt").mkdir()
    gts = {"im0": _smooth_image(rng, 64, 64)}
    for name, img in gts.items():
        cv2.imwrite(str(tmp_path / "gt" / f"{name}.png"), img[..., ::-1])
    torch.manual_seed(0)
    net = build_model(tiny_config("realsr")).eval()
    pred = NetworkPredictor.from_network(net, device="cpu", precision="fp32")
    data = custom_set(tmp_path / "gt", None, scale=4, convention=MetricConvention("y", 4))
    r = evaluate(data, pred, save_dir=tmp_path / "out")
    assert not r.failed and r.model == "vmambair (realsr-tiny)"
    for img in r.images:
        lr = imresize(gts[img.key], 1 / 4)  # 16x16: a multiple of 8, so no padding is involved
        with torch.no_grad():
            y = net(torch.from_numpy(lr.copy()).permute(2, 0, 1)[None].float() / 255).clamp(0, 1)
        out = np.floor(y[0].permute(1, 2, 0).numpy().astype(np.float64) * 255 + 0.5).astype(np.uint8)
        ref = _reference_scores(out, gts[img.key], 4)
        assert img.psnr == pytest.approx(ref[0], abs=5e-3) and img.ssim == pytest.approx(ref[1], abs=1e-4)
        saved = _read_rgb(tmp_path / "out" / f"{img.key}.png")
        assert np.abs(saved.astype(int) - out.astype(int)).max() <= 1  # float32 vs float64 rounding only


def test_failed_image_is_kept_and_the_rest_scored(tmp_path: Path, data_dir: Path) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    for n in ("baby", "bird"):
        (gt / f"{n}.png").symlink_to(data_dir / "sr/Set5/HR" / f"{n}.png")
    (gt / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    r = evaluate(custom_set(gt, None, scale=4, convention=MetricConvention("y", 4)), BicubicPredictor())
    assert [i.key for i in r.failed] == ["broken"] and "broken.png" in (r.failed[0].error or "")
    assert len(r.scored) == 2 and r.to_dict()["images_failed"] == 1


def test_scale_mismatch_fails_before_any_image(data_dir: Path) -> None:
    with pytest.raises(ConfigError, match="x1 the input size but Set5 is a x4 set"):
        evaluate(load_benchmark("Set5", data_dir / "sr"), IdentityPredictor())


def test_lpips_skipped_without_weights_and_used_with_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          data_dir: Path) -> None:
    for var in ("VMAMBAIR_LPIPS_BACKBONE", "VMAMBAIR_LPIPS_HEADS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    model, note = prepare_lpips("alex")
    assert model is None and note and note.startswith("LPIPS skipped") and "alexnet-owt-7be5be79.pth" in note
    # Random weights in the real file formats: the point is the plumbing, not the value.
    torch.manual_seed(0)
    ref = LPIPS("alex")
    weights = tmp_path / "lpips"
    weights.mkdir()
    torch.save(ref.backbone.state_dict(), weights / "alexnet-owt-7be5be79.pth")
    torch.save({f"lin{k}.model.1.weight": h.weight.detach().abs() for k, h in enumerate(ref.heads)}, weights / "alex.pth")
    model, note = prepare_lpips("alex", weights)
    assert note is None and model is not None and model.name == "LPIPS-alex v0.1"
    data = load_benchmark("Set5", data_dir / "sr").head(1)
    r = evaluate(data, BicubicPredictor(), lpips=model)
    hr = _read_rgb(data.pairs[0].gt)
    expect = lpips_distance(model, imresize(imresize(hr, 1 / 4), 4), hr)
    assert r.images[0].lpips == pytest.approx(expect) and r.mean_lpips == pytest.approx(expect)
    assert r.to_dict()["lpips"]["metric"] == "LPIPS-alex v0.1"
