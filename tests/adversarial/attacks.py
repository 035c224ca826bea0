"""Builders for the inputs an adversarial pass used against restore, eval, train and the weights loader.

Each returns the path it made, so a test reads as the attack it replays. The images are tiny; the
weights files are tiny networks whose metadata a test may then tamper with.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import torch
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.models import VmambaIRConfig, build_model, tiny_config
from vmambair_core.weights import network_metadata, write_safetensors

runner = CliRunner()


def cli(*args: str | os.PathLike[str]):  # noqa: ANN201 - typer's Result
    """Run ``vmambair ARGS`` in-process (stderr apart from stdout)."""
    return runner.invoke(app, [os.fspath(a) for a in args])


def one_line_error(result) -> str:  # noqa: ANN001
    """The single ``Error: ...`` line a refused command prints; fails on a traceback or a zero exit."""
    text = result.stderr.strip()
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    assert len(text.splitlines()) == 1 and text.startswith("Error: "), result.output
    return text


def png(path: Path, seed: int = 0, size: int = 16, *, bit_depth: int = 8) -> Path:
    """A small random RGB PNG (the folder is created)."""
    rng = np.random.default_rng(seed)
    peak = 255 if bit_depth == 8 else 65535
    pixels = rng.integers(0, peak + 1, (size, size, 3)).astype(np.uint8 if bit_depth == 8 else np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), pixels)
    return path


def tiny_weights(path: Path, task: str = "sisr", *, seed: int = 0, cfg: VmambaIRConfig | None = None) -> Path:
    """A tiny network's weights with the metadata a ``vmambair train`` export carries."""
    torch.manual_seed(seed)
    cfg = cfg or tiny_config(task, dim=2, blocks=0)
    return write_safetensors(build_model(cfg).state_dict(), path, network_metadata(cfg, task))


# --------------------------------------------------------------------------- special files


def fifo(path: Path) -> Path:
    """A named pipe: opening it for reading blocks until some writer comes (none will)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def dev_zero_link(path: Path) -> Path:
    """An image name that leads to ``/dev/zero``: reading it never ends."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to("/dev/zero")
    return path


def symlink_loop(a: Path, b: Path) -> tuple[Path, Path]:
    """``a -> b -> a``: every open or resolve of either fails with ELOOP."""
    a.parent.mkdir(parents=True, exist_ok=True)
    a.symlink_to(b.name if a.parent == b.parent else b)
    b.symlink_to(a.name if a.parent == b.parent else a)
    return a, b


def write_json(path: Path, value: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value))
    return path


def finishes_within(seconds: float, fn, *args):  # noqa: ANN001, ANN201
    """``fn(*args)``'s result or exception, or an AssertionError if it is still running after ``seconds`` (a hang)."""
    import threading  # noqa: PLC0415

    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as error:  # noqa: BLE001 - handed back to the caller
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"{getattr(fn, '__name__', fn)} still running after {seconds} s (hangs)"
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box.get("value")


# --------------------------------------------------------------------------- weights


def retyped_weights(path: Path, dtype: torch.dtype, task: str = "sisr") -> Path:
    """A tiny network's weights cast to a non-float dtype (bool, int8): they load and restore to white."""
    cfg = tiny_config(task, dim=2, blocks=0)
    sd = {k: v.to(dtype) for k, v in build_model(cfg).state_dict().items()}
    return write_safetensors(sd, path, network_metadata(cfg, task))


def tampered_config(path: Path, task: str = "sisr", **fields: object) -> Path:
    """Tiny weights whose ``vmambair.config`` metadata claims other ``fields`` (the tensors stay tiny)."""
    from vmambair_core.weights import META_CONFIG  # noqa: PLC0415

    cfg = tiny_config(task, dim=2, blocks=0)
    meta = network_metadata(cfg, task)
    meta[META_CONFIG] = json.dumps({**json.loads(meta[META_CONFIG]), **fields})
    return write_safetensors(build_model(cfg).state_dict(), path, meta)


