"""Turn what the user typed for ``--weights`` (or nothing) into a verified local file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError, WeightsNotFoundError
from ..tasks import TASKS
from ..models import VmambaIRConfig, get_preset
from .detect import check_state_dict
from .formats import META_PRESET, META_TASK, read_weights, write_safetensors
from .metadata import check_file_task
from .hub import HubRef, cached_path, hub_download
from .registry import WeightsEntry, bundled_dir, read_registry, sha256_of, verify_sha256
from .spec import classify_spec


@dataclass(frozen=True)
class ResolvedWeights:
    path: Path
    origin: str  # 'local', 'hub', 'bundled', 'registry:hub'
    description: str  # human-readable provenance for logs and JSON output
    sha256_verified: bool
    name: str | None = None  # the registry entry's name, when the file is one


def _entry_file(entry: WeightsEntry, *, local_files_only: bool | None) -> tuple[Path, str]:
    if entry.bundled:
        return bundled_dir() / entry.bundled, "bundled"
    ref = HubRef(entry.repo_id or "", entry.filename or "", entry.revision)
    return hub_download(ref, local_files_only=local_files_only), "registry:hub"


def _resolve_entry(entry: WeightsEntry, what: str, *, local_files_only: bool | None) -> ResolvedWeights:
    """An entry's file, fetched if it is on the Hub, present and SHA-256-verified."""
    path, origin = _entry_file(entry, local_files_only=local_files_only)
    if not path.is_file():
        raise WeightsNotFoundError(f"{what} ({entry.location}) are missing at {path}")
    verify_sha256(path, entry.sha256 or "", what)
    # A bundled entry is its name ("bundled" follows once, as the origin); a Hub entry also names its file.
    if entry.name and entry.bundled:
        label = entry.name
    elif entry.name and entry.name != entry.task:
        label = f"{entry.name} ({entry.location})"
    else:
        label = entry.location
    return ResolvedWeights(path, origin, label, True, entry.name or None)


def resolve_named(task: str, name: str, *, local_files_only: bool | None = None) -> ResolvedWeights:
    """``--weights NAME``: a registry entry by name, checked against the task and pinned by SHA-256."""
    entry = read_registry().lookup(name)
    declared = entry.network_config()
    if task not in (entry.task, declared.name if declared is not None else None):
        raise CheckpointError(f"weights '{name}' are {entry.task} weights, not {task}; use --task {entry.task} "
                              "or other weights")
    if not entry.published:
        raise WeightsNotFoundError(f"weights '{name}' are registered but not published yet (no file); pass "
                                   "--weights with a local .safetensors/.pth file or a Hub file hf://OWNER/REPO/FILE[@REVISION]")
    return _resolve_entry(entry, f"weights '{name}'", local_files_only=local_files_only)


def resolve_weights(
    task: str, spec: str | os.PathLike[str] | None = None, *, local_files_only: bool | None = None
) -> ResolvedWeights:
    """``spec``: None (the task's registry default), a local file, a registry name (``sisr-lite``), or a Hub file (``hf://OWNER/REPO/FILE[@REV]``;
    see :func:`~vmambair_core.weights.spec.classify_spec` for how a value is read)."""
    if spec is None:
        entry = read_registry().default_entry(task)
        if entry is None:
            raise WeightsNotFoundError(
                f"no default weights are published for task '{task}' yet; pass --weights with a local "
                ".safetensors/.pth file (e.g. the authors' net_g_*.pth) or a Hub file hf://OWNER/REPO/FILE[@REVISION]"
            )
        return _resolve_entry(entry, f"default weights for '{task}'", local_files_only=local_files_only)
    target = classify_spec(spec)
    if isinstance(target, Path):
        return _local_file(target, spec)
    if isinstance(target, HubRef):
        path = hub_download(target, local_files_only=local_files_only)
        return ResolvedWeights(path, "hub", str(target), _verify_if_registered(path, target))
    return resolve_named(task, target, local_files_only=local_files_only)


