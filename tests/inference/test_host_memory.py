"""Tiled restore for large photos on small GPUs: host-side buffers, and which out-of-memory errors shrink tiles.

The "GPU" here is PyTorch's ``meta`` device: tensors there have shapes but no storage, so the stand-in
network records what it was given (where, how big) and answers with host tensors of the right shape.
A buffer that ended up on the network's device would make the result a meta tensor. The allocator
limit is simulated by raising ``torch.OutOfMemoryError`` above a tile area.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.inference.test_engine import _Nearest4
from vmambair_core.errors import DeviceMemoryError
from vmambair_core.inference import Restorer, run_tiled
from vmambair_core.inference import tiling

META = torch.device("meta")
CPU = torch.device("cpu")


class _OnDevice(nn.Module):
    """x4 'network' on a storage-less device: records its inputs, fails above ``limit`` pixels."""

    scale = 4

    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        self.limit = limit
        self.seen: list[tuple[torch.device, tuple[int, ...]]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((x.device, tuple(x.shape)))
        if self.limit is not None and x.shape[-2] * x.shape[-1] > self.limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.30 GiB")
        return torch.full((x.shape[0], 3, x.shape[-2] * 4, x.shape[-1] * 4), 0.5)


def test_only_tile_batches_reach_the_network_device() -> None:
    x = torch.rand(1, 3, 100, 70)
    seen: list[tuple[torch.device, tuple[int, ...]]] = []

    def fn(t: torch.Tensor) -> torch.Tensor:
        seen.append((t.device, tuple(t.shape)))
        return torch.ones(t.shape[0], 3, t.shape[-2] * 2, t.shape[-1] * 2)

    y = run_tiled(fn, x, scale=2, tile=32, overlap=8, tiles_per_batch=2, device=META)
    assert y.device == CPU and y.shape == (1, 3, 200, 140)
    assert torch.allclose(y, torch.ones_like(y))  # blended on the host: the windows sum to one
    assert {d for d, _ in seen} == {META} and len(seen) > 4
    assert all(s[0] <= 2 and s[-2:] == (32, 32) for _, s in seen)


def test_restorer_keeps_image_and_output_on_the_host() -> None:
    net = _OnDevice(limit=48 * 48)
    r = Restorer(net, META, overlap=16, min_tile=16)
    y = r(torch.rand(1, 3, 96, 80))
    assert y.device == CPU and y.shape == (1, 3, 384, 320)
    assert net.seen[0] == (META, (1, 3, 96, 80))  # the whole image was tried first, on the device
    assert all(d == META for d, _ in net.seen) and r.last.tile is not None and r.last.tile**2 <= 48 * 48


def test_tta_falls_back_once_per_image() -> None:
    x = torch.rand(1, 3, 64, 48)
    net = _Nearest4(oom_above=40 * 40)
    r = Restorer(net, CPU, overlap=16, tta=True)
    y = r(x)
    too_big = [c for c in net.calls if c[-1] * c[-2] > 40 * 40]
    assert too_big == [(1, 3, 64, 48)]  # one whole-image attempt, not one per pass
    assert r.last.backoffs == 1 and r.last.tile is not None and r.last.tile**2 <= 40 * 40
    ref = Restorer(_Nearest4(), CPU)(x)
    assert torch.allclose(y, ref, atol=1e-5)  # equivariant net, overlap > receptive field


def test_out_of_memory_outside_the_network_does_not_shrink_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_host_memory(shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 2469396480 bytes")

    monkeypatch.setattr(tiling, "host_buffer", no_host_memory)
    net = _OnDevice()
    with pytest.raises(DeviceMemoryError, match="outside the network"):
        Restorer(net, META, tile=32, overlap=8, min_tile=8)(torch.rand(1, 3, 64, 64))
    assert [s[-1] for _, s in net.seen] == [32]  # one tile batch, then the error: no halving


def test_host_out_of_memory_in_tta_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from vmambair_core.inference import engine

    def no_memory(y: torch.Tensor, k: int) -> torch.Tensor:
        raise RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 2469396480 bytes")

    monkeypatch.setattr(engine, "_dihedral_inverse", no_memory)
    net = _OnDevice()
    with pytest.raises(DeviceMemoryError, match="outside the network \\(whole image"):
        Restorer(net, META, tta=True)(torch.rand(1, 3, 16, 16))
    assert len(net.seen) == 1  # the network ran once; nothing was retried with tiles
