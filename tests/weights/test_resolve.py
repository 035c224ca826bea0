"""Weights resolution: registry defaults with SHA-256 pins, local files, and the Hub through a pre-filled cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vmambair_core import CheckpointError, WeightsNotFoundError, build_model, load_model
from vmambair_core.errors import ConfigError
from vmambair_core.models import tiny_config
from vmambair_core.weights import convert_checkpoint, read_weights, resolve_weights
from vmambair_core.weights.hub import parse_hub_ref
from vmambair_core.weights.registry import REGISTRY_ENV, load_registry, sha256_of

from .same_network import assert_same_network


@pytest.fixture
def realsr_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    net = build_model("realsr")
    torch.save({"params_ema": {f"module.{k}": v for k, v in net.state_dict().items()}}, tmp_path / "net_g.pth")
    return tmp_path / "net_g.pth"


def test_parse_hub_ref() -> None:
    r = parse_hub_ref("org/repo/sub/w.safetensors@v1.0")
    assert (r.repo_id, r.filename, r.revision) == ("org/repo", "sub/w.safetensors", "v1.0")
    assert parse_hub_ref("hf://a/b/c.pth").revision is None
    with pytest.raises(ConfigError):
        parse_hub_ref("just-a-missing-file.pth")


def test_no_default_published_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    reg = tmp_path / "registry.json"
    reg.write_text(json.dumps({"version": 1, "defaults": {"realsr": None}}))
    monkeypatch.setenv(REGISTRY_ENV, str(reg))
    with pytest.raises(WeightsNotFoundError, match="no default weights are published for task 'realsr'.*--weights"):
        resolve_weights("realsr")


def test_hub_reference_from_prefilled_cache_offline(hub_cache, tmp_path: Path, realsr_file: Path) -> None:
    out, sha, key = convert_checkpoint(realsr_file, tmp_path / "realsr.safetensors", "realsr")
    assert key == "params_ema"
    hub_cache.add("vmambair/realsr", "realsr.safetensors", out)
    r = resolve_weights("realsr", "vmambair/realsr/realsr.safetensors")
    assert r.origin == "hub" and sha256_of(r.path) == sha
    net = load_model("realsr", "vmambair/realsr/realsr.safetensors")
    ref = build_model("realsr")
    ref.load_state_dict(read_weights(realsr_file).state_dict)
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), ref.state_dict().values(), strict=True))
    with pytest.raises(WeightsNotFoundError, match="not in the local Hugging Face cache"):
        resolve_weights("realsr", "vmambair/realsr/other.safetensors")


def test_registry_default_verified_by_sha256(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = tiny_config("derain")
    torch.save({"params": build_model(cfg).state_dict()}, tmp_path / "d.pth")
    out, sha, _ = convert_checkpoint(tmp_path / "d.pth", tmp_path / "derain-tiny.safetensors", cfg)
    reg = tmp_path / "registry.json"
    entry = {"bundled": out.name, "sha256": sha}
    reg.write_text(json.dumps({"version": 1, "defaults": {cfg.name: entry}}))
    monkeypatch.setenv(REGISTRY_ENV, str(reg))
    assert load_registry()[cfg.name].location == f"bundled:{out.name}"
    r = resolve_weights(cfg.name)
    assert r.sha256_verified and r.origin == "bundled"
    load_model(cfg)  # default weights, strict
    # One flipped byte in the tensor data: refused.
    data = bytearray(out.read_bytes())
    data[-1] ^= 0xFF
    out.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256 mismatch"):
        resolve_weights(cfg.name)
    with pytest.raises(CheckpointError, match="SHA-256 mismatch"):
        resolve_weights(cfg.name, str(out))  # naming the registered file directly is checked too


def test_convert_refuses_wrong_task_and_writes_metadata(tmp_path: Path, realsr_file: Path) -> None:
    with pytest.raises(CheckpointError, match="looks like a 'realsr'"):
        convert_checkpoint(realsr_file, tmp_path / "x.safetensors", "sisr")
    assert not (tmp_path / "x.safetensors").exists()
    out, _, _ = convert_checkpoint(realsr_file, tmp_path / "h.safetensors", "realsr", half=True)
    w = read_weights(out)
    assert w.metadata["vmambair.preset"] == "realsr" and w.metadata["vmambair.source_key"] == "params_ema"
    assert next(iter(w.state_dict.values())).dtype == torch.float16
    with pytest.raises(CheckpointError, match="holds 'realsr' weights"):
        load_model("sisr", out)


def test_trained_export_rebuilds_its_own_config(tmp_path: Path) -> None:
    """A `vmambair train` export of a smaller variant loads by task name; another task is refused."""
    from vmambair_core.weights import network_metadata, write_safetensors

    cfg = tiny_config("sisr", dim=8)
    torch.manual_seed(0)
    net = build_model(cfg).eval()
    p = write_safetensors(net.state_dict(), tmp_path / "mine.safetensors", network_metadata(cfg, "sisr"))
    loaded = load_model("sisr", p)
    assert loaded.config == cfg
    assert_same_network(net, loaded, torch.rand(1, 3, 8, 8))
    with pytest.raises(CheckpointError, match="holds 'sisr' weights"):
        load_model("derain", p)
