"""Training data: image folders -> random (LQ, GT) patches, reproducible from a sample position.

Layouts (``discover_dataset``): a folder with an LQ and a GT sub-folder (``lq``/``gt``,
``input``/``target``, ``rain``/``norain``, ``LR*``/``HR``) is **paired**, files matched by name
exactly as ``eval`` matches them (:mod:`vmambair_core.data.pairing`: identical names, ``baby`` ~
``babyx4``, ``img_001_SRF_4_HR`` ~ ``img_001_SRF_4_LR``, ``rain-001`` ~ ``norain-001``); a folder holding
only GT images (directly or in a GT sub-folder) is **HR-only** and the LQ side is made on the fly:

* sisr: MATLAB bicubic x1/4 (``data.resize.imresize``) of the uint8 HR crop, in the workers;
* realsr: the Real-ESRGAN pipeline, batched (``train.batches``): on a GPU on the device, on a
  CPU in the loader workers (``make_loader(finish=...)``), overlapping the training step;
* derain: synthetic rain streaks, made the same way (an approximation; see ``data.degrade.rain``).

8-bit images stay uint8 from decoding to the batch (``as_float`` converts it); 16-bit ones
are float32 in [0, 1].

Images both in a GT sub-folder and directly beside it (``HR/`` with 91 images plus 200 loose ones)
are refused, naming both places: training on either part alone would drop images without a word,
and merging them silently could double-count copies; moving files is the user's one-line fix.

Determinism: the sample at global position ``p`` (iteration t, rank r, slot k of the global
batch) depends on ``(seed, p)`` only: which image (a per-epoch permutation seeded by
``(seed, epoch)``), where to crop and how to flip. So the data do not depend on the number of
workers or processes, and resuming at iteration t needs nothing but t.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from vmambair_core.data.io import IMAGE_EXTENSIONS, read_image, read_rgb_samples
from vmambair_core.data.pairing import list_images, name_list, pair_images
from vmambair_core.data.resize import imresize, modcrop
from vmambair_core.errors import ConfigError, InputError
from vmambair_core.threads import usable_cores

LQ_DIRS = ("lq", "input", "rain", "lr", "lr_bicubic_x4", "lr_bicubic", "lr_x4")
GT_DIRS = ("gt", "target", "norain", "hr", "clean")
#: LQ rows/columns kept around a bicubic crop so its inside equals the whole-image resize.
BICUBIC_MARGIN = 3
_PERM_STREAM, _SAMPLE_STREAM = 0, 1

PatchMode = Literal["paired", "bicubic", "hr"]


@dataclass(frozen=True)
class DatasetLayout:
    """Matched files of a training/validation folder; ``lq`` is None for HR-only folders."""

    root: Path
    gt: tuple[Path, ...]
    lq: tuple[Path, ...] | None
    more_roots: tuple[Path, ...] = ()
    """Further folders whose images follow the first root's (``discover_datasets``)."""

    @property
    def paired(self) -> bool:
        return self.lq is not None

    def __len__(self) -> int:
        return len(self.gt)

    def describe(self) -> str:
        kind = f"paired ({self.lq[0].parent.name}/ -> {self.gt[0].parent.name}/)" if self.lq else "HR only"
        return f"{len(self.gt)} images, {kind}, in {' + '.join(str(r) for r in (self.root, *self.more_roots))}"


def _subdir(root: Path, names: tuple[str, ...]) -> Path | None:
    found = [d for d in sorted(root.iterdir()) if d.is_dir() and d.name.lower() in names]
    if len(found) > 1:
        raise InputError(f"{root}: ambiguous sub-folders {[d.name for d in found]}; keep one of them")
    return found[0] if found else None


def discover_dataset(root: str | Path, *, scale: int) -> DatasetLayout:
    """Find the images of ``root`` and how they pair; empty or mismatched folders are an InputError."""
    folder = Path(root).expanduser()
    if not folder.is_dir():
        raise InputError(f"dataset folder not found: {folder}")
    gt_dir, lq_dir = _subdir(folder, GT_DIRS), _subdir(folder, LQ_DIRS)
    if lq_dir is not None and gt_dir is None:
        raise InputError(f"{folder}: found LQ images in {lq_dir.name}/ but no GT folder (one of {', '.join(GT_DIRS)})")
    if gt_dir is not None and (loose := list_images(folder)):
        fix = (
            f"a paired folder keeps images only in {lq_dir.name}/ and {gt_dir.name}/: move the loose ones out"
            if lq_dir is not None
            else f"move them all into {gt_dir.name}/ to train on every one, or move the loose ones out"
        )
        raise InputError(
            f"{folder}: {len(list_images(gt_dir))} images in {gt_dir.name}/ and {len(loose)} more beside it "
            f"({name_list([p.name for p in loose])}); {fix}"
        )
    gt = list_images(gt_dir or folder)
    if not gt:
        raise InputError(
            f"{folder}: no images ({', '.join(IMAGE_EXTENSIONS)}) found"
            + ("" if gt_dir else f"; put them here or in a GT sub-folder ({', '.join(GT_DIRS)})")
        )
    if lq_dir is None:
        return DatasetLayout(folder, tuple(gt), None)
    pairs = pair_images(lq_dir, gt_dir, scale=scale).complete(f"{folder}: {lq_dir.name}/ and {gt_dir.name}/")
    return DatasetLayout(folder, tuple(p.gt for p in pairs), tuple(p.lq for p in pairs if p.lq is not None))


