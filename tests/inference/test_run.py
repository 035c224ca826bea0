"""``restore_images``: one call plans, loads and restores; what stops a batch is reported, not raised; and the
exit status follows the one rule of ``vmambair_core.outcome``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vmambair_core.errors import ConfigError
from vmambair_core.inference.run import RestoreRequest, RestoreStart, restore_images
from vmambair_core.models import build_model, tiny_config
from vmambair_core.outcome import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, exit_code
from vmambair_core.weights import network_metadata, write_safetensors


def test_the_exit_rule() -> None:
    assert exit_code(done=3, failed=0) == EXIT_OK
    assert exit_code(done=2, failed=1) == EXIT_PARTIAL
    assert exit_code(done=0, failed=2) == EXIT_ERROR
    assert exit_code(done=2, failed=0, stopped=True) == EXIT_ERROR
    assert exit_code(done=2, failed=1, interrupted=True) == EXIT_INTERRUPTED


def _inputs(folder: Path) -> tuple[Path, Path]:
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (12, 10, 3), dtype=np.uint8)).save(folder / "a.png")
    (folder / "b.png").write_bytes(b"not a png")
    cfg = tiny_config("realsr", dim=2, blocks=0)
    weights = write_safetensors(build_model(cfg).state_dict(), folder.parent / "w.safetensors",
                                network_metadata(cfg, "realsr"))
    return folder, weights


def test_one_call_restores_and_reports(tmp_path: Path) -> None:
    folder, weights = _inputs(tmp_path / "in")
    seen: list[RestoreStart] = []
    report = restore_images(RestoreRequest((folder,), tmp_path / "out", weights=str(weights), device="cpu"),
                            on_ready=seen.append)
    assert len(seen) == 1 and seen[0].task == "realsr" and "the task stored in w.safetensors" in seen[0].why
    assert [r.status for r in report.results] == ["ok", "failed"]
    assert (tmp_path / "out" / "a.png").is_file() and report.exit_code == EXIT_PARTIAL
    doc = report.to_dict()
    assert doc["exit_code"] == EXIT_PARTIAL and doc["summary"]["ok"] == 1 and doc["error"] is None


def test_refusals_before_the_first_image_raise_and_touch_nothing(tmp_path: Path) -> None:
    folder, weights = _inputs(tmp_path / "in")
    with pytest.raises(ConfigError, match="unknown task/preset 'upscale'"):
        restore_images(RestoreRequest((folder,), tmp_path / "out", task="upscale", weights=str(weights)))
    with pytest.raises(ConfigError, match="must not contain a path separator"):
        RestoreRequest((folder,), tmp_path / "out", suffix="a/b")
    assert not (tmp_path / "out").exists()
