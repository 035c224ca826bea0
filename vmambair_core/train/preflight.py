"""Will the run fit in memory? Measure real training steps, extrapolate, choose gradient accumulation.

Run before the run folder is written. A throw-away copy of the run's generator (with its
optimiser, EMA, discriminator and perceptual loss: ``build_parts``) takes real training steps on
random data on the run's device: a warm-up and two steps at half the patch (batch 1 and 2: the
memory that does not grow with the batch, and what one more sample costs), then, if the small steps
predict it fits, one step at the run's patch size and batch 1. Memory is linear in the pixels of the
batch, so the peak of a step of b samples is ``fixed + b * per_sample``. The peak is the process's
resident high-water mark on the CPU (everything the process holds: imports, allocator slack) and
the caching allocator's reserved peak on CUDA.

If one step of the whole batch does not fit, the recipe's effective batch is kept by
accumulating gradients over ``accum`` micro-batches (the smallest that fits); if a micro-batch of
one sample does not fit either, the run is refused with the estimate, the free memory, and a patch
size that would fit. The CPU's free memory is shared by the N processes of ``--gpus N --device cpu``.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass, replace

import torch
from torch.optim.lr_scheduler import LambdaLR

from vmambair_core.device import resolve_precision
from vmambair_core.errors import ConfigError
from vmambair_core.memory import HighWater, available_memory_bytes, release_freed_memory
from vmambair_core.models import build_model
from vmambair_core.train import distributed as dist_utils
from vmambair_core.train.config import TrainConfig
from vmambair_core.train.distributed import DistEnv
from vmambair_core.train.steps import build_parts, train_step

#: Share of the free memory a run may plan to use: the rest absorbs other processes' growth and the
#: estimate's error (tested within 15% of a measured peak).
SAFETY = 0.85
GIB = 2**30


@dataclass(frozen=True)
class StepMemory:
    """Peak memory of one training step of ``b`` samples at ``patch``: ``fixed + b * per_sample``."""

    fixed: int
    per_sample: int
    patch: int

    def peak(self, batch: int, patch: int | None = None) -> int:
        p = self.patch if patch is None else patch
        return self.fixed + math.ceil(batch * self.per_sample * (p / self.patch) ** 2)


@dataclass(frozen=True)
class MemoryPlan:
    """The accumulation chosen and the numbers behind it (all bytes; ``need`` for every process)."""

    accum: int
    need: int
    free: int
    procs: int

    def describe(self) -> str:
        return f"memory: {self.need / GIB:.1f} GiB needed by {self.procs} process(es) of {self.free / GIB:.1f} GiB free"


def _stages(cfg: TrainConfig) -> list[tuple[int, int]]:
    """(batch, patch) of every step shape the run takes (derain's progressive stages, else one)."""
    prog = cfg.data.progressive
    if prog is None:
        return [(cfg.data.batch_size, cfg.data.patch_size)]
    return list(zip(prog.batch_sizes, prog.patch_sizes, strict=True))


def micro_batches(batch: int, accum: int) -> list[int]:
    """Sizes of the ``accum`` micro-batches of a batch (``torch.tensor_split``'s: differing by one at most)."""
    return [len(c) for c in torch.arange(batch).tensor_split(min(accum, batch))]


def step_need(cfg: TrainConfig, mem: StepMemory, accum: int) -> int:
    """Peak of the largest micro-step over the run's stages, plus the realsr pair queue."""
    peak = max(mem.peak(max(micro_batches(b, accum)), p) for b, p in _stages(cfg))
    s = cfg.data.patch_size
    queue = cfg.data.pool_size * 3 * 4 * (s * s + (s // cfg.scale) ** 2) if cfg.task == "realsr" else 0
    return peak + queue


def _free(device: torch.device) -> int | None:
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return available_memory_bytes()


class _Probe:
    """Peak memory of a step on ``device``: the CPU's resident high-water mark, or CUDA's reserved peak."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cpu = HighWater() if device.type == "cpu" else None

    @property
    def works(self) -> bool:
        return self.cpu is None or self.cpu.available

    def reset(self) -> None:
        gc.collect()
        if self.cpu is not None:
            release_freed_memory()
            self.cpu.reset()
        else:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak(self) -> int:
        if self.cpu is not None:
            return self.cpu.peak()
        return int(torch.cuda.max_memory_reserved(self.device))

    def current(self) -> int:
        if self.cpu is not None:
            return self.cpu.current()
        return int(torch.cuda.memory_reserved(self.device))


def resident_memory(device: torch.device) -> int:
    """What this process holds now that a step's peak counts but the free figure does not (0 if unknown)."""
    try:
        return _Probe(device).current()
    except OSError:
        return 0


def accumulation_words(cfg: TrainConfig) -> str:
    """``; batch 8 as 2 micro-batches of 4 (gradient accumulation)`` for the run's first line; '' for none."""
    if not cfg.accum or cfg.accum == 1:
        return ""
    b = max(b for b, _ in _stages(cfg))
    sizes = sorted(set(micro_batches(b, cfg.accum)), reverse=True)
    return (f"; batch {b} as {min(cfg.accum, b)} micro-batches of {'/'.join(map(str, sizes))} "
            "(gradient accumulation: the same update as the whole batch)")


def plan_words(plan: MemoryPlan, cfg: TrainConfig) -> str:
    """The launcher's line for ``plan``: memory, then the accumulation it gives ``cfg``."""
    return plan.describe() + accumulation_words(replace(cfg, accum=plan.accum))


def _small_patch(cfg: TrainConfig) -> int:
    step = cfg.scale * (8 if cfg.stage == "gan" else 1)
    return max(step, cfg.data.patch_size // 2 // step * step)


def measure_step(cfg: TrainConfig, device: torch.device, budget: int | None = None) -> StepMemory | None:
    """Measure ``fixed`` and ``per_sample`` at the run's largest patch (module doc); None where peaks
    cannot be read. ``budget`` (bytes of peak): the step at full patch is only taken when the small steps
    predict it stays within it, and is left out when they predict the whole batch fits twice over."""
    probe = _Probe(device)
    if not probe.works:
        return None
    dtype = resolve_precision(cfg.precision, device)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        net = build_model(cfg.network(), scan_backend=cfg.model.scan_backend).to(device)
        parts = build_parts(cfg, net, device, dtype)
        parts.train_g, parts.train_d = net, parts.net_d
        # A constant lr: the measuring steps must not run into the end of a short run's schedule.
        parts.sched_g = LambdaLR(parts.opt_g, lambda _: 1.0)
        if parts.opt_d is not None:
            parts.sched_d = LambdaLR(parts.opt_d, lambda _: 1.0)

        def step(batch: int, patch: int) -> int:
            lq = torch.rand(batch, 3, patch // cfg.scale, patch // cfg.scale, device=device)
            gt = torch.rand(batch, 3, patch, patch, device=device)
            probe.reset()
            train_step(parts, lq, gt, device)  # noqa: F821 - runs before the del below
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            peak = probe.peak()
            del lq, gt
            return peak

        small, full = _small_patch(cfg), cfg.data.patch_size
        step(1, small)  # warm-up: gradients, optimiser state and workspaces now exist
        one, two = step(1, small), step(2, small)
        sample_small = max(0, two - one)
        guess = StepMemory(one - sample_small, sample_small, small)
        result = guess
        clear = budget is not None and step_need(cfg, guess, 1) <= budget // 2  # fits twice over: no doubt
        if small != full and not clear and (budget is None or guess.peak(1, full) <= budget):
            result = StepMemory(guess.fixed, max(0, step(1, full) - guess.fixed), full)
        del parts, net
    probe.reset()
    return result


def plan_memory(
    cfg: TrainConfig,
    device: torch.device | str,
    *,
    procs: int = 1,
    own: int = 0,
    mem: StepMemory | None = None,
) -> MemoryPlan | None:
    """The accumulation for ``cfg`` on ``device`` shared by ``procs`` processes, or a ``ConfigError``.

    ``cfg.accum`` None chooses the smallest that fits; a given one is checked. ``own``: memory this
    process already holds that the peaks count but the free figure does not (the CPU's resident size
    when the measuring process trains itself). None when free memory or peaks cannot be read.
    ``device`` may be given by name (``"cpu"``), as a launcher that holds no tensors does.
    """
    device = torch.device(device)
    free = _free(device)
    if free is None:
        return None
    share = device.type == "cpu"  # CPU processes share one pool; each GPU process has its own device
    n = procs if share else 1
    budget = int(SAFETY * (free + own)) // n
    mem = mem if mem is not None else measure_step(cfg, device, budget)
    if mem is None:
        return None
    largest = max(b for b, _ in _stages(cfg))
    choices = [cfg.accum] if cfg.accum is not None else range(1, largest + 1)
    for k in choices:
        need = step_need(cfg, mem, k)
        if need <= budget:
            return MemoryPlan(k, n * need - own, free, n)
    raise ConfigError(_refusal(cfg, mem, budget, free, n, own))


def _refusal(cfg: TrainConfig, mem: StepMemory, budget: int, free: int, procs: int, own: int) -> str:
    one = step_need(cfg, mem, 10**9)
    if cfg.accum is not None and one <= budget:
        k = next(k for k in range(cfg.accum, 10**9) if step_need(cfg, mem, k) <= budget)
        return (f"--accum {cfg.accum} needs about {(procs * step_need(cfg, mem, cfg.accum) - own) / GIB:.1f} GiB, "
                f"{free / GIB:.1f} GiB is free; --accum {k} (or more) fits")
    step = cfg.scale * (8 if cfg.stage == "gan" else 1)
    room = budget - mem.fixed
    fits = int(mem.patch * math.sqrt(room / mem.per_sample)) // step * step if room > 0 and mem.per_sample else 0
    try_flags = f"--patch-size {fits}" if fits >= step else "a smaller network (--model-dim/--model-blocks, as the -lite recipes)"
    if procs > 1:
        try_flags += " or fewer processes"
    return (f"one training step of a single {cfg.data.patch_size}-px sample needs about "
            f"{(procs * one - own) / GIB:.1f} GiB ({procs} process(es)) but {free / GIB:.1f} GiB is free; "
            f"try {try_flags}")


def settle_accumulation(cfg: TrainConfig, env: DistEnv) -> tuple[TrainConfig, str]:
    """The run's accumulation (measured and chosen, or checked) and the words for its first line.

    CPU processes under DDP were checked together by the launcher, which passed ``accum``; a GPU
    process checks its own device, and the ranks take the largest accumulation any of them needs.
    """
    plan = None
    if not (env.ddp and env.device.type == "cpu"):
        plan = plan_memory(cfg, env.device, own=resident_memory(env.device))
    accum = plan.accum if plan is not None else (cfg.accum or 1)
    if env.ddp:
        accum = dist_utils.max_across(env, accum)
    cfg = replace(cfg, accum=accum)
    if plan is not None:
        words = plan.describe() if plan.accum == accum else f"{plan.describe()}; {accum} on another rank"
    elif env.ddp and env.device.type == "cpu":
        words = "memory checked for all processes by the launcher"
    else:
        words = "memory check skipped (this system cannot report peak or free memory)"
    return cfg, words + accumulation_words(cfg)
