"""`vmambair restore`: exit codes, messages, JSON, existing outputs, interruptions and weights, end to end.

The networks are tiny (2 channels, no blocks) and reach the CLI the way a user's trained network does:
their weights files carry their configuration (``network_metadata``), and are resolved, SHA-256-checked
and strictly loaded exactly as a user's would be.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.inference import Restorer
from vmambair_core.weights import load
from vmambair_core.models import VmambaIRConfig, build_model, tiny_config
from vmambair_core.weights import network_metadata, write_safetensors
from vmambair_core.weights.registry import REGISTRY_ENV

runner = CliRunner()


def _tiny(task: str) -> VmambaIRConfig:
    return tiny_config(task, dim=2, blocks=0)


def _weights(path: Path, task: str = "realsr", seed: int = 0) -> Path:
    """A tiny network's weights, with the metadata a `vmambair train` export carries."""
    torch.manual_seed(seed)
    cfg = _tiny(task)
    return write_safetensors(build_model(cfg).state_dict(), path, network_metadata(cfg, task))


def _images(folder: Path, data_dir: Path, names: tuple[str, ...] = ("OST_009.png", "00003.png"), size: int = 24) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, name in enumerate(names):
        img = cv2.imread(str(data_dir / "real_sr/RealESRGAN_inputs/input" / name), cv2.IMREAD_UNCHANGED)
        path = folder / f"img{k}.png"
        assert cv2.imwrite(str(path), img[:size, :size])
        out.append(path)
    return out


def _run(*args: str | Path):  # noqa: ANN202
    return runner.invoke(app, ["restore", *map(str, args)])


def _one_line_error(result) -> str:  # noqa: ANN001
    text = result.stderr.strip()
    assert len(text.splitlines()) == 1 and text.startswith("Error: "), result.output
    assert "Traceback" not in result.output
    return text


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --------------------------------------------------------------------------- refusals


