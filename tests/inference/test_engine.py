"""Restorer: whole image by default, tiles after an out-of-memory, TTA, device and precision choices."""

from __future__ import annotations

import io
import sys

import pytest
import torch
from torch import nn

from vmambair_core import memory

from vmambair_core.errors import BackendUnavailableError, ConfigError
from vmambair_core.device import resolve_device, resolve_precision
from tests.fake_cuda import fake_cuda
from vmambair_core.inference import Restorer, engine

FAKE_AVAILABLE = 64 * 2**30


@pytest.fixture(autouse=True)
def _fake_available_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """The engine tiles CPU runs up front from the available memory; the machine's real memory must not
    decide what these tests see, so they see a fake 64 GiB."""
    monkeypatch.setattr(engine, "available_memory_bytes", lambda: FAKE_AVAILABLE)


class _Nearest4(nn.Module):
    """x4 nearest upsampling + a local 3x3 blur: a stand-in network with a known, local answer."""

    scale = 4

    def __init__(self, oom_above: int | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1, bias=False, padding_mode="replicate")
        nn.init.constant_(self.conv.weight, 0.0)
        with torch.no_grad():
            for c in range(3):
                self.conv.weight[c, c] = 1.0 / 9
        self.oom_above = oom_above
        self.calls: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append(tuple(x.shape))
        if self.oom_above is not None and x.shape[-1] * x.shape[-2] > self.oom_above:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return nn.functional.interpolate(self.conv(x), scale_factor=4, mode="nearest")


def test_restorer_settles_device_and_scan_backend_before_the_first_image(monkeypatch: pytest.MonkeyPatch) -> None:
    """The GPU becomes current (pinned staging, kernels on the current device) and auto's kernel self-test
    runs while the device is still empty, not inside the first whole-image scan where an OOM would
    reject the kernels. On the CPU auto's choice waits for scan work that repays it (a small image never
    loads numba)."""
    order: list[str] = []
    monkeypatch.setattr(engine, "set_current_device", lambda device: order.append(f"current {device}"))
    monkeypatch.setattr(engine, "resolve_backend", lambda backend, device, dtype=None: order.append(
        f"{backend} on {device} {dtype}"))
    net = _Nearest4()
    net.scan_backend = "auto"
    Restorer(net, torch.device("cpu"), precision="bf16")
    assert order == ["current cpu"] and net.calls == []
    order.clear()
    fake_cuda(monkeypatch, 1)
    monkeypatch.setattr(net, "to", lambda device: net)  # no real GPU to move it to
    Restorer(net, torch.device("cuda", 0), precision="bf16")
    assert order == ["current cuda:0", "auto on cuda:0 torch.bfloat16"] and net.calls == []


def test_whole_image_then_tiles_after_oom() -> None:
    assert engine.available_memory_bytes() == FAKE_AVAILABLE
    x = torch.rand(1, 3, 64, 48)
    ref = Restorer(_Nearest4(), torch.device("cpu"))(x)
    net = _Nearest4(oom_above=40 * 40)
    r = Restorer(net, torch.device("cpu"), overlap=16)
    y = r(x)
    assert r.last.tile is not None and r.last.tile * r.last.tile <= 40 * 40 and r.last.backoffs >= 1
    assert net.calls[0] == (1, 3, 64, 48)  # the whole image was tried first
    assert torch.allclose(y, ref, atol=1e-5)  # overlap > receptive field: tiles are exact


def test_explicit_tile_and_clamp() -> None:
    x = torch.rand(2, 3, 30, 50) * 1.5 - 0.25
    y = Restorer(_Nearest4(), torch.device("cpu"), tile=24, overlap=8)(x)
    assert y.shape == (2, 3, 120, 200) and y.min() >= 0 and y.max() <= 1


def test_tta_of_an_equivariant_net_equals_plain_run() -> None:
    x = torch.rand(1, 3, 16, 24)
    plain = Restorer(_Nearest4(), torch.device("cpu"))(x)
    tta = Restorer(_Nearest4(), torch.device("cpu"), tta=True)(x)
    assert torch.allclose(plain, tta, atol=1e-6)


def test_tile_not_larger_than_overlap_is_refused() -> None:
    with pytest.raises(ConfigError, match="larger than --tile-overlap"):
        Restorer(_Nearest4(), torch.device("cpu"), tile=16, overlap=32)


def test_device_and_precision_resolution() -> None:
    assert resolve_device("cpu").type == "cpu"
    assert resolve_precision("auto", torch.device("cpu")) == torch.float32
    assert resolve_precision("bf16", torch.device("cpu")) == torch.bfloat16
    with pytest.raises(ConfigError):
        resolve_precision("fp8", torch.device("cpu"))
    with pytest.raises(ConfigError, match="fp16 is for GPUs"):
        resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(ConfigError):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(BackendUnavailableError, match="no CUDA GPU"):
            resolve_device("cuda:0")


