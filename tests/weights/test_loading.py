"""Checkpoints load strictly from the authors' format and safetensors; bad files give clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from vmambair_core import CheckpointError, build_model, load
from vmambair_core.models import tiny_config
from vmambair_core.weights import detect_preset, read_weights, write_safetensors
from vmambair_core.weights.formats import META_PRESET

from .same_network import assert_same_network


def _authors_checkpoint(net: torch.nn.Module, path: Path, key: str = "params_ema") -> Path:
    sd = {f"module.{k}": v for k, v in net.state_dict().items()}
    other = {f"module.{k}": torch.zeros_like(v) for k, v in net.state_dict().items()}
    payload = {key: sd} if key == "params" else {"params": other, "params_ema": sd}
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("preset", ["realsr", "sisr", "derain"])
def test_authors_format_loads_strictly_and_gives_same_output(preset: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = build_model(preset).eval()
    path = _authors_checkpoint(net, tmp_path / "net_g_1000.pth")
    loaded = load(path, preset).net
    for (k1, v1), (k2, v2) in zip(net.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert k1 == k2 and torch.equal(v1, v2)
    assert read_weights(path).container_key == "params_ema"  # EMA preferred over params
    assert detect_preset(read_weights(path).state_dict) == preset


def test_params_only_checkpoint_and_tiny_forward(tmp_path: Path) -> None:
    torch.manual_seed(0)
    cfg = tiny_config("derain")
    net = build_model(cfg).eval()
    path = _authors_checkpoint(net, tmp_path / "derain.pth", key="params")
    loaded = load(path, cfg).net
    assert_same_network(net, loaded, torch.rand(1, 3, 11, 9))


def test_safetensors_roundtrip_with_metadata(tmp_path: Path) -> None:
    cfg = tiny_config("sisr")
    net = build_model(cfg)
    p = write_safetensors(net.state_dict(), tmp_path / "w.safetensors", {META_PRESET: cfg.name})
    w = read_weights(p)
    assert w.metadata[META_PRESET] == cfg.name
    load(p, cfg)
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]


def test_wrong_preset_is_refused_with_names(tmp_path: Path) -> None:
    path = _authors_checkpoint(build_model("realsr"), tmp_path / "realsr.pth")
    with pytest.raises(CheckpointError) as exc:
        load(path, "derain")
    msg = str(exc.value)
    assert "derain" in msg and "missing" in msg and "looks like a 'realsr'" in msg


def test_metadata_task_mismatch_refused(tmp_path: Path) -> None:
    cfg = tiny_config("sisr")
    p = write_safetensors(build_model(cfg).state_dict(), tmp_path / "w.safetensors", {META_PRESET: "realsr"})
    with pytest.raises(CheckpointError, match="holds 'realsr' weights"):
        load(p, cfg)


def test_truncated_file(tmp_path: Path) -> None:
    path = _authors_checkpoint(build_model(tiny_config("realsr")), tmp_path / "t.pth")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load(path, tiny_config("realsr"))
    st = write_safetensors(build_model(tiny_config("realsr")).state_dict(), tmp_path / "t.safetensors")
    st.write_bytes(st.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="safetensors"):
        read_weights(st)


class _Evil:
    def __reduce__(self):  # pragma: no cover - must never run
        return (os.system, ("echo pwned > /tmp/vmambair_pwned",))


def test_pickle_with_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"params": {"x": torch.zeros(1)}, "payload": _Evil()}, path)
    Path("/tmp/vmambair_pwned").unlink(missing_ok=True)
    with pytest.raises(CheckpointError, match="refused to load"):
        read_weights(path)
    assert not Path("/tmp/vmambair_pwned").exists()


def test_not_a_state_dict_and_missing_file(tmp_path: Path) -> None:
    torch.save([1, 2, 3], tmp_path / "list.pth")
    with pytest.raises(CheckpointError):
        read_weights(tmp_path / "list.pth")
    with pytest.raises(CheckpointError, match="not found"):
        read_weights(tmp_path / "nope.pth")
    (tmp_path / "w.onnx").write_bytes(b"x")
    with pytest.raises(CheckpointError, match="unknown weights format"):
        read_weights(tmp_path / "w.onnx")
