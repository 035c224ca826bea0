"""The CPU training data path: loader-side synthesis, uint8 samples, worker default, config checks."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vmambair_core.data.io import read_image
from vmambair_core.errors import ConfigError
from vmambair_core import threads as threads_module
from vmambair_core.train import batches as batches_module
from vmambair_core.train import resolve_config
from vmambair_core.train.batches import BatchMaker, LoaderSynthesis, PairPool
from vmambair_core.train.config import TrainConfig
from vmambair_core.train.data import PatchDataset, PatchSpec, PositionSampler, discover_dataset, make_loader
from vmambair_core.train.loop import patch_spec

CPU = torch.device("cpu")


def test_hr_crop_must_be_a_multiple_of_the_scale() -> None:
    with pytest.raises(ConfigError, match=r"data\.hr_crop \(602\) must be a multiple of the scale 4"):
        resolve_config("realsr", overrides={"data.hr_crop": 602})
    assert resolve_config("realsr", overrides={"data.hr_crop": 604}).data.hr_crop == 604


@pytest.mark.parametrize(("cores", "expected"), [(1, 1), (2, 1), (3, 2), (16, 4)])
def test_loader_workers_default_to_the_spare_cores(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, cores: int, expected: int
) -> None:
    monkeypatch.setattr(threads_module.os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)
    assert resolve_config("sisr").data.workers is None  # "auto" in the config
    layout = discover_dataset(data_dir / "sr_train" / "T91", scale=4)
    ds = PatchDataset(layout, PatchSpec("bicubic", 16, 4), seed=0)
    assert make_loader(ds, PositionSampler(len(layout), seed=0, batch_size=2)).num_workers == expected
    assert make_loader(ds, PositionSampler(len(layout), seed=0, batch_size=2), workers=0).num_workers == 0


def test_8_bit_samples_stay_uint8_and_16_bit_ones_are_float(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img8 = rng.integers(0, 256, (40, 44, 3), dtype=np.uint8)
    img16 = rng.integers(0, 65536, (40, 44, 3), dtype=np.uint16)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert cv2.imwrite(str(tmp_path / "a" / "x.png"), img8) and cv2.imwrite(str(tmp_path / "b" / "y.png"), img16)
    spec = PatchSpec("hr", 32, 4, hflip=False, rotate=False)
    s8 = PatchDataset(discover_dataset(tmp_path / "a", scale=4), spec, seed=0)[(0, 0)]["gt"]
    s16 = PatchDataset(discover_dataset(tmp_path / "b", scale=4), spec, seed=0)[(0, 0)]["gt"]
    assert s8.dtype == torch.uint8 and s16.dtype == torch.float32
    # Same crop as the float decode (both images are 40x44, same sample rng): the values agree exactly.
    f8 = torch.from_numpy(read_image(tmp_path / "a" / "x.png").rgb.transpose(2, 0, 1).copy())
    f16 = torch.from_numpy(read_image(tmp_path / "b" / "y.png").rgb.transpose(2, 0, 1).copy())
    top_left = [(t, l) for t in range(9) for l in range(13) if torch.equal(f8[:, t : t + 32, l : l + 32] * 255, s8.float())]
    assert len(top_left) == 1
    t, l = top_left[0]
    torch.testing.assert_close(s16, f16[:, t : t + 32, l : l + 32], rtol=0, atol=1e-7)


def test_sisr_batches_draw_no_random_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object) -> torch.Generator:
        raise AssertionError("sisr made an iteration generator")

    monkeypatch.setattr(batches_module, "iteration_generator", boom)
    cfg = resolve_config("sisr", overrides={"data.patch_size": 16, "data.batch_size": 2})
    lq = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    gt = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    out_lq, out_gt = BatchMaker(cfg, "bicubic", CPU, rank=0)({"lq": lq, "gt": gt}, 1)
    assert out_lq.dtype == torch.float32 and torch.equal(out_gt * 255, gt.float())


def _batches(cfg: TrainConfig, root: Path, *, workers: int, in_loader: bool, iters: int) -> list[tuple[torch.Tensor, ...]]:
    layout = discover_dataset(root, scale=cfg.scale)
    spec = patch_spec(cfg, layout.paired)
    finish = LoaderSynthesis(cfg, 0, cfg.data.batch_size) if in_loader else None
    loader = iter(make_loader(PatchDataset(layout, spec, cfg.seed), PositionSampler(len(layout), seed=cfg.seed,
                              batch_size=cfg.data.batch_size), workers=workers, finish=finish))
    maker = BatchMaker(cfg, spec.mode, CPU, rank=0)
    return [maker(next(loader), t) for t in range(1, iters + 1)]


@pytest.mark.parametrize("task", ["realsr", "derain"])
def test_loader_side_synthesis_gives_the_training_thread_batches(data_dir: Path, task: str) -> None:
    """Same seed -> same batches whether the main thread or 0 / 1 loader workers synthesise them.

    The realsr pool (4 pairs, batch 2) swaps from iteration 3 on, so the generator state handed
    over by the workers is exercised. GT values are exact by construction (integer crops); the
    LQ goes through float arithmetic, so it may differ by one 8-bit level where rounding ties.
    """
    if task == "realsr":
        cfg = resolve_config("realsr", overrides={"data.hr_crop": 80, "data.patch_size": 32, "data.batch_size": 2,
                                                  "data.pool_size": 4, "seed": 3})
    else:
        cfg = resolve_config("derain", overrides={"data.patch_size": 32, "data.batch_size": 2, "seed": 3})
    root = data_dir / "sr_train" / "T91"
    main = _batches(cfg, root, workers=0, in_loader=False, iters=4)
    for workers in (0, 1):
        other = _batches(cfg, root, workers=workers, in_loader=True, iters=4)
        for (lq_a, gt_a), (lq_b, gt_b) in zip(main, other, strict=True):
            assert torch.equal(gt_a, gt_b)
            assert lq_a.shape == lq_b.shape and (lq_a - lq_b).abs().max() <= 1 / 255 + 1e-6
            assert (lq_a != lq_b).float().mean() < 1e-3
    assert not torch.equal(main[0][1], main[1][1])  # the iterations do differ


def test_pair_pool_equals_real_esrgans_physical_shuffle() -> None:
    """The slot-permuting pool returns what Real-ESRGAN's (which reorders the stored tensors) returns."""
    size, b = 6, 2
    pool = PairPool(size)
    ref_lq = ref_gt = None
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    for step in range(9):
        lq = torch.full((b, 1, 1, 1), float(step)) + torch.arange(b).reshape(-1, 1, 1, 1) / 10
        gt = lq.repeat(1, 1, 2, 2)
        out = pool(lq, gt, g1)
        if step < size // b:  # filling: pass through
            ref_lq = lq if ref_lq is None else torch.cat([ref_lq, lq])
            ref_gt = gt if ref_gt is None else torch.cat([ref_gt, gt])
            expected = (lq, gt)
        else:
            order = torch.randperm(size, generator=g2)
            ref_lq, ref_gt = ref_lq[order], ref_gt[order]
            expected = (ref_lq[:b].clone(), ref_gt[:b].clone())
            ref_lq[:b], ref_gt[:b] = lq, gt
        assert torch.equal(out[0], expected[0]) and torch.equal(out[1], expected[1])
    assert torch.equal(pool.state_dict()["gt"], ref_gt)  # saved in pool order (not 8-bit here: stored as is)