def test_cpu_picks_tiles_up_front_when_memory_is_short(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the CPU an out-of-memory kills the process, so the tile is chosen before running."""
    x = torch.rand(1, 3, 96, 80)
    whole = Restorer(_Nearest4(), torch.device("cpu"))(x)
    # memory for ~48x48 pixels at the SR rate, doubled by the 50% budget
    monkeypatch.setattr(engine, "available_memory_bytes", lambda: 2 * 48 * 48 * engine.BYTES_PER_PIXEL["sr"])
    net = _Nearest4()
    r = Restorer(net, torch.device("cpu"), overlap=16)
    y = r(x)
    assert r.last.tile == 48 and r.last.backoffs == 0
    assert max(max(c[-2:]) for c in net.calls) <= 48  # never the whole image
    assert torch.allclose(y, whole, atol=1e-5)
    monkeypatch.setattr(engine, "available_memory_bytes", lambda: None)  # unknown memory: whole image
    assert engine.cpu_tile_for(x, "sr") is None


def test_cpu_allocator_failure_counts_as_out_of_memory() -> None:
    from vmambair_core.inference.tiling import is_out_of_memory

    err = RuntimeError("[enforce fail at alloc_cpu.cpp:121] DefaultCPUAllocator: can't allocate memory: you tried to allocate 1 bytes")
    assert is_out_of_memory(err)
    assert not is_out_of_memory(RuntimeError("shape mismatch"))


def test_tile_0_is_automatic() -> None:
    x = torch.rand(1, 3, 16, 24)
    r = Restorer(_Nearest4(), torch.device("cpu"), tile=0)
    assert r.tile is None and torch.allclose(r(x), Restorer(_Nearest4(), torch.device("cpu"))(x))
    for bad in (4, -1):
        with pytest.raises(ConfigError, match="--tile must be 0 \\(automatic\\) or at least 8"):
            Restorer(_Nearest4(), torch.device("cpu"), tile=bad)


def _no_proc(monkeypatch: pytest.MonkeyPatch, platform: str) -> None:
    """A machine without /proc/meminfo (macOS, Windows)."""
    def no_file(file: object, *args: object, **kwargs: object) -> io.StringIO:
        raise FileNotFoundError(file)

    monkeypatch.setattr(memory, "open", no_file, raising=False)
    monkeypatch.setattr(memory.sys, "platform", platform)
    monkeypatch.setattr(engine, "available_memory_bytes", memory.available_memory_bytes)  # the real one, faked below
    monkeypatch.setitem(sys.modules, "psutil", None)  # where psutil is installed it would answer first


def test_available_memory_on_macos_uses_sysconf(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_proc(monkeypatch, "darwin")
    values = {"SC_PHYS_PAGES": 2_000_000, "SC_PAGE_SIZE": 16384}  # macOS has no SC_AVPHYS_PAGES

    def sysconf(name: str) -> int:
        if name not in values:
            raise ValueError(f"unrecognized configuration name {name!r}")
        return values[name]

    monkeypatch.setattr(memory.os, "sysconf", sysconf)
    assert engine.available_memory_bytes() == 2_000_000 * 16384
    values["SC_AVPHYS_PAGES"] = 500_000  # where the available count exists, it wins
    assert engine.available_memory_bytes() == 500_000 * 16384
    monkeypatch.delattr(memory.os, "sysconf")
    assert engine.available_memory_bytes() is None
    assert engine.cpu_tile_for(torch.rand(1, 3, 64, 64), "sr") is None  # unknown: the whole image


def test_available_memory_on_windows_uses_global_memory_status(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    _no_proc(monkeypatch, "win32")
    monkeypatch.delattr(memory.os, "sysconf", raising=False)  # Windows has none

    class _Kernel32:
        @staticmethod
        def GlobalMemoryStatusEx(ref: object) -> int:  # noqa: N802 - the Win32 name
            status = ref._obj  # type: ignore[attr-defined]
            assert status.dwLength == ctypes.sizeof(status)
            status.ullAvailPhys = 6 * 2**30
            return 1

    monkeypatch.setattr(ctypes, "windll", type("W", (), {"kernel32": _Kernel32})(), raising=False)
    assert engine.available_memory_bytes() == 6 * 2**30
    x = torch.rand(1, 3, 800, 800)  # 0.64 MP x 24 KB > half of 6 GiB: tiled up front
    assert engine.cpu_tile_for(x, "sr") == int((3 * 2**30 / engine.BYTES_PER_PIXEL["sr"]) ** 0.5) // 8 * 8
