"""Attacks that used to end in a traceback: malformed registries, absurd bench sizes; now one line each."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmambair_core.bench import measure as bench
from vmambair_core.errors import ConfigError, DeviceMemoryError
from vmambair_core.models import tiny_config
from vmambair_core.weights.registry import REGISTRY_ENV, read_registry

from .attacks import BAD_REGISTRIES, cli, one_line_error, png, tiny_weights, write_json


@pytest.mark.parametrize(("document", "phrase"), BAD_REGISTRIES)
def test_a_malformed_registry_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, document: object, phrase: str
) -> None:
    registry = write_json(tmp_path / "registry.json", document)
    with pytest.raises(ConfigError, match=f"weights registry {registry}"):
        read_registry(registry)
    monkeypatch.setenv(REGISTRY_ENV, str(registry))
    assert phrase in one_line_error(cli("weights", "list"))
    image = png(tmp_path / "a.png")
    weights = tiny_weights(tmp_path / "w.safetensors")
    assert phrase in one_line_error(cli("restore", image, "-o", tmp_path / "out", "-t", "sisr", "-w", weights))


def test_bench_sizes_beyond_any_image_are_refused_up_front() -> None:
    assert "more than the 134,217,728 an image may have" in one_line_error(
        cli("bench", "--sizes", "100000", "--preset", "realsr", "--device", "cpu"))


def test_bench_out_of_memory_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def exhausted(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 120000000000 bytes")

    monkeypatch.setattr(bench, "bench_case", exhausted)
    with pytest.raises(DeviceMemoryError, match="at 8x8 .* does not fit in cpu memory"):
        bench.run_bench([tiny_config("sisr", dim=2, blocks=0)], [8], device="cpu", repeats=1, warmup=0)
