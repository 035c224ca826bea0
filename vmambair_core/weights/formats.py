"""Reading and writing weights files safely: safetensors directly, ``.pth`` only as plain tensors.

Authors' checkpoints are BasicSR ``torch.save({'params': sd, 'params_ema': sd_ema})`` pickles; they
load through ``torch.load(weights_only=True)``, which refuses any pickled code.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from ..atomic import atomic_write_bytes
from ..errors import CheckpointError

WRAPPER_KEYS: tuple[str, ...] = ("params_ema", "params", "state_dict", "model", "net_g")
"""Known containers, in order of preference: EMA weights first, as the authors' SR tests load them."""

STRIP_PREFIXES: tuple[str, ...] = ("module.", "_orig_mod.")
"""Added by DataParallel/DDP and torch.compile; never part of the network's own names."""

META_PRESET = "vmambair.preset"
META_TASK = "vmambair.task"
PICKLE_SUFFIXES = (".pth", ".pt", ".ckpt", ".bin")
WEIGHTS_SUFFIXES = (".safetensors", *PICKLE_SUFFIXES)
"""File endings read as weights (safetensors, or a torch pickle loaded with ``weights_only``)."""
META_FORMAT = "vmambair.format"
FORMAT_VERSION = "1"


@dataclass
class LoadedWeights:
    """A canonical state dict plus where it came from (for messages and provenance)."""

    state_dict: dict[str, Tensor]
    source: str
    container_key: str | None = None  # 'params_ema', 'params', ... or None for a bare state dict
    metadata: dict[str, str] = field(default_factory=dict)


def canonicalize(obj: object, source: str) -> tuple[dict[str, Tensor], str | None]:
    """Unwrap known containers and strip wrapper prefixes; refuse anything that is not tensors."""
    container: str | None = None
    if isinstance(obj, dict):
        for key in WRAPPER_KEYS:
            if key in obj and isinstance(obj[key], dict):
                obj, container = obj[key], key
                break
    if not isinstance(obj, dict) or not obj:
        raise CheckpointError(f"{source}: no state dict found (expected tensors, or a dict with one of {WRAPPER_KEYS})")
    sd: dict[str, Tensor] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, Tensor):
            raise CheckpointError(f"{source}: entry {key!r} is not a named tensor; not a weights file")
        for prefix in STRIP_PREFIXES:
            while key.startswith(prefix):
                key = key[len(prefix):]
        sd[key] = value
    return sd, container


def read_weights(path: str | os.PathLike[str]) -> LoadedWeights:
    """Read a ``.safetensors`` or ``.pth``/``.pt`` file into a canonical state dict."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"weights file not found: {p}")
    suffix = p.suffix.lower()
    if suffix == ".safetensors":
        return _read_safetensors(p)
    if suffix in PICKLE_SUFFIXES:
        return _read_pickle(p)
    raise CheckpointError(f"{p}: unknown weights format {suffix!r}; use .safetensors or .pth")


def _read_safetensors(p: Path) -> LoadedWeights:
    from safetensors import SafetensorError  # noqa: PLC0415
    from safetensors.torch import safe_open  # noqa: PLC0415

    try:
        with safe_open(str(p), framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            raw = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{p}: not a readable safetensors file ({exc})") from None
    sd, container = canonicalize(raw, str(p))
    return LoadedWeights(sd, str(p), container, meta)


def _read_pickle(p: Path) -> LoadedWeights:
    try:
        obj = torch.load(str(p), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{p}: refused to load: the file contains pickled objects other than tensors "
            f"(only plain weights are loaded, never code). Detail: {load_failure_detail(exc)}"
        ) from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CheckpointError(f"{p}: cannot be read as a PyTorch checkpoint (truncated or corrupt?): {exc}") from None
    sd, container = canonicalize(obj, str(p))
    return LoadedWeights(sd, str(p), container, {})


_ADVICE = re.compile(r"weights_only|safe_globals|trust|re-running|documentation|default value", re.IGNORECASE)


def load_failure_detail(error: BaseException) -> str:
    """What ``torch.load`` refused, without its advice to retry with ``weights_only=False`` (the unsafe path)."""
    sentences = re.split(r"(?<=[.!?])\s+|\n+", str(error))
    kept = [s.strip() for s in sentences if s.strip() and not _ADVICE.search(s)]
    return " ".join(kept) or "unsupported content"


def load_torch_file(path: str | os.PathLike[str], what: str) -> object:
    """``torch.load(weights_only=True)`` on CPU; any failure (missing, truncated, unsafe) is one CheckpointError line."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - every unreadable file is the same problem for the user
        raise CheckpointError(f"cannot read {what} {path}: {load_failure_detail(exc)}") from None


def canonical_safetensors(payload: bytes) -> bytes:
    """``payload`` with its metadata keys sorted: the same tensors and metadata give the same bytes.

    safetensors serialises the metadata from a hash map, whose order changes from one process to the next,
    so the file's SHA-256 (what the registry pins) would too.
    """
    (length,) = struct.unpack("<Q", payload[:8])
    header = json.loads(payload[8 : 8 + length])
    meta = header.pop("__metadata__", None)
    ordered = ({"__metadata__": dict(sorted(meta.items()))} if meta is not None else {}) | header
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data stays 8-byte aligned, as safetensors writes it
    return struct.pack("<Q", len(text)) + text + payload[8 + length :]


def write_safetensors(
    state_dict: dict[str, Tensor], path: str | os.PathLike[str], metadata: dict[str, str] | None = None
) -> Path:
    """Write tensors + string metadata atomically (temporary file in the same folder, then rename)."""
    from safetensors.torch import save  # noqa: PLC0415

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous().cpu() for k, v in state_dict.items()}
    meta = {META_FORMAT: FORMAT_VERSION, **(metadata or {})}
    return atomic_write_bytes(p, canonical_safetensors(save(tensors, metadata=meta)))
