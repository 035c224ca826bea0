"""Training data: folder layouts, exact bicubic patches, aligned pairs, deterministic sampling, device batches."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vmambair_core.data.resize import imresize, modcrop
from vmambair_core.errors import InputError
from vmambair_core.train import resolve_config
from vmambair_core.train.batches import BatchMaker, PairPool, progressive_cut
from vmambair_core.train.data import (
    PatchDataset,
    PatchSpec,
    PositionSampler,
    bicubic_patch,
    check_readable,
    dihedral,
    discover_dataset,
    make_loader,
    sample_rng,
)


def _write(path: Path, rgb: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rgb[..., ::-1])


# --------------------------------------------------------------------------- layouts


def test_discovers_the_shared_layouts(data_dir: Path) -> None:
    rain = discover_dataset(data_dir / "derain" / "Rain100H_test", scale=1)
    assert rain.paired and len(rain) == 100
    assert all(a.name == b.name for a, b in zip(rain.lq, rain.gt))  # type: ignore[arg-type]
    assert rain.lq[0].parent.name == "rain" and rain.gt[0].parent.name == "norain"  # type: ignore[index]
    set5 = discover_dataset(data_dir / "sr" / "Set5", scale=4)
    assert [(a.name, b.name) for a, b in zip(set5.lq, set5.gt)][:2] == [  # type: ignore[arg-type]
        ("babyx4.png", "baby.png"), ("birdx4.png", "bird.png")]
    bsd = discover_dataset(data_dir / "sr" / "BSD100", scale=4)
    assert bsd.lq[0].name == "img_001_SRF_4_LR.png" and bsd.gt[0].name == "img_001_SRF_4_HR.png"  # type: ignore[index]
    t91 = discover_dataset(data_dir / "sr_train" / "T91", scale=4)
    assert not t91.paired and len(t91) == 91 and all(p.suffix == ".bmp" for p in t91.gt)


def test_jorder_rain_norain_names_pair_for_training(tmp_path: Path) -> None:
    """JORDER originals (rain/rain-001 + norain/norain-001) pair exactly as eval pairs them."""
    img = np.zeros((8, 8, 3), np.uint8)
    for i in (1, 2, 10):
        _write(tmp_path / "rain" / f"rain-{i:03d}.png", img)
        _write(tmp_path / "norain" / f"norain-{i:03d}.png", img)
    layout = discover_dataset(tmp_path, scale=1)
    assert [(a.name, b.name) for a, b in zip(layout.lq, layout.gt)] == [  # type: ignore[arg-type]
        ("rain-001.png", "norain-001.png"), ("rain-002.png", "norain-002.png"), ("rain-010.png", "norain-010.png")]


def test_identical_names_with_tokens_pair_for_training(tmp_path: Path) -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    for name in ("img_001_SRF_4_HR.png", "img_002_SRF_4_HR.png"):
        _write(tmp_path / "LQ" / name, img)
        _write(tmp_path / "HR" / name, img)
    layout = discover_dataset(tmp_path, scale=4)
    assert [(a.name, b.name) for a, b in zip(layout.lq, layout.gt)] == [  # type: ignore[arg-type]
        ("img_001_SRF_4_HR.png", "img_001_SRF_4_HR.png"), ("img_002_SRF_4_HR.png", "img_002_SRF_4_HR.png")]


def test_images_beside_a_gt_folder_are_refused_naming_both(tmp_path: Path) -> None:
    """HR/ (91 images) plus 200 loose ones used to train on 91 without a word; now refused."""
    for i in range(91):
        (tmp_path / "HR").mkdir(exist_ok=True)
        (tmp_path / "HR" / f"t{i}.bmp").write_bytes(b"")
    for i in range(200):
        (tmp_path / f"{100000 + i}.png").write_bytes(b"")
    with pytest.raises(InputError, match=r"91 images in HR/ and 200 more beside it \(100000\.png, .* and 188 more\); "
                       r"move them all into HR/"):
        discover_dataset(tmp_path, scale=4)
    (tmp_path / "LR").mkdir()
    with pytest.raises(InputError, match=r"a paired folder keeps images only in LR/ and HR/"):
        discover_dataset(tmp_path, scale=4)


def test_empty_and_mismatched_folders_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        discover_dataset(tmp_path / "nope", scale=4)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "SHA256SUMS").write_text("x")
    with pytest.raises(InputError, match="no images"):
        discover_dataset(tmp_path / "empty", scale=4)
    img = np.zeros((8, 8, 3), np.uint8)
    _write(tmp_path / "pairs" / "GT" / "a.png", img)
    _write(tmp_path / "pairs" / "GT" / "b.png", img)
    _write(tmp_path / "pairs" / "LQ" / "a.png", img)
    _write(tmp_path / "pairs" / "LQ" / "c.png", img)
    with pytest.raises(InputError, match=r"do not pair up.*b\.png.*c\.png"):
        discover_dataset(tmp_path / "pairs", scale=1)
    _write(tmp_path / "lqonly" / "lq" / "a.png", img)
    with pytest.raises(InputError, match="no GT folder"):
        discover_dataset(tmp_path / "lqonly", scale=1)


def test_unreadable_images_are_input_errors(tmp_path: Path) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    layout = discover_dataset(tmp_path / "bad", scale=4)
    with pytest.raises(InputError, match="x.png"):
        check_readable(layout)
    ds = PatchDataset(layout, PatchSpec("bicubic", 16, 4), seed=0)
    with pytest.raises(InputError, match="x.png"):
        ds[(0, 0)]


# --------------------------------------------------------------------------- patches


def test_bicubic_patch_equals_crop_of_whole_image_resize(data_dir: Path) -> None:
    """LQ of a crop (+ margin) must equal the same crop of MATLAB imresize of the whole image."""
    for name in ("t1.bmp", "tt27.bmp"):
        hr = cv2.imread(str(data_dir / "sr_train" / "T91" / "HR" / name))[..., ::-1].copy()
        full_hr = modcrop(hr, 4)
        full_lq = imresize(full_hr, 0.25)
        for seed in range(12):
            rng = np.random.default_rng(seed)
            lq, gt = bicubic_patch(hr, 32, 4, rng)
            # Locate the GT patch in the HR image (the crop is on the 4-px grid).
            ref_rng = np.random.default_rng(seed)
            h, w = full_hr.shape[0] // 4, full_hr.shape[1] // 4
            top, left = int(ref_rng.integers(h - 8 + 1)), int(ref_rng.integers(w - 8 + 1))
            np.testing.assert_array_equal(gt, full_hr[top * 4 : top * 4 + 32, left * 4 : left * 4 + 32])
            np.testing.assert_array_equal(lq, full_lq[top : top + 8, left : left + 8])


def test_small_images_are_reflect_padded(data_dir: Path) -> None:
    hr = cv2.imread(str(data_dir / "sr_train" / "T91" / "HR" / "t1.bmp"))[..., ::-1].copy()
    small = hr[:20, :28]  # smaller than the 32-px patch in both directions
    lq, gt = bicubic_patch(small, 32, 4, np.random.default_rng(0))
    assert lq.shape == (8, 8, 3) and gt.shape == (32, 32, 3)
    np.testing.assert_array_equal(gt[:20, :28], small)
    np.testing.assert_array_equal(gt[20, :28], small[18])  # reflect about the last row, no repeat
    np.testing.assert_array_equal(gt[:20, 28], small[:, 26])
    np.testing.assert_array_equal(lq, imresize(gt, 0.25))  # whole padded image == the patch here


def test_paired_patches_stay_aligned_under_every_flip(tmp_path: Path) -> None:
    """GT made of 4x4 constant blocks of the LQ: lq == gt[::4, ::4] must hold after crop + dihedral."""
    rng = np.random.default_rng(0)
    for i in range(3):
        lq = rng.integers(0, 256, (13 + i, 17, 3), dtype=np.uint8)
        gt = np.repeat(np.repeat(lq, 4, axis=0), 4, axis=1)
        _write(tmp_path / "LQ" / f"im{i}x4.png", lq)
        _write(tmp_path / "HR" / f"im{i}.png", gt)
    layout = discover_dataset(tmp_path, scale=4)
    ds = PatchDataset(layout, PatchSpec("paired", 32, 4, hflip=True, rotate=True), seed=3)
    seen = set()
    for pos in range(40):
        item = ds[(pos % 3, pos)]
        assert item["lq"].shape == (3, 8, 8) and item["gt"].shape == (3, 32, 32)
        torch.testing.assert_close(item["lq"], item["gt"][:, ::4, ::4], rtol=0, atol=0)
        seen.add(tuple(item["lq"][0, 0, :2].tolist()))
    assert len(seen) > 10  # crops differ across positions


def test_dihedral_is_the_8_element_group() -> None:
    x = np.arange(12).reshape(3, 4, 1)
    outs = {dihedral(x, k).tobytes() + bytes(dihedral(x, k).shape) for k in range(8)}
    assert len(outs) == 8
    np.testing.assert_array_equal(dihedral(x, 4), x[:, ::-1])
    np.testing.assert_array_equal(dihedral(x, 1), np.rot90(x, 1))


def test_samples_depend_on_position_only(data_dir: Path) -> None:
    layout = discover_dataset(data_dir / "sr_train" / "T91", scale=4)
    ds = PatchDataset(layout, PatchSpec("bicubic", 32, 4), seed=5)
    a, b = ds[(7, 123)], ds[(7, 123)]
    assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])
    assert not torch.equal(ds[(7, 124)]["gt"], a["gt"])
    assert not np.array_equal(sample_rng(5, 1).integers(1 << 30, size=4), sample_rng(6, 1).integers(1 << 30, size=4))


# --------------------------------------------------------------------------- sampling


def test_sampler_epochs_are_permutations_and_ranks_split_the_global_batch() -> None:
    single = PositionSampler(10, seed=1, batch_size=4)
    it = iter(single)
    first_epoch = [i for _ in range(5) for i, _ in next(it)][:10]  # 20 samples = 2 epochs
    assert sorted(first_epoch) == list(range(10))
    ranks = [iter(PositionSampler(10, seed=1, batch_size=2, world_size=2, rank=r)) for r in range(2)]
    for batch in PositionSampler(10, seed=1, batch_size=4).__iter__():
        union = next(ranks[0]) + next(ranks[1])
        assert union == batch
        if batch[0][1] > 30:
            break


def test_sampler_resumes_at_an_iteration() -> None:
    full = iter(PositionSampler(7, seed=2, batch_size=3))
    batches = [next(full) for _ in range(6)]
    resumed = iter(PositionSampler(7, seed=2, batch_size=3, start_iteration=4))
    assert [next(resumed), next(resumed)] == batches[4:6]


def test_worker_processes_do_not_change_the_data(data_dir: Path) -> None:
    layout = discover_dataset(data_dir / "sr_train" / "T91", scale=4)
    ds = PatchDataset(layout, PatchSpec("bicubic", 16, 4), seed=0)
    a = iter(make_loader(ds, PositionSampler(len(layout), seed=0, batch_size=2), workers=0))
    b = iter(make_loader(ds, PositionSampler(len(layout), seed=0, batch_size=2), workers=1))
    for _ in range(2):
        x, y = next(a), next(b)
        assert torch.equal(x["lq"], y["lq"]) and torch.equal(x["gt"], y["gt"])


# --------------------------------------------------------------------------- device-side batches


def test_pair_pool_semantics_and_state() -> None:
    g = torch.Generator().manual_seed(0)
    pool = PairPool(4)
    batches = [(torch.full((2, 1, 1, 1), float(i)) / 255, torch.full((2, 1, 2, 2), float(i)) / 255) for i in range(5)]
    out = [pool(lq, gt, g) for lq, gt in batches[:2]]
    assert all(torch.equal(o[0], b[0]) for o, b in zip(out, batches))  # filling: pass through
    state = pool.state_dict()
    assert state["lq"].dtype == torch.uint8  # 8-bit data are stored losslessly as uint8
    lq, gt = pool(*batches[2], g)
    assert sorted(lq.flatten().mul(255).round().tolist()) != [2.0, 2.0]  # swapped with pool members
    assert torch.equal(lq.flatten() * 1, gt[:, 0, 0, 0])  # pairs stay together
    # Restored state + same generator state -> same output.
    g2 = torch.Generator().manual_seed(0)
    restored = PairPool(4)
    restored.load_state_dict(state, batches[0][0], batches[0][1])
    lq2, gt2 = restored(*batches[2], g2)
    assert torch.equal(lq, lq2) and torch.equal(gt, gt2)


def test_progressive_cut_subset_and_crop() -> None:
    g = torch.Generator().manual_seed(0)
    lq = torch.arange(8 * 3 * 32 * 32, dtype=torch.float32).reshape(8, 3, 32, 32)
    out_lq, out_gt = progressive_cut(lq, lq.clone(), 16, 3, 1, g)
    assert out_lq.shape == (3, 3, 16, 16) and torch.equal(out_lq, out_gt)
    first = out_lq[:, 0, 0, 0] // (3 * 32 * 32)
    assert len(set(first.tolist())) == 3  # distinct images


def test_realsr_and_rain_batches_on_the_device(data_dir: Path) -> None:
    cfg = resolve_config("realsr", file={"data": {"hr_crop": 80, "patch_size": 32, "batch_size": 2, "pool_size": 0}})
    maker = BatchMaker(cfg, "hr", torch.device("cpu"), rank=0)
    hr = torch.rand(2, 3, 80, 80).mul(255).round().div(255)
    lq1, gt1 = maker({"gt": hr}, 5)
    lq2, _ = maker({"gt": hr}, 5)
    lq3, _ = maker({"gt": hr}, 6)
    assert lq1.shape == (2, 3, 8, 8) and gt1.shape == (2, 3, 32, 32)
    assert torch.equal(lq1, lq2) and not torch.equal(lq1, lq3)  # a function of (seed, rank, iteration)
    assert torch.equal(lq1 * 255, (lq1 * 255).round())  # 8-bit LQ
    rain = resolve_config("derain", overrides={"data.patch_size": 32, "data.batch_size": 2})
    clean = torch.rand(2, 3, 32, 32)
    rlq, rgt = BatchMaker(rain, "hr", torch.device("cpu"), rank=0)({"gt": clean}, 1)
    assert torch.equal(rgt, clean) and torch.equal(rlq * 255, (rlq * 255).round())
    assert (rlq >= torch.floor(clean * 255) / 255 - 1e-6).all()  # screen blending only brightens
    assert (rlq - clean).abs().mean() > 1e-3


def test_several_roots_are_one_training_set(data_dir: Path) -> None:
    """``--data T91 --data BSD200`` (``data.root`` joined by os.pathsep): the 291 images, in the given order."""
    import os

    from vmambair_core.train.data import discover_datasets

    t91, bsd200 = data_dir / "sr_train" / "T91", data_dir / "sr_train" / "BSD200"
    both = discover_datasets(f"{t91}{os.pathsep}{bsd200}", scale=4)
    assert len(both) == 291 and not both.paired
    assert both.gt[:91] == discover_dataset(t91, scale=4).gt and both.gt[91:] == discover_dataset(bsd200, scale=4).gt
    assert f"{t91} + {bsd200}" in both.describe()
    assert discover_datasets(str(t91), scale=4) == discover_dataset(t91, scale=4)
    with pytest.raises(InputError, match="mix paired and HR-only"):
        discover_datasets(f"{t91}{os.pathsep}{data_dir / 'sr' / 'Set5'}", scale=4)
    with pytest.raises(InputError, match="not found"):
        discover_datasets(f"{t91}{os.pathsep}{data_dir / 'nope'}", scale=4)