# --------------------------------------------------------------------------- cached benchmark files


def resave_mirrored_with_orientation(path: Path) -> Path:
    """Re-save a PNG mirrored left-right with an EXIF orientation (2) that mirrors it back for viewers.

    A decoder honouring orientation sees the original; one reading the pixels as stored sees a mirror.
    """
    from vmambair_core.data.icc import png_chunk  # noqa: PLC0415

    bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(bgr[:, ::-1]))
    assert ok
    data = encoded.tobytes()
    exif = b"MM\x00*\x00\x00\x00\x08" + b"\x00\x01" + b"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x02\x00\x00" + b"\x00\x00\x00\x00"
    ihdr_end = 8 + 25  # signature, then the 13-byte IHDR chunk (25 bytes with length, tag and CRC)
    path.write_bytes(data[:ihdr_end] + png_chunk(b"eXIf", exif) + data[ihdr_end:])
    return path


def resave_16bit(path: Path) -> Path:
    """Re-save an 8-bit PNG as 16-bit by shifting (v * 256): a converting decoder gets v back, scoring does not."""
    bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert cv2.imwrite(str(path), bgr.astype(np.uint16) << 8)
    return path


# --------------------------------------------------------------------------- registries

#: Malformed ``VMAMBAIR_WEIGHTS_REGISTRY`` documents, each with a phrase its one-line refusal contains.
BAD_REGISTRIES: tuple[tuple[object, str], ...] = (
    ([{"version": 2}], "the top level must be a JSON object, got list"),
    ("registry", "the top level must be a JSON object, got str"),
    ({"version": 2, "weights": [1, 2]}, "'weights' must be a JSON object, got list"),
    ({"version": 2, "defaults": ["sisr"]}, "'defaults' must be a JSON object, got list"),
    ({"version": 2, "weights": {"x": {"task": "sisr", "metrics": 5}}}, "'metrics' of entry 'x' must be a list"),
    ({"version": 2, "weights": {"x": {"task": "sisr", "metrics": [{"benchmark": "Set5"}]}}}, "psnr"),
    ({"version": 2, "weights": {"x": {"task": "sisr", "metrics": [{"benchmark": "Set5", "psnr": "high"}]}}},
     "metric psnr must be a number"),
    ({"version": 2, "weights": {"x": {"task": "sisr", "metrics": [7]}}}, "(not an object)"),
    ({"version": 2, "weights": {"x": {"task": "sisr", "bundled": "x.safetensors", "sha256": 5}}}, "entry 'x'"),
    # An entry written inline as a default (the first registry format) is no longer read.
    ({"version": 2, "defaults": {"sisr": {"bundled": "x.safetensors"}}}, "must be an entry name or null"),
)


# --------------------------------------------------------------------------- leftovers and names


def stale_temp(folder: Path, name: str, *, age_s: float, directory: bool = False) -> Path:
    """A hidden temporary file (or folder) as a killed process leaves it, last modified ``age_s`` ago."""
    import time  # noqa: PLC0415

    path = folder / name
    folder.mkdir(parents=True, exist_ok=True)
    if directory:
        path.mkdir()
        (path / "partial.png").write_bytes(b"\x89PNG half")
    else:
        path.write_bytes(b"\x89PNG half")
    stamp = time.time() - age_s
    os.utime(path, (stamp, stamp))
    return path


def malicious_pickle(path: Path) -> Path:
    """A ``.pth`` whose unpickling would call a function (harmless here: ``os.getcwd``)."""

    class Payload:
        def __reduce__(self):  # noqa: ANN204
            return (os.getcwd, ())

    torch.save({"params": {"x": Payload()}}, path)
    return path


#: A file name that, printed raw, retitles the terminal and clears the screen.
ESCAPE_NAME = "a\x1b]0;pwned\x07\x1b[2J.png"