ROOT_SEPARATOR = os.pathsep
"""Joins several training folders in one ``data.root`` string (``T91:BSD200``, as in ``PATH``)."""


def absolute_roots(roots: str) -> str:
    """``data.root`` / ``val.root`` with every folder made absolute (``..`` and symlinks resolved).

    A run folder must outlive the directory it was started from: ``--resume`` reads the roots back
    from the checkpoint, and a relative path, or one through a checkout that was later removed
    (``checkout/../data/...``), would no longer find the images.
    """
    parts = [r for r in str(roots).split(ROOT_SEPARATOR) if r]
    return ROOT_SEPARATOR.join(str(Path(r).expanduser().resolve()) for r in parts)


def discover_datasets(roots: str | Path, *, scale: int) -> DatasetLayout:
    """``data.root`` holding one folder or several joined by ``os.pathsep``, as one training set.

    The images are the folders' in the order given (e.g. T91 + BSD200, the classic 291-image set);
    all folders must be paired, or all HR-only.
    """
    parts = [r for r in str(roots).split(ROOT_SEPARATOR) if r]
    if len(parts) <= 1:
        return discover_dataset(parts[0] if parts else roots, scale=scale)
    layouts = [discover_dataset(r, scale=scale) for r in parts]
    if len({lay.paired for lay in layouts}) > 1:
        kinds = ", ".join(f"{lay.root} ({'paired' if lay.paired else 'HR only'})" for lay in layouts)
        raise InputError(f"training folders mix paired and HR-only layouts: {kinds}; use one kind")
    gt = tuple(f for lay in layouts for f in lay.gt)
    lq = tuple(f for lay in layouts for f in (lay.lq or ())) if layouts[0].paired else None
    return DatasetLayout(layouts[0].root, gt, lq, tuple(lay.root for lay in layouts[1:]))


# --------------------------------------------------------------------------- per-sample randomness


