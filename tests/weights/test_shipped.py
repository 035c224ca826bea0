"""The weights this checkout ships (``weights/registry.json``): each published entry loads and restores.

For every entry with a file: SHA-256 verified on load, the file's network is the one the entry declares
with its parameter count, the model card is complete, and on a real image the network beats the no-network
baseline by the entry's ``restore_floor_db`` (a broken, truncated-to-noise or swapped file fails; a sisr
file under the realsr name fails too). Entries without a file yet are skipped, so this module passes
(skipped) until the first weights are committed.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vmambair_core.data.resize import imresize, modcrop
from vmambair_core.evaluate.benchmarks import BENCHMARKS
from vmambair_core.evaluate.synthetic import degrade_one
from vmambair_core.metrics.psnr_ssim import psnr
from vmambair_core.weights import load, read_weights
from vmambair_core.weights.metadata import config_from_metadata
from vmambair_core.weights.registry import REGISTRY_ENV, Registry, WeightsEntry, bundled_dir, read_registry

REGISTRY = Path(__file__).resolve().parents[2] / "weights" / "registry.json"
LITE_MAX_BYTES = 8 << 20  # "a few MB in all": each lite file stays small enough for the wheel


def _registry() -> Registry:
    return read_registry(REGISTRY)


def _published() -> list[object]:
    entries = [e for e in _registry().entries.values() if e.published]
    if not entries:
        return [pytest.param(None, marks=pytest.mark.skip(reason="weights/registry.json has no published file yet"))]
    return [pytest.param(e, id=e.name) for e in entries]


@pytest.fixture(autouse=True)
def _this_checkouts_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The checkout's registry and bundled files, not those of another installed copy."""
    monkeypatch.setenv(REGISTRY_ENV, str(REGISTRY))


def test_registry_parses_and_every_task_default_is_an_entry_of_that_task() -> None:
    reg = _registry()
    for task, name in reg.defaults.items():
        assert name is None or reg.entries[name].task == task
    for e in reg.entries.values():
        assert e.name and e.licence and e.training_data and e.training_command, e.name
        if e.bundled is not None:  # pyproject ships weights/*.safetensors (package data) and nothing else
            assert e.bundled.endswith(".safetensors") and "/" not in e.bundled, e.bundled
            assert (REGISTRY.parent / e.bundled).is_file(), f"{e.name}: {e.bundled} is not committed in weights/"


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def _cases(task: str, data_dir: Path) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(LQ, GT, baseline output) on small real crops, per task."""
    if task == "derain":
        rain = _rgb(data_dir / "derain/Rain100H_test/rain/norain-1.png")[:96, :96]
        clean = _rgb(data_dir / "derain/Rain100H_test/norain/norain-1.png")[:96, :96]
        return [(rain, clean, rain)]
    out = []
    for name, (top, left) in (("butterfly", (40, 40)), ("bird", (60, 60))):
        gt = modcrop(_rgb(data_dir / f"sr/Set5/HR/{name}.png")[top : top + 192, left : left + 192], 4)
        lq = imresize(gt, 0.25) if task == "sisr" else degrade_one(gt, BENCHMARKS["BSD100-realesrgan"].synthetic, name)
        out.append((lq, gt, imresize(lq, 4)))
    return out


def _restore(net: torch.nn.Module, lq: np.ndarray) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(lq.transpose(2, 0, 1))).float()[None] / 255.0
    with torch.no_grad():
        y = net(x)[0].clamp(0, 1).permute(1, 2, 0).numpy()
    return np.rint(y * 255.0).astype(np.uint8)


@pytest.mark.parametrize("entry", _published())
def test_shipped_weights_load_and_beat_the_baseline(entry: WeightsEntry, data_dir: Path) -> None:
    assert entry.metrics and entry.wall_time and entry.machine and entry.restore_floor_db is not None, (
        f"{entry.name}: the model card is incomplete (metrics, wall_time, machine, restore_floor_db)")
    model = load(entry.name, entry.task)
    net, origin = model.net, model.origin
    assert "SHA-256 verified" in origin and entry.name in origin
    if entry.bundled:
        path = bundled_dir() / entry.bundled
        if entry.name.endswith("-lite"):
            assert path.stat().st_size <= LITE_MAX_BYTES
        declared = entry.network_config()
        if declared is not None:
            assert config_from_metadata(read_weights(path).metadata) == declared
    if entry.parameters is not None:
        assert sum(p.numel() for p in net.parameters()) == entry.parameters
    crop = 4 if entry.task != "derain" else 0
    gains = [psnr(_restore(net, lq), gt, crop_border=crop, channel="y") - psnr(base, gt, crop_border=crop, channel="y")
             for lq, gt, base in _cases(entry.task, data_dir)]
    assert float(np.mean(gains)) >= entry.restore_floor_db, f"{entry.name}: gains over the baseline {gains} dB"
