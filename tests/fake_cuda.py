"""A CPU stand-in for PyTorch's CUDA runtime state: device count, current device, generators, capability.

Patches the module-level functions torch's own CUDA helpers look up (``torch.cuda`` and the names
``torch.cuda.random`` imported from it), so torch's real code runs against N fake GPUs: indexing past
the visible devices raises the IndexError a real machine with fewer GPUs raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch


class FakeGenerator:
    """One GPU's default generator: a state tensor, read and written like ``torch.Generator``'s."""

    def __init__(self, seed: int) -> None:
        self.state = torch.full((16,), seed, dtype=torch.uint8)

    def get_state(self) -> torch.Tensor:
        return self.state.clone()

    def set_state(self, state: torch.Tensor) -> None:
        self.state = state.clone()


@dataclass
class FakeCuda:
    count: int
    capability: tuple[int, int] = (9, 0)
    current: int = 0
    generators: tuple[FakeGenerator, ...] = ()
    set_device_calls: list[int] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> FakeCuda:
        self.generators = tuple(FakeGenerator(10 + i) for i in range(self.count))
        for module in (torch.cuda, torch.cuda.random):
            monkeypatch.setattr(module, "is_initialized", lambda: True)
            monkeypatch.setattr(module, "_lazy_init", lambda: None)
            monkeypatch.setattr(module, "current_device", lambda: self.current)
            monkeypatch.setattr(module, "device_count", lambda: self.count)
        monkeypatch.setattr(torch.cuda, "is_available", lambda: self.count > 0)
        monkeypatch.setattr(torch.cuda, "default_generators", self.generators)
        monkeypatch.setattr(torch.cuda, "set_device", self._set_device)
        monkeypatch.setattr(torch.cuda, "get_device_capability", self._capability)
        return self

    def _index(self, device: torch.device | int | str | None) -> int:
        if device is None:
            return self.current
        index = device if isinstance(device, int) else torch.device(device).index
        index = self.current if index is None else index
        if not 0 <= index < self.count:
            raise RuntimeError(f"CUDA error: invalid device ordinal {index}")
        return index

    def _set_device(self, device: torch.device | int | str) -> None:
        self.current = self._index(device)
        self.set_device_calls.append(self.current)

    def _capability(self, device: torch.device | int | str | None = None) -> tuple[int, int]:
        self._index(device)
        return self.capability


def fake_cuda(monkeypatch: pytest.MonkeyPatch, count: int, **kwargs: object) -> FakeCuda:
    """Install ``count`` fake GPUs for the rest of the test."""
    return FakeCuda(count, **kwargs).install(monkeypatch)  # type: ignore[arg-type]