DEFAULT_TASK = "realsr"
"""What ``restore`` does without ``--task`` or weights that say otherwise: photos -> real-world x4 SR."""


def infer_task(spec: str | os.PathLike[str] | None) -> tuple[str, str]:
    """The task a ``restore`` without ``--task`` runs, and why: (task, reason for the first line).

    A registry name declares its task; a ``.safetensors`` export carries it in its metadata (read from
    the header only). Anything else (the authors' ``.pth``, a Hub file, no weights) gets
    :data:`DEFAULT_TASK`; a mismatch then fails at loading with an error naming the preset it looks like.
    """
    if spec is None:
        return DEFAULT_TASK, "the default task"
    target = classify_spec(spec)
    if isinstance(target, str):
        return read_registry().lookup(target).task, f"the task of weights '{target}'"
    if isinstance(target, Path) and target.suffix.lower() == ".safetensors" and target.is_file():
        task = _safetensors_task(target)
        if task is not None:
            return task, f"the task stored in {target.name}"
    return DEFAULT_TASK, "the default task (pass --task for other weights)"


def _safetensors_task(path: Path) -> str | None:
    from safetensors import SafetensorError, safe_open  # noqa: PLC0415

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError):
        return None  # unreadable: loading reports it properly
    task = meta.get(META_TASK)
    return task if task in TASKS else None


def _local_file(path: Path, spec: str | os.PathLike[str]) -> ResolvedWeights:
    """An existing local weights file; a missing one is ``file not found: PATH`` (never a Hub request)."""
    if not path.exists():
        raise WeightsNotFoundError(f"file not found: {path}")
    if not path.is_file():
        raise CheckpointError(f"--weights {spec}: is a folder, not a weights file")
    return ResolvedWeights(path, "local", str(path), _verify_if_registered(path))


def _verify_if_registered(path: Path, ref: HubRef | None = None) -> bool:
    """A file the registry names (same Hub file, or same bundled name) must carry the pinned hash."""
    for entry in read_registry().entries.values():
        if not entry.published:
            continue
        same_hub = ref is not None and (entry.repo_id, entry.filename) == (ref.repo_id, ref.filename) and (
            ref.revision in (None, entry.revision)
        )
        same_bundled = entry.bundled is not None and path.resolve() == (bundled_dir() / entry.bundled).resolve()
        if same_hub or same_bundled:
            verify_sha256(path, entry.sha256 or "", f"weights {entry.location}")
            return True
    return False


def convert_checkpoint(
    src: str | Path, dst: str | Path, task: str | VmambaIRConfig, *, half: bool = False
) -> tuple[Path, str, str | None]:
    """Authors' ``.pth`` (or any supported file) -> validated ``.safetensors`` with task metadata.

    Returns (path, sha256, container key used). ``half`` stores float16 (half the size; the network
    computes in float32 after loading).
    """
    cfg = task if isinstance(task, VmambaIRConfig) else get_preset(task)
    task = cfg.name
    w = read_weights(src)
    check_file_task(w, cfg)
    check_state_dict(w.state_dict, cfg, str(src))
    sd = {k: (v.half() if half and v.is_floating_point() else v) for k, v in w.state_dict.items()}
    meta = {META_PRESET: task, META_TASK: task, "vmambair.source": Path(src).name}
    if w.container_key:
        meta["vmambair.source_key"] = w.container_key
    out = write_safetensors(sd, dst, meta)
    return out, sha256_of(out), w.container_key


def entry_status(entry: WeightsEntry) -> str:
    """'bundled', 'cached', 'not cached', 'missing' or 'pending' (registered, no file yet)."""
    if not entry.published:
        return "pending"
    if entry.bundled:
        return "bundled" if (bundled_dir() / entry.bundled).is_file() else "missing"
    found = cached_path(HubRef(entry.repo_id or "", entry.filename or "", entry.revision))
    return "cached" if found else "not cached"


def cache_status(task: str) -> str:
    """Status of the task's default (``entry_status``), or 'unpublished' when it has none."""
    entry = read_registry().default_entry(task)
    return "unpublished" if entry is None else entry_status(entry)
