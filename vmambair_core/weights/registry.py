"""The registry of default weights per task (``weights/registry.json``) and where each file comes from."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import CheckpointError, ConfigError

REGISTRY_ENV = "VMAMBAIR_WEIGHTS_REGISTRY"


@dataclass(frozen=True)
class WeightsEntry:
    """One published weights file, pinned by content hash.

    Either ``bundled`` (a file shipped in ``weights/``) or a Hub file (``repo_id``, ``filename``,
    ``revision``). ``sha256`` is checked before every use.
    """

    task: str
    sha256: str
    bundled: str | None = None
    repo_id: str | None = None
    filename: str | None = None
    revision: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if len(self.sha256) != 64:
            raise ConfigError(f"registry entry for {self.task!r}: sha256 must be 64 hex digits")
        if (self.bundled is None) == (self.repo_id is None):
            raise ConfigError(f"registry entry for {self.task!r}: give either 'bundled' or 'repo_id'/'filename'")
        if self.repo_id is not None and (self.filename is None or self.revision is None):
            raise ConfigError(f"registry entry for {self.task!r}: a Hub entry needs 'filename' and a pinned 'revision'")

    @property
    def location(self) -> str:
        if self.bundled:
            return f"bundled:{self.bundled}"
        return f"{self.repo_id}/{self.filename}@{self.revision}"


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


def load_registry(path: Path | None = None) -> dict[str, WeightsEntry | None]:
    """Task -> default entry (None where nothing is published yet)."""
    p = path or registry_path()
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"weights registry {p} is unreadable: {exc}") from None
    out: dict[str, WeightsEntry | None] = {}
    for task, entry in raw.get("defaults", {}).items():
        if entry is None:
            out[task] = None
            continue
        known = {"sha256", "bundled", "repo_id", "filename", "revision", "description"}
        extra = set(entry) - known
        if extra:
            raise ConfigError(f"weights registry {p}: unknown field(s) {sorted(extra)} for task {task!r}")
        out[task] = WeightsEntry(task=task, **entry)
    return out


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
