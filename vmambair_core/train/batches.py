"""Device-side batch preparation: synthesize LQ, queue pairs, cut progressive patches.

Everything random here draws from ``iteration_generator(seed, rank, t)``, a generator seeded
afresh for each iteration on the training device, so a resumed run redraws the same numbers
without saving generator states. Only the realsr pair queue carries state (``state_dict``).
On a CPU the synthesis of HR-only batches runs in the loader's workers (``LoaderSynthesis``),
overlapping the training step; on a GPU it runs batched on the device.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from vmambair_core.data.degrade.mild import degrade_mild
from vmambair_core.data.degrade.realesrgan import degrade_realesrgan, paired_random_crop
from vmambair_core.data.degrade.rain import add_rain
from vmambair_core.errors import CheckpointError
from vmambair_core.train.config import TrainConfig
from vmambair_core.train.data import PatchMode, as_float

_STEP_STREAM = 2


def derive_seed(*parts: int) -> int:
    """A 63-bit seed mixed from integers (numpy's SeedSequence: well spread, platform independent)."""
    state = np.random.SeedSequence([int(p) for p in parts]).generate_state(2, dtype=np.uint32)
    return (int(state[0]) << 31 | int(state[1]) >> 1) & ((1 << 63) - 1)


def iteration_generator(seed: int, rank: int, iteration: int, device: torch.device) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(derive_seed(_STEP_STREAM, seed, rank, iteration))
    return g


def quantize8(x: Tensor) -> Tensor:
    """Round to the 8-bit grid, as an image file would store it."""
    return torch.clamp(torch.round(x * 255.0), 0, 255) / 255.0


def _pack(t: Tensor) -> Tensor:
    """uint8 when that is lossless (8-bit data), else the tensor itself: smaller checkpoints."""
    q = torch.round(t * 255.0)
    return q.to(torch.uint8).cpu() if torch.equal(q / 255.0, t) else t.cpu()


def _unpack(t: Tensor, like: Tensor) -> Tensor:
    return (t.to(like.device, torch.float32) / 255.0 if t.dtype == torch.uint8 else t.to(like.device)).to(like.dtype)


class PairPool:
    """Real-ESRGAN's training-pair queue: batches are swapped with a shuffled pool of ``size`` pairs.

    While the pool fills, batches pass through unchanged; once full, each call shuffles the
    pool, returns its first ``b`` pairs and puts the new batch in their place. The shuffle
    permutes ``slot`` (pool position -> storage row) instead of the stored images, so a call
    copies ``b`` pairs, not all ``size`` of them (180 GT patches of 256 px are 141 MB).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.filled = 0
        self.lq: Tensor | None = None
        self.gt: Tensor | None = None
        self.slot = torch.arange(size)

    def __call__(self, lq: Tensor, gt: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        b = lq.shape[0]
        if self.lq is None or self.gt is None:
            self.lq = lq.new_zeros((self.size, *lq.shape[1:]))
            self.gt = gt.new_zeros((self.size, *gt.shape[1:]))
        if self.filled < self.size:
            self.lq[self.filled : self.filled + b] = lq
            self.gt[self.filled : self.filled + b] = gt
            self.filled += b
            return lq, gt
        order = torch.randperm(self.size, generator=generator, device=generator.device)
        self.slot = self.slot.to(order.device)[order]
        rows = self.slot[:b].to(self.lq.device)
        out = self.lq[rows], self.gt[rows]  # advanced indexing copies
        self.lq[rows], self.gt[rows] = lq, gt
        return out

    def state_dict(self) -> dict[str, Any]:
        if self.lq is None or self.gt is None:
            return {"size": self.size, "filled": 0}
        n = self.filled
        rows = self.slot[:n].to(self.lq.device)  # saved in pool order: the state does not show the slots
        return {"size": self.size, "filled": n, "lq": _pack(self.lq[rows]), "gt": _pack(self.gt[rows])}

    def load_state_dict(self, state: dict[str, Any], like_lq: Tensor, like_gt: Tensor) -> None:
        if int(state["size"]) != self.size:
            raise CheckpointError(f"the checkpoint's pair pool holds {state['size']} pairs, the config {self.size}")
        self.filled = int(state["filled"])
        self.slot = torch.arange(self.size)
        self.lq = like_lq.new_zeros((self.size, *like_lq.shape[1:]))
        self.gt = like_gt.new_zeros((self.size, *like_gt.shape[1:]))
        if self.filled:
            self.lq[: self.filled] = _unpack(state["lq"], like_lq)
            self.gt[: self.filled] = _unpack(state["gt"], like_gt)


def progressive_cut(lq: Tensor, gt: Tensor, patch: int, batch: int, scale: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Restormer's progressive step: a random subset of ``batch`` images, one random ``patch`` crop."""
    if batch < lq.shape[0]:
        keep = torch.randperm(lq.shape[0], generator=g, device=g.device)[:batch].sort().values.to(lq.device)
        lq, gt = lq[keep], gt[keep]
    p = patch // scale
    h, w = lq.shape[-2:]
    if p < h or p < w:
        top = int(torch.randint(h - p + 1, (), generator=g, device=g.device))
        left = int(torch.randint(w - p + 1, (), generator=g, device=g.device))
        lq = lq[..., top : top + p, left : left + p]
        gt = gt[..., top * scale : (top + p) * scale, left * scale : (left + p) * scale]
    return lq, gt


def synthesize(cfg: TrainConfig, gt: Tensor, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """HR-only data -> the (lq, gt) pair: realsr's degradation (with its mild share) plus crop, or derain's rain."""
    if cfg.task == "realsr":
        deg = cfg.degradation_config()
        lq = degrade_realesrgan(gt, deg, g)
        if cfg.mild is not None and cfg.mild.prob > 0:  # draws nothing otherwise: old runs resume unchanged
            mild = torch.rand(gt.shape[0], generator=g, device=g.device) < cfg.mild.prob
            if bool(mild.any()):
                light = degrade_mild(gt, cfg.mild, g, scale=deg.scale)
                lq = torch.where(mild.to(lq.device).reshape(-1, 1, 1, 1), light, lq)
        gt, lq = paired_random_crop(gt, lq, deg.gt_size, deg.scale, g)
        return lq, gt
    assert cfg.rain is not None
    with torch.no_grad():
        return quantize8(add_rain(gt, cfg.rain, g)[0]), gt


#: Batch key of the iteration generator's state after a loader-side synthesis.
GENERATOR_STATE = "generator_state"


class LoaderSynthesis:
    """CPU training: ``synthesize`` run by the loader's workers, off the training thread.

    Draws from the same ``iteration_generator`` as :class:`BatchMaker` would and hands its state
    on, so the pool and progressive cut continue the same stream: the batches equal those made on
    the training thread, for any number of workers.
    """

    def __init__(self, cfg: TrainConfig, rank: int, global_batch: int) -> None:
        self.cfg, self.rank, self.global_batch = cfg, rank, global_batch

    def __call__(self, batch: dict[str, Tensor], position: int) -> dict[str, Tensor]:
        iteration = position // self.global_batch + 1
        g = iteration_generator(self.cfg.seed, self.rank, iteration, torch.device("cpu"))
        lq, gt = synthesize(self.cfg, as_float(batch["gt"]), g)
        # Copies, so a worker does not ship the whole HR crop behind a patch view.
        return {"lq": lq.contiguous(), "gt": gt.contiguous(), GENERATOR_STATE: g.get_state()}


class BatchMaker:
    """Loader batch + iteration -> the (lq, gt) pair the network trains on, on ``device``.

    HR-only batches are synthesised here (on the device: the GPU path) unless the loader already
    did (``LoaderSynthesis``, the CPU path); either way the pool and progressive cut run here.
    """

    def __init__(self, cfg: TrainConfig, mode: PatchMode, device: torch.device, rank: int) -> None:
        self.cfg, self.mode, self.device, self.rank = cfg, mode, device, rank
        self.pool = PairPool(cfg.data.pool_size) if cfg.data.pool_size and mode == "hr" else None

    def __call__(self, batch: dict[str, Tensor], iteration: int) -> tuple[Tensor, Tensor]:
        gt = as_float(batch["gt"].to(self.device, non_blocking=True))
        g: torch.Generator | None = None  # made only when something draws (sisr never does)
        if GENERATOR_STATE in batch:
            g = torch.Generator(device=self.device)
            g.set_state(batch[GENERATOR_STATE])
            lq = batch["lq"].to(self.device)
        elif self.mode != "hr":
            lq = as_float(batch["lq"].to(self.device, non_blocking=True))
        else:
            g = iteration_generator(self.cfg.seed, self.rank, iteration, self.device)
            lq, gt = synthesize(self.cfg, gt, g)
        if self.pool is not None:
            assert g is not None
            lq, gt = self.pool(lq, gt, g)
        prog = self.cfg.data.progressive
        if prog is not None:
            g = g or iteration_generator(self.cfg.seed, self.rank, iteration, self.device)
            j = prog.stage_at(iteration)
            lq, gt = progressive_cut(lq, gt, prog.patch_sizes[j], prog.batch_sizes[j], self.cfg.scale, g)
        return lq.contiguous(), gt.contiguous()

    def state_dict(self) -> dict[str, Any]:
        return {"pool": self.pool.state_dict()} if self.pool is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.pool is None:
            return
        if "pool" not in state:
            raise CheckpointError("the checkpoint has no pair-pool state but the config uses data.pool_size")
        s, p = self.cfg.data.patch_size, self.cfg.data.patch_size // self.cfg.scale
        like_gt = torch.zeros((1, 3, s, s), device=self.device)
        like_lq = torch.zeros((1, 3, p, p), device=self.device)
        self.pool.load_state_dict(state["pool"], like_lq, like_gt)
