"""The registry of named weights (``weights/registry.json``): what each file is, where it comes from, how good it is.

Version 2 lists **named entries** (``sisr-lite``, ``realsr-lite``, ...) under ``"weights"`` and maps each
task to its default entry under ``"defaults"``. An entry pins its file by SHA-256 (checked before every
use) and carries its model card in data: network config, parameter count, licence, training data, the
exact training command, its wall time and machine, and measured metrics with their convention.

An entry may be registered before its file exists (``bundled``/Hub fields and ``sha256`` all null):
it is listed as ``pending``, and a task whose default is pending behaves as a task without a default.

Version 1 (``"defaults": {task: {"bundled": ..., "sha256": ...}}``) is still read: each inline entry
becomes an entry named after its task.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, ConfigError, WeightsNotFoundError
from ..models import VmambaIRConfig, get_preset
from .formats import WEIGHTS_SUFFIXES

REGISTRY_ENV = "VMAMBAIR_WEIGHTS_REGISTRY"

#: A registry name: lower-case words joined by ``-``, ``_`` or ``.``; never a path or a file name.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


@dataclass(frozen=True)
class Metric:
    """One measured score of an entry, with the convention it was measured under (papers differ on each)."""

    benchmark: str
    psnr: float
    ssim: float | None = None
    baseline: str = "bicubic"
    """The no-network row measured on the same inputs beside it (``bicubic``, ``identity``)."""
    baseline_psnr: float | None = None
    baseline_ssim: float | None = None
    convention: str = "Y (matlab), crop 4"
    """As ``vmambair eval`` prints it (``MetricConvention.describe()``)."""
    command: str = ""
    """The ``vmambair eval`` command that produced the numbers."""

    def __post_init__(self) -> None:
        for name in ("psnr", "ssim", "baseline_psnr", "baseline_ssim"):
            value = getattr(self, name)
            if (value is not None or name == "psnr") and (not isinstance(value, (int, float)) or isinstance(value, bool)):
                raise ConfigError(f"metric {name} must be a number, got {value!r}")
        for name in ("benchmark", "baseline", "convention", "command"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"metric {name} must be a string, got {getattr(self, name)!r}")

    @property
    def gain_db(self) -> float | None:
        return None if self.baseline_psnr is None else self.psnr - self.baseline_psnr


@dataclass(frozen=True)
class WeightsEntry:
    """One registered weights file, pinned by content hash, with its provenance.

    The file is either ``bundled`` (a file beside ``registry.json``, shipped in the wheel) or a Hub
    file (``repo_id``, ``filename``, ``revision``); neither = pending (registered, not published yet).
    ``network`` is the ``VmambaIRConfig`` the file was trained as: the full config, or ``{"preset":
    NAME, ...overrides}``. ``restore_floor_db``: the least PSNR gain over bicubic the shipped-weights
    test demands on a Set5 crop, so a broken or swapped file fails.
    """

    task: str
    name: str = ""
    sha256: str | None = None
    bundled: str | None = None
    repo_id: str | None = None
    filename: str | None = None
    revision: str | None = None
    description: str = ""
    network: dict[str, Any] | None = None
    parameters: int | None = None
    licence: str = ""
    training_data: str = ""
    training_command: str = ""
    wall_time: str = ""
    machine: str = ""
    metrics: tuple[Metric, ...] = ()
    restore_floor_db: float | None = None
    partner: str | None = None
    """The entry at ``--strength 0`` (same network, e.g. the L1 model a GAN model was fine-tuned from)."""
    notes: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        label = self.name or self.task
        if self.name and not is_weights_name(self.name):
            raise ConfigError(f"registry entry {self.name!r}: a name is lower-case letters, digits, '-', '_', '.' "
                              "and never ends in a weights-file extension")
        if self.bundled is not None and self.repo_id is not None:
            raise ConfigError(f"registry entry {label!r}: give either 'bundled' or 'repo_id'/'filename', not both")
        if self.repo_id is not None and (self.filename is None or self.revision is None):
            raise ConfigError(f"registry entry {label!r}: a Hub entry needs 'filename' and a pinned 'revision'")
        if self.published and (self.sha256 is None or not re.fullmatch(r"[0-9a-fA-F]{64}", self.sha256)):
            raise ConfigError(f"registry entry {label!r}: sha256 must be 64 hex digits")
        if not self.published and self.sha256 is not None:
            raise ConfigError(f"registry entry {label!r}: a sha256 without a file ('bundled' or 'repo_id')")
        if self.network is not None:
            self.network_config()  # a bad config is a registry error now, not at first use

    @property
    def published(self) -> bool:
        """A file is named (it may still be missing on disk or not downloaded)."""
        return self.bundled is not None or self.repo_id is not None

    @property
    def location(self) -> str:
        if self.bundled:
            return f"bundled:{self.bundled}"
        if self.repo_id:
            return f"{self.repo_id}/{self.filename}@{self.revision}"
        return "pending (no file yet)"

    def network_config(self) -> VmambaIRConfig | None:
        """The network config the entry declares (None when it declares none)."""
        if self.network is None:
            return None
        fields = dict(self.network)
        preset = fields.pop("preset", None)
        try:
            base = get_preset(preset) if preset else VmambaIRConfig()
            if "num_blocks" in fields:
                fields["num_blocks"] = tuple(fields["num_blocks"])
            return dataclasses.replace(base, **fields)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"registry entry {self.name or self.task!r}: bad network config: {exc}") from None


@dataclass(frozen=True)
class Registry:
    """All named entries and each task's default (an entry name, or None)."""

    entries: dict[str, WeightsEntry]
    defaults: dict[str, str | None]
    path: Path

    def names(self) -> list[str]:
        return list(self.entries)

    def default_entry(self, task: str) -> WeightsEntry | None:
        """The task's default, or None when it has none or its file is not published yet."""
        name = self.defaults.get(task)
        entry = self.entries.get(name) if name else None
        return entry if entry is not None and entry.published else None

    def default_name(self, task: str) -> str | None:
        return self.defaults.get(task)

    def lookup(self, name: str) -> WeightsEntry:
        """The entry called ``name``; an unknown name is a one-line error listing the known ones."""
        entry = self.entries.get(name)
        if entry is None:
            known = ", ".join(self.entries) or "none registered"
            raise WeightsNotFoundError(
                f"unknown weights name {name!r}; known: {known} (`vmambair weights list`); or pass a local "
                ".safetensors/.pth file or a Hub file OWNER/REPO/FILE[@REVISION]"
            )
        return entry


