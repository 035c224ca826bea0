"""Checkpoints: atomic, one folder per save, everything a run needs to continue exactly.

Layout (nanochat's split of shared state and per-rank shards)::

    RUN/checkpoints/iter_00005000/state.pt   model, EMA, discriminator, optimisers, schedulers,
                                             scaler, config, iteration, data position (rank 0)
    RUN/checkpoints/iter_00005000/rank_R.pt  RNG states (python, numpy, torch, the run GPU's) and
                                             the pair queue of rank R
    RUN/checkpoints/iter_00005000/meta.json  iteration, world size, task, stage (readable)
    RUN/checkpoints/latest                   name of the newest complete checkpoint

Every rank writes into ``.iter_XXXXXXXX.partial/``; after a barrier rank 0 renames the folder
and rewrites ``latest`` (temp file + ``os.replace``), so a crash at any moment leaves the
previous checkpoint intact. Saving an iteration again moves its old folder aside first (see
``_install``); ``latest_checkpoint`` falls back to the newest complete folder if ``latest``
names a missing one. With several machines the run folder must be on a shared filesystem.
Files load with ``torch.load(weights_only=True)``: tensors and plain Python values only.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vmambair_core.atomic import atomic_write, atomic_write_bytes, fsync_dir
from vmambair_core.errors import CheckpointError
from vmambair_core.train.distributed import DistEnv, barrier
from vmambair_core.weights.formats import load_torch_file

CHECKPOINT_VERSION = 1
LATEST = "latest"


def atomic_torch_save(obj: Any, path: Path) -> None:
    atomic_write(path, lambda fh: torch.save(obj, fh))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


# --------------------------------------------------------------------------- RNG states


def _cuda_index(device: torch.device | None) -> int | None:
    """The GPU whose generator a checkpoint keeps: the run's device (the current one if not given)."""
    if not torch.cuda.is_available() or (device is not None and device.type != "cuda"):
        return None
    return device.index if device is not None and device.index is not None else torch.cuda.current_device()


