"""Shared test fixtures: the read-only data folder that sits beside the checkout (../shared)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("VMAMBAIR_SHARED", REPO.parent / "shared"))

# Two cores: keep intra-op threads bounded so parallel helpers and CI stay predictable.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The project's read-only ground truth (spec, data, notes); CI copies it beside the clone."""
    if not (SHARED / "data").is_dir():
        pytest.skip(f"shared data folder not found at {SHARED} (set VMAMBAIR_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def spec_dir(shared_dir: Path) -> Path:
    return shared_dir / "spec"


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    return shared_dir / "data"


HUB_COMMIT = "0123456789abcdef0123456789abcdef01234567"


class HubCache:
    """A pre-filled Hugging Face cache laid out as huggingface_hub itself writes it, used offline."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def add(self, repo_id: str, filename: str, payload: Path) -> Path:
        repo_dir = self.root / f"models--{repo_id.replace('/', '--')}"
        snap = repo_dir / "snapshots" / HUB_COMMIT / filename
        snap.parent.mkdir(parents=True, exist_ok=True)
        snap.write_bytes(payload.read_bytes())
        (repo_dir / "refs").mkdir(exist_ok=True)
        (repo_dir / "refs" / "main").write_text(HUB_COMMIT)
        return snap


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HubCache:
    """Point huggingface_hub at an empty temporary cache in offline mode.

    huggingface_hub reads HF_HUB_CACHE/HF_HUB_OFFLINE into constants when first imported, so both the
    environment (for subprocesses and our own offline check) and the constants are set.
    """
    import huggingface_hub.constants as hf_constants

    root = tmp_path / "hf-hub-cache"
    root.mkdir()
    monkeypatch.setenv("HF_HUB_CACHE", str(root))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(root))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    return HubCache(root)
