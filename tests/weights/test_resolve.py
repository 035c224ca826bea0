"""Weights resolution: registry defaults with SHA-256 pins, local files, and the Hub through a pre-filled cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vmambair_core import CheckpointError, WeightsNotFoundError, build_model, load
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
    reg.write_text(json.dumps({"version": 2, "defaults": {"realsr": None}}))
    monkeypatch.setenv(REGISTRY_ENV, str(reg))
    with pytest.raises(WeightsNotFoundError, match="no default weights are published for task 'realsr'.*--weights"):
        resolve_weights("realsr")


def test_hub_reference_from_prefilled_cache_offline(hub_cache, tmp_path: Path, realsr_file: Path) -> None:
    out, sha, key = convert_checkpoint(realsr_file, tmp_path / "realsr.safetensors", "realsr")
    assert key == "params_ema"
    hub_cache.add("vmambair/realsr", "realsr.safetensors", out)
    r = resolve_weights("realsr", "vmambair/realsr/realsr.safetensors")
    assert r.origin == "hub" and sha256_of(r.path) == sha
    net = load("vmambair/realsr/realsr.safetensors", "realsr").net
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
    entry = {"task": cfg.name, "bundled": out.name, "sha256": sha}
    reg.write_text(json.dumps({"version": 2, "weights": {"derain-tiny": entry}, "defaults": {cfg.name: "derain-tiny"}}))
    monkeypatch.setenv(REGISTRY_ENV, str(reg))
    assert load_registry()[cfg.name].location == f"bundled:{out.name}"
    r = resolve_weights(cfg.name)
    assert r.sha256_verified and r.origin == "bundled"
    load(None, cfg)  # default weights, strict
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
        load(out, "sisr")


def test_trained_export_rebuilds_its_own_config(tmp_path: Path) -> None:
    """A `vmambair train` export of a smaller variant loads by task name; another task is refused."""
    from vmambair_core.weights import network_metadata, write_safetensors

    cfg = tiny_config("sisr", dim=8)
    torch.manual_seed(0)
    net = build_model(cfg).eval()
    p = write_safetensors(net.state_dict(), tmp_path / "mine.safetensors", network_metadata(cfg, "sisr"))
    loaded = load(p, "sisr").net
    assert loaded.config == cfg
    assert_same_network(net, loaded, torch.rand(1, 3, 8, 8))
    with pytest.raises(CheckpointError, match="holds 'sisr' weights"):
        load(p, "derain")


# --------------------------------------------------------------------------- paths vs Hub files


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty folder holding only ``runs/`` (a folder a user trained into)."""
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize(
    ("spec", "kind"),
    [
        ("./checkpoints/net_g_1000.pth", "path"),  # starts with .
        ("/abs/w.safetensors", "path"),  # starts with /
        ("~/w.pth", "path"),  # starts with ~
        ("net_g_1000.pth/x/y", "path"),  # extension in the first part
        ("model.safetensors", "path"),
        ("runs/sisr/model.safetensors", "path"),  # first folder exists here
        ("checkpoints/net_g.pth", "path"),  # two parts cannot be OWNER/REPO/FILE
        ("org/repo/w.safetensors", "hub"),
        ("org/repo/sub/w.safetensors@v1", "hub"),
        ("hf://runs/sisr/model.safetensors", "hub"),  # explicit form wins over an existing folder
        ("sisr-lite", "name"),
        ("sisr-v1.2", "name"),  # ".2" is no file extension
    ],
)
def test_classify_spec(in_tmp: Path, spec: str, kind: str) -> None:
    from vmambair_core.weights.hub import HubRef
    from vmambair_core.weights.spec import classify_spec

    got = classify_spec(spec)
    assert {Path: "path", HubRef: "hub", str: "name"}[type(got) if type(got) in (HubRef, str) else Path] == kind


@pytest.mark.parametrize(
    "spec", ["./checkpoints/net_g_1000.pth", "runs/sisr/model.safetensors", "model.safetensors", "a/b.pth", "~/nope.pth"]
)
def test_missing_local_file_is_file_not_found_without_hub(in_tmp: Path, monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    import huggingface_hub

    def no_hub(*a: object, **k: object) -> None:
        raise AssertionError("a path must never reach the Hub")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    with pytest.raises(WeightsNotFoundError, match=r"^file not found: ") as err:
        resolve_weights("sisr", spec)
    assert str(err.value) == f"file not found: {Path(spec).expanduser()}"


def test_hub_short_and_explicit_forms(hub_cache, in_tmp: Path, realsr_file: Path) -> None:
    out, sha, _ = convert_checkpoint(realsr_file, in_tmp / "realsr.safetensors", "realsr")
    hub_cache.add("runs/realsr", "realsr.safetensors", out)
    hub_cache.add("vmambair/realsr", "realsr.safetensors", out)
    assert resolve_weights("realsr", "vmambair/realsr/realsr.safetensors").origin == "hub"
    r = resolve_weights("realsr", "hf://runs/realsr/realsr.safetensors")
    assert (r.origin, r.description, sha256_of(r.path)) == ("hub", "hf://runs/realsr/realsr.safetensors", sha)
    with pytest.raises(WeightsNotFoundError, match="^file not found: runs/realsr/realsr.safetensors$"):
        resolve_weights("realsr", "runs/realsr/realsr.safetensors")  # ./runs exists: a local path


def _http_errors() -> list[BaseException]:
    import httpx2
    from huggingface_hub import errors as hf

    resp = httpx2.Response(401, request=httpx2.Request("GET", "https://huggingface.co/x"))
    return [
        hf.GatedRepoError("Access restricted.\nRequest id: 1", response=resp),
        hf.RepositoryNotFoundError("404 repo\nRequest id: 2", response=resp),
        hf.RevisionNotFoundError("404 rev\nRequest id: 3", response=resp),
        hf.RemoteEntryNotFoundError("404 entry\nRequest id: 4", response=resp),
        hf.DisabledRepoError("403 disabled\nRequest id: 5", response=resp),
        hf.HfHubHTTPError("500 Server Error\nRequest id: 6", response=resp),
        hf.LocalEntryNotFoundError("not cached\nmore"),
        hf.OfflineModeIsEnabled("offline\nmore"),
        hf.HFValidationError("Repo id must use alphanumeric chars\nmore"),
        httpx2.ConnectError("connection refused\nmore"),
        PermissionError(13, "Permission denied", "/cache/x"),
    ]


@pytest.mark.parametrize("exc", _http_errors(), ids=lambda e: type(e).__name__)
def test_every_hub_exception_is_one_line_with_a_hint(
    in_tmp: Path, monkeypatch: pytest.MonkeyPatch, exc: BaseException
) -> None:
    import huggingface_hub

    def raise_it(*a: object, **k: object) -> None:
        raise exc

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", raise_it)
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights("realsr", "org/repo/w.safetensors@v2")
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("hf://org/repo/w.safetensors@v2: ")
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert any(h in msg for h in ("log in", "cache", "connection", "offline", "drop @REVISION", "check the path",
                                  "use other weights", "hf://OWNER/REPO/FILE")), msg


def test_invalid_repo_name_offline_is_one_line(hub_cache, in_tmp: Path) -> None:
    """The real huggingface_hub (no stub): an impossible repo id is refused in one line, no traceback."""
    with pytest.raises(WeightsNotFoundError, match=r"^hf://bad\.\.name/repo/w\.pth: not a valid Hub name"):
        resolve_weights("realsr", "hf://bad..name/repo/w.pth")