def is_weights_name(spec: str) -> bool:
    """True for a bare registry name (``sisr-lite``): no path separator and no weights-file extension."""
    return bool(_NAME.match(spec)) and not spec.lower().endswith(WEIGHTS_SUFFIXES)


def registry_path() -> Path:
    env = os.environ.get(REGISTRY_ENV)
    if env:
        return Path(env)
    try:
        import vmambair_weights  # noqa: PLC0415
    except ImportError:  # a checkout on PYTHONPATH, not installed (the GPU scripts): its weights/ folder
        return Path(__file__).resolve().parents[2] / "weights" / "registry.json"
    return vmambair_weights.REGISTRY_FILE


def bundled_dir() -> Path:
    return registry_path().parent


_ENTRY_FIELDS = {f.name for f in dataclasses.fields(WeightsEntry)} - {"name"}
_METRIC_FIELDS = {f.name for f in dataclasses.fields(Metric)}


def _entry(name: str, raw: Any, p: Path) -> WeightsEntry:
    if not isinstance(raw, dict):
        raise ConfigError(f"weights registry {p}: entry {name!r} must be an object")
    fields = dict(raw)
    extra = set(fields) - _ENTRY_FIELDS
    if extra:
        raise ConfigError(f"weights registry {p}: unknown field(s) {sorted(extra)} in entry {name!r}")
    raw_metrics = fields.pop("metrics", None) or []
    if not isinstance(raw_metrics, list):
        raise ConfigError(f"weights registry {p}: 'metrics' of entry {name!r} must be a list, got {raw_metrics!r}")
    metrics = []
    try:
        for m in raw_metrics:
            bad = set(m) - _METRIC_FIELDS if isinstance(m, dict) else {"(not an object)"}
            if bad:
                raise ConfigError(f"unknown metric field(s) {sorted(bad)}")
            metrics.append(Metric(**m))
        return WeightsEntry(name=name, metrics=tuple(metrics), **fields)
    except (TypeError, ConfigError) as exc:  # a missing field, or a value of the wrong type
        raise ConfigError(f"weights registry {p}: entry {name!r}: {exc}") from None


def read_registry(path: Path | None = None) -> Registry:
    """Parse and check the registry: named entries under ``weights``, ``defaults`` mapping a task to an entry
    name or null."""
    p = path or registry_path()
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"weights registry {p} is unreadable: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"weights registry {p}: the top level must be a JSON object, got {type(raw).__name__}")
    for key in ("weights", "defaults"):
        if not isinstance(raw.get(key) or {}, dict):
            raise ConfigError(f"weights registry {p}: {key!r} must be a JSON object, got {type(raw[key]).__name__}")
    entries = {name: _entry(name, e, p) for name, e in (raw.get("weights") or {}).items()}
    defaults: dict[str, str | None] = {}
    for task, value in (raw.get("defaults") or {}).items():
        if value is None or isinstance(value, str):
            defaults[task] = value
        else:
            raise ConfigError(f"weights registry {p}: default for {task!r} must be an entry name or null")
    for name, entry in entries.items():
        if entry.partner is not None and (entry.partner not in entries or entries[entry.partner].task != entry.task):
            raise ConfigError(f"weights registry {p}: entry {name!r} names partner {entry.partner!r}, which is not "
                              f"a {entry.task} entry")
    for task, name in defaults.items():
        if name is not None and name not in entries:
            raise ConfigError(f"weights registry {p}: default for {task!r} names {name!r}, which is not an entry")
        if name is not None and entries[name].task != task:
            raise ConfigError(f"weights registry {p}: default for {task!r} is {name!r}, a {entries[name].task} entry")
    return Registry(entries, defaults, p)


def load_registry(path: Path | None = None) -> dict[str, WeightsEntry | None]:
    """Task -> its published default entry (None where there is none yet)."""
    reg = read_registry(path)
    return {task: reg.default_entry(task) for task in reg.defaults}


def sha256_of(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: Path, expected: str, what: str) -> None:
    """Refuse a file whose content is not the pinned one (corrupt download, tampering, wrong file)."""
    got = sha256_of(path)
    if got != expected.lower():
        raise CheckpointError(
            f"{what}: SHA-256 mismatch for {path} (expected {expected[:16]}…, got {got[:16]}…); "
            "the file is corrupt or not the published one — delete it and download again"
        )
