"""Devices and precisions: one home (``vmambair_core.device``), CUDA devices always carry an index.

No GPU is needed: ``torch.device("cuda")`` and ``torch.device("cuda:0")`` are plain values, and the CUDA
queries ``resolve_device`` makes are replaced by a pretend machine with two GPUs, the second current.
"""

from __future__ import annotations

import pytest
import torch

from vmambair_core import device as device_module
from vmambair_core.device import (
    PRECISIONS,
    autocast_for,
    precision_name,
    resolve_device,
    resolve_precision,
    same_device,
    set_current_device,
    with_index,
)
from vmambair_core.errors import ConfigError
from tests.fake_cuda import fake_cuda


@pytest.fixture
def two_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 1)


def test_index_less_devices_differ_in_torch() -> None:
    """Why the module exists: torch compares devices literally, tensors report an index."""
    assert torch.device("cuda") != torch.device("cuda:0")


@pytest.mark.usefixtures("two_gpus")
def test_resolved_cuda_devices_carry_the_current_index() -> None:
    assert resolve_device("cuda") == torch.device("cuda", 1)
    assert resolve_device("auto") == torch.device("cuda", 1)
    assert resolve_device("cuda:0") == torch.device("cuda", 0)
    assert resolve_device(" CPU ") == torch.device("cpu")


def test_same_device_compares_type_and_index() -> None:
    cuda, cuda0, cuda1, cpu = (torch.device(s) for s in ("cuda", "cuda:0", "cuda:1", "cpu"))
    assert same_device(cuda, cuda0, current=0) and same_device(cuda0, cuda, current=0)
    assert not same_device(cuda, cuda1, current=0)
    assert same_device(cuda, cuda1, current=1)
    assert not same_device(cuda0, cuda1) and not same_device(cpu, cuda0) and not same_device(cuda, cpu)
    assert same_device(cpu, torch.device("cpu", 0))
    assert with_index(cuda, current=3) == torch.device("cuda", 3) and with_index(cuda1) == cuda1
    assert with_index(torch.device("meta")) == torch.device("meta")


def test_degradation_checks_accept_the_index_less_form(monkeypatch: pytest.MonkeyPatch) -> None:
    """The realsr/derain device checks go through ``same_device``: on one GPU an unindexed ``cuda`` and
    ``cuda:0`` are the same device, which a plain ``==`` denies (single-GPU training was refused once)."""
    import vmambair_core.data.degrade.realesrgan as deg
    import vmambair_core.data.degrade.rain as rain

    seen = []

    def spy(a: torch.device, b: torch.device, current: int | None = None) -> bool:
        seen.append((a, b))
        return True

    monkeypatch.setattr(deg, "same_device", spy)
    monkeypatch.setattr(rain, "same_device", spy)
    g = torch.Generator().manual_seed(0)
    rain.add_rain(torch.rand(1, 3, 32, 32), rain.RainConfig(), g)
    cfg = deg.DegradationConfig()
    side = -(-cfg.min_hr_size() // cfg.scale) * cfg.scale
    deg._check_inputs(torch.rand(1, 3, side, side), cfg, g)
    assert seen == [(torch.device("cpu"), torch.device("cpu"))] * 2


def test_precisions() -> None:
    assert PRECISIONS == ("auto", "fp32", "bf16", "fp16")
    cpu = torch.device("cpu")
    assert [resolve_precision(p, cpu) for p in ("auto", "fp32", "bf16")] == [torch.float32, torch.float32, torch.bfloat16]
    assert [precision_name(d) for d in (torch.float32, torch.bfloat16, torch.float16)] == ["fp32", "bf16", "fp16"]
    with pytest.raises(ConfigError, match="unknown precision 'fp8'"):
        resolve_precision("fp8", cpu)
    with pytest.raises(ConfigError, match="precision fp16 is for GPUs"):
        resolve_precision("fp16", cpu)


def test_autocast_only_below_fp32() -> None:
    cpu = torch.device("cpu")
    a = torch.rand(4, 4)
    with autocast_for(cpu, torch.float32):
        assert (a @ a).dtype == torch.float32
    with autocast_for(cpu, torch.bfloat16):
        assert (a @ a).dtype == torch.bfloat16


def test_one_home() -> None:
    """No other module defines its own precision list or device resolver."""
    import vmambair_core.bench as bench
    import vmambair_core.inference.engine as engine
    import vmambair_core.train.config as train_config

    assert train_config.Precision is device_module.Precision
    assert not hasattr(bench, "PRECISIONS") and engine.resolve_precision is device_module.resolve_precision


@pytest.mark.parametrize(("capability", "expected"), [
    ((7, 0), torch.float16), ((7, 5), torch.float16), ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)])
def test_auto_precision_follows_the_chosen_gpus_capability(monkeypatch: pytest.MonkeyPatch, capability: tuple[int, int],
                                                           expected: torch.dtype) -> None:
    """V100/T4 (sm_70/75) emulate bf16 (torch.cuda.is_bf16_supported() still says yes): auto is fp16 there,
    with training's GradScaler; and the GPU asked about is the chosen one, not the current one."""
    cuda = fake_cuda(monkeypatch, 2, capability=capability)
    asked: list[object] = []
    real = torch.cuda.get_device_capability
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: asked.append(device) or real(device))
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # what torch answers on sm_70/75
    assert resolve_precision("auto", torch.device("cuda", 1)) == expected
    assert asked == [torch.device("cuda", 1)] and cuda.current == 0
    assert resolve_precision("bf16", torch.device("cuda", 1)) == torch.bfloat16  # asked for by name: as asked


def test_set_current_device_makes_the_chosen_gpu_current(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = fake_cuda(monkeypatch, 2)
    set_current_device(torch.device("cuda", 1))
    set_current_device(torch.device("cpu"))  # nothing to do on the CPU
    assert cuda.set_device_calls == [1] and cuda.current == 1
    set_current_device(torch.device("cuda"))  # index-less: the current one stays current
    assert cuda.current == 1


def test_mps_is_chosen_and_runs_the_reference_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apple's MPS faked as present (this machine has none): auto picks it after CUDA, the scan is the
    pure-PyTorch reference, precision auto is fp32; without MPS asking for it is one clear error."""
    from vmambair_core.errors import BackendUnavailableError
    from vmambair_core.scan import clear_backend_cache, resolve_backend

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    clear_backend_cache()
    try:
        assert resolve_device("auto") == torch.device("mps") == resolve_device("mps")
        assert resolve_backend("auto", torch.device("mps"), torch.float32) == "reference"
        assert resolve_precision("auto", torch.device("mps")) == torch.float32
        monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
        assert resolve_device("auto") == torch.device("cpu")
        with pytest.raises(BackendUnavailableError, match="MPS is not available"):
            resolve_device("mps")
    finally:
        clear_backend_cache()