@lru_cache(maxsize=4)
def epoch_permutation(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of the ``n`` images in ``epoch`` (the same in every process)."""
    perm = np.random.default_rng([_PERM_STREAM, seed, epoch]).permutation(n)
    perm.setflags(write=False)
    return perm


def sample_rng(seed: int, position: int) -> np.random.Generator:
    """Crop/flip randomness of the sample at global ``position``."""
    return np.random.default_rng([_SAMPLE_STREAM, seed, position])


class PositionSampler(Sampler[list[tuple[int, int]]]):
    """Infinite batch sampler: this rank's ``(image index, position)`` list for each iteration.

    Iteration t (1-based) covers the global positions ``[(t-1) G, t G)``, ``G = batch_size *
    world_size``; rank r takes the contiguous slice ``r * batch_size + [0, batch_size)``. The
    union over ranks is exactly the single-process batch of size ``G``.
    """

    def __init__(
        self, n_items: int, *, seed: int, batch_size: int, world_size: int = 1, rank: int = 0, start_iteration: int = 0
    ) -> None:
        if n_items < 1:
            raise InputError("the training set is empty")
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank {rank} outside world size {world_size}")
        self.n, self.seed, self.batch_size = n_items, seed, batch_size
        self.world_size, self.rank, self.start_iteration = world_size, rank, start_iteration

    def positions(self, iteration: int) -> range:
        first = (iteration - 1) * self.batch_size * self.world_size + self.rank * self.batch_size
        return range(first, first + self.batch_size)

    def item_at(self, position: int) -> tuple[int, int]:
        epoch, i = divmod(position, self.n)
        return int(epoch_permutation(self.n, self.seed, epoch)[i]), position

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        t = self.start_iteration
        while True:
            t += 1
            yield [self.item_at(p) for p in self.positions(t)]


# --------------------------------------------------------------------------- patches


@dataclass(frozen=True)
class PatchSpec:
    """What one sample is: ``patch`` GT pixels (``hr``: ``crop``), flips, and how LQ is made."""

    mode: PatchMode
    patch: int
    scale: int = 1
    hflip: bool = True
    rotate: bool = True
    crop: int | None = None
    """``hr`` mode: side of the GT crop handed to the device-side degradation."""


def _pad_to(img: np.ndarray, h: int, w: int) -> np.ndarray:
    """Reflect-pad bottom/right up to (h, w) (Real-ESRGAN / Restormer pad small images)."""
    ph, pw = max(0, h - img.shape[0]), max(0, w - img.shape[1])
    if ph == 0 and pw == 0:
        return img
    return np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="reflect")


def dihedral(img: np.ndarray, k: int) -> np.ndarray:
    """The k-th of the 8 flips/rotations of an HWC array: k >= 4 flips left-right, then k % 4 rot90."""
    if k >= 4:
        img = img[:, ::-1]
    return np.rot90(img, k % 4, axes=(0, 1))


def _augment_choice(rng: np.random.Generator, hflip: bool, rotate: bool) -> int:
    choices = {(True, True): 8, (True, False): 2, (False, True): 4, (False, False): 1}[(hflip, rotate)]
    k = int(rng.integers(choices))
    return 4 * k if (hflip and not rotate) else k


def _tensor(img: np.ndarray) -> torch.Tensor:
    """HWC -> CHW tensor of the same dtype (uint8 stays uint8 until ``as_float`` on the batch)."""
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def as_float(t: torch.Tensor) -> torch.Tensor:
    """A loader tensor as float32 in [0, 1]: uint8 samples / 255, float samples unchanged."""
    return t.float().div_(255.0) if t.dtype == torch.uint8 else t.float()


def collate_patches(samples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack samples; uint8 stays uint8 unless a 16-bit image (float sample) shares the batch."""
    out = {}
    for key in samples[0]:
        parts = [s[key] for s in samples]
        out[key] = torch.stack(parts if all(p.dtype == torch.uint8 for p in parts) else [as_float(p) for p in parts])
    return out


def bicubic_patch(hr: np.ndarray, patch: int, scale: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random (LQ, GT) patch with LQ = MATLAB ``imresize(HR, 1/scale)`` cropped at the same place.

    Only the crop plus ``BICUBIC_MARGIN`` LQ pixels is resized; the margin covers the kernel's
    support, so the patch equals the crop of the whole-image resize (where the crop touches
    the image border, the symmetric padding is the same in both).
    """
    hr = modcrop(hr, scale)
    hr = _pad_to(hr, patch, patch)
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    p = patch // scale
    top, left = int(rng.integers(h - p + 1)), int(rng.integers(w - p + 1))
    t0, l0 = max(0, top - BICUBIC_MARGIN), max(0, left - BICUBIC_MARGIN)
    t1, l1 = min(h, top + p + BICUBIC_MARGIN), min(w, left + p + BICUBIC_MARGIN)
    region = hr[t0 * scale : t1 * scale, l0 * scale : l1 * scale]
    lq = imresize(region, 1.0 / scale)[top - t0 : top - t0 + p, left - l0 : left - l0 + p]
    gt = hr[top * scale : (top + p) * scale, left * scale : (left + p) * scale]
    return lq, gt


def paired_patch(
    lq: np.ndarray, gt: np.ndarray, patch: int, scale: int, rng: np.random.Generator, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Aligned random crops of an LQ/GT pair (GT = scale x LQ), reflect-padded when too small."""
    h, w = lq.shape[:2]
    if gt.shape[0] < h * scale or gt.shape[1] < w * scale:
        raise InputError(
            f"{name}: GT {gt.shape[1]}x{gt.shape[0]} is smaller than {scale} x LQ {w}x{h}; the pair does not match"
        )
    gt = gt[: h * scale, : w * scale]  # mod-crop the GT to the LQ grid (Set14-style pairs)
    p = patch // scale
    lq = _pad_to(lq, p, p)
    gt = _pad_to(gt, p * scale, p * scale)
    h, w = lq.shape[:2]
    top, left = int(rng.integers(h - p + 1)), int(rng.integers(w - p + 1))
    return (
        lq[top : top + p, left : left + p],
        gt[top * scale : (top + p) * scale, left * scale : (left + p) * scale],
    )


def random_crop(img: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    img = _pad_to(img, size, size)
    top, left = int(rng.integers(img.shape[0] - size + 1)), int(rng.integers(img.shape[1] - size + 1))
    return img[top : top + size, left : left + size]


def _read(path: Path) -> np.ndarray:
    """8-bit images as uint8 (every crop and the bicubic resize keep it); 16-bit ones as float32 in [0, 1]."""
    samples = read_rgb_samples(path)
    return samples if samples.dtype == np.uint8 else samples.astype(np.float32) / np.float32(65535.0)


class PatchDataset(Dataset[dict[str, torch.Tensor]]):
    """Item ``(index, position)`` -> ``{"lq", "gt"}`` CHW tensors (``hr`` mode: ``{"gt"}``).

    uint8 for 8-bit files, float32 in [0, 1] for 16-bit ones; ``as_float`` converts the batch.
    """

    def __init__(self, layout: DatasetLayout, spec: PatchSpec, seed: int) -> None:
        if spec.mode == "paired" and not layout.paired:
            raise ConfigError("paired patches need a paired dataset layout")
        if spec.patch % spec.scale:
            raise ConfigError(f"patch {spec.patch} must be a multiple of the scale {spec.scale}")
        self.layout, self.spec, self.seed = layout, spec, seed

    def __len__(self) -> int:
        return len(self.layout)

    def __getitem__(self, item: tuple[int, int]) -> dict[str, torch.Tensor]:
        index, position = item
        rng = sample_rng(self.seed, position)
        spec, gt_path = self.spec, self.layout.gt[index]
        if spec.mode == "paired":
            assert self.layout.lq is not None
            lq, gt = paired_patch(
                _read(self.layout.lq[index]), _read(gt_path), spec.patch, spec.scale, rng,
                gt_path.name,
            )
        elif spec.mode == "bicubic":
            lq, gt = bicubic_patch(_read(gt_path), spec.patch, spec.scale, rng)
        else:
            lq, gt = None, random_crop(_read(gt_path), spec.crop or spec.patch, rng)
        k = _augment_choice(rng, spec.hflip, spec.rotate)
        out = {"gt": _tensor(dihedral(gt, k))}
        if lq is not None:
            out["lq"] = _tensor(dihedral(lq, k))
        return out


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # workers decode and crop; the main process owns the cores for the model
    # Ctrl-C reaches the whole process group: the workers must keep serving batches while the main
    # process finishes its iteration and saves (they exit with it; torch's watchdog ends orphans).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def default_workers() -> int:
    """``min(4, cores - 1)``, at least 1: one worker per spare core; more only compete with the model.

    (With 4 workers on 2 cores PyTorch warns, and the step time was the same as with 1.)
    """
    return max(1, min(4, usable_cores() - 1))


#: A loader-side last step on the collated batch, given its first sample position (picklable).
BatchFinish = Callable[[dict[str, torch.Tensor], int], dict[str, torch.Tensor]]


class _Batches(Dataset[dict[str, torch.Tensor]]):
    """One item per iteration: the sampler's ``(index, position)`` list -> collated (and finished) batch.

    Fetching whole batches lets a worker run ``finish`` (e.g. the realsr degradation) on the batch
    it built, off the training thread.
    """

    def __init__(self, samples: PatchDataset, finish: BatchFinish | None) -> None:
        self.samples, self.finish = samples, finish

    def __getitem__(self, items: list[tuple[int, int]]) -> dict[str, torch.Tensor]:  # type: ignore[override]
        batch = collate_patches([self.samples[item] for item in items])
        return batch if self.finish is None else self.finish(batch, items[0][1])


def make_loader(
    dataset: PatchDataset,
    sampler: PositionSampler,
    *,
    workers: int | None = None,
    pin_memory: bool = False,
    finish: BatchFinish | None = None,
) -> DataLoader[dict[str, torch.Tensor]]:
    """A DataLoader that yields one batch per iteration, forever, starting at the sampler's position.

    ``workers`` None: :func:`default_workers`. ``finish`` runs in the worker that built the batch
    (in this process with 0 workers).
    """
    n = default_workers() if workers is None else workers
    return DataLoader(
        _Batches(dataset, finish),
        sampler=sampler,  # type: ignore[arg-type]
        batch_size=None,
        num_workers=n,
        pin_memory=pin_memory,
        worker_init_fn=_worker_init if n else None,
        persistent_workers=False,
        prefetch_factor=2 if n else None,
    )


def check_readable(layout: DatasetLayout, limit: int = 3) -> None:
    """Decode the first few files now, so an unreadable set fails before any process starts."""
    files = list(layout.gt[:limit]) + list((layout.lq or ())[:limit])
    for f in files:
        read_image(f)