def rng_state(device: torch.device | None = None) -> dict[str, Any]:
    """Global generators of this process, as tensors and plain values (weights_only-safe).

    Of the CUDA generators only the run device's is kept (and only once CUDA is in use): a resume on a
    machine that shows fewer or other GPUs must not need the same set of devices.
    """
    np_state = np.random.get_state(legacy=False)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "torch": torch.get_rng_state(),
    }
    index = _cuda_index(device)
    if index is not None and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state(index)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device | None = None) -> None:
    """Restore :func:`rng_state`; the CUDA state goes to the run device, and only where there is one.

    Older checkpoints hold every visible GPU's state (a list): the run device's index picks its entry
    when the list has one, otherwise the CUDA state is left as seeded (training draws from explicit
    generators, never from the global CUDA one).
    """
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_state = state["numpy"]
    np.random.set_state(
        {
            "bit_generator": np_state["bit_generator"],
            "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    torch.set_rng_state(state["torch"])
    index, cuda = _cuda_index(device), state.get("cuda")
    if isinstance(cuda, (list, tuple)):
        cuda = cuda[index] if index is not None and index < len(cuda) else None
    if index is not None and cuda is not None:
        torch.cuda.set_rng_state(cuda, index)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# --------------------------------------------------------------------------- save / load


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoints"


def _name(iteration: int) -> str:
    return f"iter_{iteration:08d}"


def save_checkpoint(
    run_dir: Path,
    iteration: int,
    env: DistEnv,
    *,
    shared: dict[str, Any],
    per_rank: dict[str, Any],
    meta: dict[str, Any],
    keep_last: int = 2,
) -> Path:
    """Collective: every rank calls it. Returns the final folder (on every rank)."""
    root = checkpoint_dir(run_dir)
    final = root / _name(iteration)
    partial = root / f".{_name(iteration)}.partial"
    if env.master:
        root.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir()
    barrier(env)
    try:
        atomic_torch_save(per_rank, partial / f"rank_{env.rank}.pt")
        if env.master:
            atomic_torch_save({"version": CHECKPOINT_VERSION, "iteration": iteration, **shared}, partial / "state.pt")
            info = {"version": CHECKPOINT_VERSION, "iteration": iteration, "world_size": env.world_size, **meta}
            atomic_write_text(partial / "meta.json", json.dumps(info, indent=2) + "\n")
    except OSError as error:  # a full disk, typically: the partial folder goes, the previous checkpoint stays
        if env.master:
            shutil.rmtree(partial, ignore_errors=True)
        previous = latest_checkpoint(run_dir)
        kept = f"the previous checkpoint {previous} is intact" if previous else "no earlier checkpoint exists"
        raise CheckpointError(f"cannot write checkpoint {final.name} ({error.strerror or error}); {kept}; "
                              "free space, then continue with --resume") from None
    barrier(env)
    if env.master:
        _install(root, partial, final)
        _prune(root, keep_last)
    barrier(env)
    return final


def _install(root: Path, partial: Path, final: Path) -> None:
    """Rename ``partial`` to ``final`` and point ``latest`` at it; a crash at any step loses nothing.

    Saving an iteration that already has a folder (a resume interrupted at once saves the same
    iteration again) moves the old folder aside first and deletes it only after ``latest`` is
    rewritten: between the renames ``latest`` names a missing folder, and ``latest_checkpoint``
    then falls back to the newest complete one, which the moved-aside folder still is.
    """
    aside = root / f".{final.name}.old"
    if final.exists():
        shutil.rmtree(aside, ignore_errors=True)
        os.replace(final, aside)
    os.replace(partial, final)
    fsync_dir(root)
    atomic_write_text(root / LATEST, final.name + "\n")
    shutil.rmtree(aside, ignore_errors=True)


def _iteration_of(folder: Path) -> int | None:
    """``iter_N`` or a moved-aside ``.iter_N.old`` -> N; anything else (``.partial``) -> None."""
    name = folder.name.removeprefix(".").removesuffix(".old") if folder.name.endswith(".old") else folder.name
    digits = name.removeprefix("iter_")
    return int(digits) if name.startswith("iter_") and digits.isdigit() else None


def _prune(root: Path, keep_last: int) -> None:
    for aside in root.glob(".iter_*.old"):  # left by a crash inside _install: put back or drop
        back = root / aside.name[1 : -len(".old")]
        if back.exists():
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(aside, back)
    done = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("iter_"))
    for old in done[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(old, ignore_errors=True)


def latest_checkpoint(run_dir: Path) -> Path | None:
    """The newest complete checkpoint of a run, or None when there is none.

    Normally the folder ``latest`` names; if that is missing or incomplete (a crash inside a save),
    the complete checkpoint folder with the highest iteration, the moved-aside copy included.
    """
    root = checkpoint_dir(run_dir)
    pointer = root / LATEST
    if not pointer.is_file():
        return None
    folder = root / pointer.read_text(encoding="utf-8").strip()
    if (folder / "state.pt").is_file():
        return folder
    complete = [(it, not p.name.startswith("."), p) for p in root.iterdir()
                if p.is_dir() and (it := _iteration_of(p)) is not None and (p / "state.pt").is_file()
                and (p / "meta.json").is_file()]
    if not complete:
        raise CheckpointError(f"{pointer} names {folder.name}, which is missing or incomplete, and no other "
                              "complete checkpoint is left")
    return max(complete)[2]


@dataclass
class LoadedCheckpoint:
    folder: Path
    iteration: int
    meta: dict[str, Any]
    shared: dict[str, Any]
    per_rank: dict[str, Any]


def _load(file: Path) -> dict[str, Any]:
    obj = load_torch_file(file, "checkpoint file")
    if not isinstance(obj, dict):
        raise CheckpointError(f"{file} is not a vmambair training checkpoint")
    return obj


def read_meta(folder: Path) -> dict[str, Any]:
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"cannot read {folder / 'meta.json'}: {exc}") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{folder / 'meta.json'} is not a JSON object; the checkpoint is damaged")
    return meta


def _count(value: object, what: str, where: Path) -> int:
    """A non-negative integer read from a checkpoint, or a one-line error naming the file and field."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointError(f"{where}: {what} is {value!r}, not a non-negative integer; the checkpoint is damaged")
    return value


def load_checkpoint(folder: Path, env: DistEnv) -> LoadedCheckpoint:
    """Read the shared state and this rank's shard; the world size must be the saved one."""
    meta = read_meta(folder)
    if meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{folder}: checkpoint version {meta.get('version')!r}, this vmambair reads {CHECKPOINT_VERSION}")
    if _count(meta.get("world_size"), "world_size", folder / "meta.json") != env.world_size:
        raise CheckpointError(
            f"{folder} was saved by {meta['world_size']} process(es), this run has {env.world_size}: resume with "
            f"the same number of GPUs/nodes (the per-process data and RNG states are not re-sharded)"
        )
    shared = _load(folder / "state.pt")
    per_rank = _load(folder / f"rank_{env.rank}.pt")
    iteration = _count(shared.get("iteration"), "iteration", folder / "state.pt")
    return LoadedCheckpoint(folder, iteration, meta, shared, per_rank)