def test_without_weights_says_to_pass_weights(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    registry = tmp_path / "registry.json"  # a task with no published default (the shipped one may have one)
    registry.write_text(json.dumps({"version": 2, "defaults": {"realsr": None}}))
    monkeypatch.setenv(REGISTRY_ENV, str(registry))
    (img,) = _images(tmp_path / "in", data_dir, ("OST_009.png",))
    r = _run(img, "-o", tmp_path / "out", "--task", "realsr")
    assert r.exit_code == 1
    line = _one_line_error(r)
    assert "no default weights are published for task 'realsr'" in line and "--weights" in line
    assert not (tmp_path / "out").exists()


def test_unknown_task_and_usage_errors(tmp_path: Path, data_dir: Path) -> None:
    (img,) = _images(tmp_path / "in", data_dir, ("OST_009.png",))
    r = _run(img, "-o", tmp_path / "out", "--task", "upscale", "-w", "x.safetensors")
    assert r.exit_code == 2 and "unknown task/preset 'upscale'" in _one_line_error(r)  # usage errors: 2, one rule
    for extra, needle in (
        (["--skip-existing", "--overwrite"], "contradict"),
        (["--ext", "gif"], "unknown output extension"),
        (["--tile", "32", "--tile-overlap", "32"], "larger than --tile-overlap"),
        (["--quality", "0"], "--quality must be an integer in 1..100"),
        (["--tile", "4"], "--tile must be 0 (automatic) or at least 8"),
        (["--tile-overlap", "-1"], "--tile-overlap must be >= 0"),
        (["--batch-tiles", "0"], "--batch-tiles must be >= 1"),
        (["--max-pixels", "0"], "--max-pixels must be positive"),
        (["--suffix", "a/b"], "must not contain a path separator"),
    ):
        r = _run(img, "-o", tmp_path / "out", "-t", "realsr", *extra)
        assert r.exit_code == 2 and needle in _one_line_error(r), extra
    assert _run(img, "-t", "realsr").exit_code == 2  # no -o: Typer's own usage error
    r = _run(tmp_path / "missing.png", "-o", tmp_path / "out", "-t", "realsr")
    assert r.exit_code == 2 and "no such file or folder" in _one_line_error(r)
    if not torch.cuda.is_available():
        r = _run(img, "-o", tmp_path / "out", "-t", "realsr", "--device", "cuda")
        assert r.exit_code == 1 and "no CUDA GPU" in _one_line_error(r)
    r = _run(img, "-o", tmp_path / "out", "-t", "realsr", "--device", "cpu", "--precision", "fp16")
    assert r.exit_code == 2 and "fp16 is for GPUs" in _one_line_error(r)


def test_unwritable_output_and_too_large_image(tmp_path: Path, data_dir: Path) -> None:
    (img,) = _images(tmp_path / "in", data_dir, ("OST_009.png",))
    w = _weights(tmp_path / "w.safetensors")
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    r = _run(img, "-o", blocker / "out", "-t", "realsr", "-w", w)
    assert r.exit_code == 1 and "cannot be written" in _one_line_error(r)
    r = _run(img, "-o", tmp_path / "out", "-t", "realsr", "-w", w, "--max-pixels", "100", "-q")
    assert r.exit_code == 1  # nothing could be restored
    assert "img0.png: 24x24 = 576 pixels exceeds the limit of 100 (--max-pixels;" in _one_line_error(r)
    assert _files(tmp_path / "out") == []
    # In a batch the same image is one failure among others: listed, and the rest is restored (exit 3).
    (big,) = _images(tmp_path / "more", data_dir, ("00003.png",), size=40)
    big = big.rename(big.with_name("big.png"))
    r = _run(img, big, "-o", tmp_path / "out", "-t", "realsr", "-w", w, "--max-pixels", "1000", "--json")
    assert r.exit_code == 3
    assert [rec["status"] for rec in json.loads(r.stdout)["images"]] == ["ok", "failed"]


# --------------------------------------------------------------------------- batches


def test_bad_files_are_listed_skipped_and_exit_3(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "in"
    _images(src, data_dir)
    (src / "text.png").write_text("hello\n")
    jpg = (data_dir / "real_sr/RealESRGAN_inputs/input/0014.jpg").read_bytes()
    (src / "cut.jpg").write_bytes(jpg[: len(jpg) // 2])
    (src / "notes.txt").write_text("not an image")
    out = tmp_path / "out"
    r = _run(src, "-o", out, "-t", "realsr", "-w", _weights(tmp_path / "w.safetensors"), "--tta", "--json")
    assert r.exit_code == 3, r.output
    doc = json.loads(r.stdout)  # stdout is exactly one JSON document
    assert doc["tta"] is True
    status = {Path(rec["source"]).name: rec["status"] for rec in doc["images"]}
    assert status == {"cut.jpg": "failed", "img0.png": "ok", "img1.png": "ok", "text.png": "failed"}
    ok = next(rec for rec in doc["images"] if rec["status"] == "ok")
    assert ok["output_size"] == [96, 96] and ok["mode"] == "RGB" and ok["bit_depth"] == 8 and ok["tile"] is None
    assert doc["summary"] == {**doc["summary"], "planned": 4, "ok": 2, "failed": 2, "skipped": 0}
    assert doc["exit_code"] == 3 and [Path(p).name for p in doc["ignored"]] == ["notes.txt"]
    assert "2 image(s) failed" in r.stderr and "text.png" in r.stderr and "truncated JPEG" in r.stderr
    assert _files(out) == ["img0.png", "img1.png"]


def test_human_summary_quiet_and_existing_outputs(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "in"
    _images(src, data_dir)
    out = tmp_path / "out"
    w = _weights(tmp_path / "w.safetensors")
    r = _run(src, "-o", out, "-t", "realsr", "-w", w)
    assert r.exit_code == 0, r.output
    assert "megapixels" in r.stdout and "restored" in r.stdout and "w.safetensors" in r.stderr
    assert f"results in {out}" in r.stdout  # where the results went
    first = (out / "img0.png").read_bytes()

    (out / "img1.png").write_bytes(b"older result")
    r = _run(src, "-o", out, "-t", "realsr", "-w", w)
    assert r.exit_code == 0
    assert "2 output(s) already existed and were kept" in r.stderr and "img1.png" in r.stderr
    assert (out / "img1.png").read_bytes() == b"older result"

    r = _run(src, "-o", out, "-t", "realsr", "-w", w, "--skip-existing", "--quiet")
    assert r.exit_code == 0 and r.stdout == "" and r.stderr == ""
    assert (out / "img1.png").read_bytes() == b"older result"

    r = _run(src, "-o", out, "-t", "realsr", "-w", w, "--overwrite", "-q")
    assert r.exit_code == 0 and r.stdout == ""
    assert cv2.imread(str(out / "img1.png")).shape == (96, 96, 3) and (out / "img0.png").read_bytes() == first


def test_non_ascii_recursive_suffix_ext_and_tiles(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "фото ü"
    (a,) = _images(src, data_dir, ("OST_009.png",), size=40)
    a.rename(src / "a.png")
    (b,) = _images(src / "子", data_dir, ("tree_alpha_16bit.png",), size=40)
    b.rename(src / "子" / "猫.png")
    out = tmp_path / "出力"
    r = _run(src, "-o", out, "-t", "realsr", "-w", _weights(tmp_path / "w.safetensors"), "--recursive",
             "--suffix", "_x4", "--ext", "tif", "--tile", "24", "--tile-overlap", "8", "--batch-tiles", "3", "--json")
    assert r.exit_code == 0, r.output
    assert _files(out) == ["a_x4.tif", "子/猫_x4.tif"]
    doc = json.loads(r.stdout)
    assert [rec["tile"] for rec in doc["images"]] == [24, 24]
    deep = cv2.imdecode(np.fromfile(out / "子" / "猫_x4.tif", np.uint8), cv2.IMREAD_UNCHANGED)
    assert deep.shape == (160, 160, 4) and deep.dtype == np.uint16
    with Image.open(out / "a_x4.tif") as im:
        assert im.size == (160, 160) and im.mode == "RGB"


def test_o_file_i_alias_outscale_and_tile_0(tmp_path: Path, data_dir: Path) -> None:
    """The peers' habits: -o result.png writes that file, -i names an input, --outscale 2, --tile 0 = automatic."""
    (img,) = _images(tmp_path / "in", data_dir, ("OST_009.png",))
    w = _weights(tmp_path / "w.safetensors")
    result = tmp_path / "res" / "result.jpg"
    r = _run("-i", img, "-o", result, "-t", "realsr", "-w", w, "--outscale", "2", "--tile", "0", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert _files(tmp_path / "res") == ["result.jpg"] and result.read_bytes()[:2] == b"\xff\xd8"  # a JPEG file
    assert doc["output_file"] == str(result) and doc["outscale"] == 2.0 and doc["tile"] is None
    assert doc["images"][0]["output_size"] == [48, 48] == list(Image.open(result).size)
    r = _run(img, "-o", tmp_path / "x.png", "-t", "realsr", "-w", w, "--outscale", "3.5")
    assert r.exit_code == 0 and Image.open(tmp_path / "x.png").size == (84, 84)
    assert "x.png" in r.stderr  # the first line says where the result goes
    for extra, needle in ((["--outscale", "0"], "--outscale must be a number > 0"),
                          (["--suffix", "_x4"], "names the output file")):
        r = _run(img, "-o", tmp_path / "y.png", "-t", "realsr", "-w", w, *extra)
        assert r.exit_code == 2 and needle in _one_line_error(r), extra
    r = _run("-o", tmp_path / "out", "-t", "realsr", "-w", w)
    assert r.exit_code == 2 and "no input given" in _one_line_error(r)


def test_a_log_gets_one_plain_progress_line_per_image(tmp_path: Path, data_dir: Path) -> None:
    """stderr is not a terminal here (as for a log or a GUI wrapping the CLI): no bars, one line per image."""
    src = tmp_path / "in"
    _images(src, data_dir, ("OST_009.png", "00003.png", "0014.jpg"))
    r = _run(src, "-o", tmp_path / "out", "-t", "realsr", "-w", _weights(tmp_path / "w.safetensors"))
    assert r.exit_code == 0, r.output
    lines = [line for line in r.stderr.splitlines() if re.match(r"\[\d+/\d+\] ", line)]
    assert [line.split()[0] for line in lines] == ["[1/3]", "[2/3]", "[3/3]"]
    assert all(" ok " in line and "elapsed 0:" in line and "ETA 0:" in line for line in lines), lines
    assert lines[-1].endswith("ETA 0:00") and "\x1b" not in r.stderr  # no escape codes in a log
    r = _run(src, "-o", tmp_path / "out2", "-t", "realsr", "-w", tmp_path / "w.safetensors", "-q")
    assert r.stderr == ""


# --------------------------------------------------------------------------- interruptions


def test_ctrl_c_exits_130_without_partial_files_then_resumes(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "in"
    _images(src, data_dir, ("OST_009.png", "00003.png", "children-alpha.png"))
    out = tmp_path / "out"
    w = _weights(tmp_path / "w.safetensors")
    import vmambair_core.data.io as io_module

    real_replace, calls = os.replace, []

    def interrupt_second(src_path: str, dst: str) -> None:
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real_replace(src_path, dst)

    monkeypatch.setattr(io_module.os, "replace", interrupt_second)
    r = _run(src, "-o", out, "-t", "realsr", "-w", w)
    monkeypatch.setattr(io_module.os, "replace", real_replace)
    assert r.exit_code == 130, r.output
    assert "Interrupted" in r.stderr and "--skip-existing" in r.stderr and "Traceback" not in r.output
    assert _files(out) == ["img0.png"]  # the second image's temporary file is gone too
    first = (out / "img0.png").read_bytes()

    r = _run(src, "-o", out, "-t", "realsr", "-w", w, "--skip-existing", "--json")
    assert r.exit_code == 0
    assert [rec["status"] for rec in json.loads(r.stdout)["images"]] == ["skipped", "ok", "ok"]
    assert _files(out) == ["img0.png", "img1.png", "img2.png"] and (out / "img0.png").read_bytes() == first


def test_sigterm_is_an_interrupt(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in"
    _images(src, data_dir)
    out = tmp_path / "out"
    real_call, calls = Restorer.__call__, []

    def terminated_on_second(self: Restorer, x: torch.Tensor, on_tile=None) -> torch.Tensor:  # noqa: ANN001
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
        return real_call(self, x, on_tile)

    monkeypatch.setattr(Restorer, "__call__", terminated_on_second)
    previous = signal.getsignal(signal.SIGTERM)
    r = _run(src, "-o", out, "-t", "realsr", "-w", _weights(tmp_path / "w.safetensors"), "-q")
    assert r.exit_code == 130 and _files(out) == ["img0.png"]
    assert signal.getsignal(signal.SIGTERM) == previous  # the CLI put the old handler back


_DRIVER = """
import sys, time
from vmambair_core.inference import Restorer

slow = Restorer.__call__
def call(self, x, on_tile=None):
    time.sleep(float(sys.argv[1]))
    return slow(self, x, on_tile)
Restorer.__call__ = call
from vmambair_cli.app import app
app(sys.argv[2:], prog_name="vmambair")
"""


@pytest.mark.slow
def test_killed_run_resumes_with_skip_existing(tmp_path: Path, data_dir: Path) -> None:
    src = tmp_path / "in"
    _images(src, data_dir, ("OST_009.png", "00003.png", "children-alpha.png", "0014.jpg"))
    out = tmp_path / "out"
    driver = tmp_path / "driver.py"
    driver.write_text(_DRIVER)
    args = ["restore", str(src), "-o", str(out), "-t", "realsr", "-w", str(_weights(tmp_path / "w.safetensors")), "-q"]
    proc = subprocess.Popen([sys.executable, str(driver), "1.5", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "img0.png").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()  # SIGKILL: no handler, no cleanup
    proc.communicate()
    done = [p for p in _files(out) if not p.startswith(".")]
    assert "img0.png" in done and len(done) < 4, "the run finished before it could be killed"
    before = {name: (out / name).read_bytes() for name in done}

    resumed = subprocess.run([sys.executable, str(driver), "0", *args, "--skip-existing", "--json"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    records = json.loads(resumed.stdout)["images"]
    assert [rec["status"] for rec in records] == ["skipped"] * len(done) + ["ok"] * (4 - len(done))
    assert [p for p in _files(out) if not p.startswith(".")] == ["img0.png", "img1.png", "img2.png", "img3.png"]
    assert all((out / name).read_bytes() == data for name, data in before.items())
    for name in ("img0.png", "img3.png"):
        assert cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED).shape[:2] == (96, 96)


# --------------------------------------------------------------------------- weights through the CLI


def test_authors_pth_loads_and_params_ema_is_used(tmp_path: Path, data_dir: Path) -> None:
    """An authors'-format .pth (no metadata: the preset's network) through the loader the CLI uses."""
    (img,) = _images(tmp_path / "in", data_dir, ("OST_009.png",))
    cfg = _tiny("realsr")
    torch.manual_seed(1)
    ema = build_model(cfg)
    torch.manual_seed(2)
    plain = build_model(cfg)
    pth = tmp_path / "net_g_latest.pth"
    torch.save({"params": plain.state_dict(), "params_ema": {f"module.{k}": v for k, v in ema.state_dict().items()}}, pth)
    model = load(pth, cfg)
    net, origin = model.net, model.origin
    assert str(pth) in origin
    x = torch.from_numpy(cv2.imread(str(img))[..., ::-1].astype(np.float32) / 255).permute(2, 0, 1)[None]
    assert torch.equal(Restorer(net, torch.device("cpu"))(x), Restorer(ema.eval(), torch.device("cpu"))(x))
    r = _run(img, "-o", tmp_path / "out", "-t", "realsr", "-w", pth, "-q")  # the full preset: shapes differ
    assert r.exit_code == 1 and "Traceback" not in r.output


def test_wrong_task_weights_refused(tmp_path: Path, data_dir: Path) -> None:
    (img,) = _images(tmp_path / "in", data_dir, ("OST_009.png",))
    derain = _weights(tmp_path / "derain.safetensors", "derain")
    r = _run(img, "-o", tmp_path / "out", "-t", "realsr", "-w", derain)
    assert r.exit_code == 1 and "holds 'derain' weights" in _one_line_error(r)
    assert _files(tmp_path / "out") == []


def test_registry_default_is_sha256_checked(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (img,) = _images(tmp_path / "in", data_dir, ("OST_009.png",))
    published = _weights(tmp_path / "realsr.safetensors")
    sha = hashlib.sha256(published.read_bytes()).hexdigest()
    registry = tmp_path / "registry.json"
    entry = {"task": "realsr", "bundled": published.name, "sha256": sha}
    registry.write_text(json.dumps({"version": 2, "weights": {"realsr-test": entry}, "defaults": {"realsr": "realsr-test"}}))
    monkeypatch.setenv(REGISTRY_ENV, str(registry))
    r = _run(img, "-o", tmp_path / "ok", "-t", "realsr", "--json")
    assert r.exit_code == 0, r.output
    assert "SHA-256 verified" in json.loads(r.stdout)["weights"]

    data = bytearray(published.read_bytes())
    data[-1] ^= 0xFF
    published.write_bytes(bytes(data))
    r = _run(img, "-o", tmp_path / "bad", "-t", "realsr")
    assert r.exit_code == 1 and "SHA-256 mismatch" in _one_line_error(r)
    assert _files(tmp_path / "bad") == []


def test_hub_reference_from_prefilled_cache_offline(tmp_path: Path, data_dir: Path, hub_cache) -> None:
    (img,) = _images(tmp_path / "in", data_dir, ("OST_009.png",))
    w = _weights(tmp_path / "w.safetensors")
    hub_cache.add("someone/vmambair-tiny", "realsr.safetensors", w)
    r = _run(img, "-o", tmp_path / "out", "-t", "realsr", "-w", "someone/vmambair-tiny/realsr.safetensors", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["weights"].startswith("hf://someone/vmambair-tiny/realsr.safetensors [hub]")
    assert _files(tmp_path / "out") == ["img0.png"]
    r = _run(img, "-o", tmp_path / "out2", "-t", "realsr", "-w", "someone/vmambair-tiny/other.safetensors")
    assert r.exit_code == 1 and "not in the local Hugging Face cache" in _one_line_error(r)


def test_missing_weights_path_is_file_not_found(
    tmp_path: Path, data_dir: Path, hub_cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A typo in a local path is a missing file, not a Hub request ending in an HFValidationError traceback."""
    (img,) = _images(tmp_path / "in", data_dir, ("OST_009.png",))
    monkeypatch.chdir(tmp_path)
    r = _run(img, "-o", tmp_path / "out", "-t", "realsr", "-w", "./checkpoints/net_g_1000.pth")
    assert r.exit_code == 1 and _one_line_error(r) == "Error: file not found: checkpoints/net_g_1000.pth"
    r = _run(img, "-o", tmp_path / "out", "-t", "realsr", "-w", "hf://not a/valid/w.pth")
    assert r.exit_code == 1 and "not a valid Hub name" in _one_line_error(r)
    assert not (tmp_path / "out").exists()


def test_trained_export_restores_by_task_name(tmp_path: Path, data_dir: Path) -> None:
    """No seam: a `vmambair train` export of a smaller network rebuilds from its own metadata."""
    from vmambair_core.models import build_model, tiny_config
    from vmambair_core.weights import network_metadata, write_safetensors

    cfg = tiny_config("realsr", dim=8, blocks=1)
    w = write_safetensors(build_model(cfg).state_dict(), tmp_path / "mine.safetensors", network_metadata(cfg, "realsr"))
    (img,) = _images(tmp_path / "in", data_dir, ("0014.jpg",))
    r = _run(img, "-o", tmp_path / "out", "-t", "realsr", "-w", w, "--json")
    assert r.exit_code == 0, r.output
    assert _files(tmp_path / "out") == ["img0.png"]
