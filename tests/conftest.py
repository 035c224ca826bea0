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
