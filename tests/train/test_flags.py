"""Command-line settings onto a run's config (``train.flags``): every flag reaches its key."""

from __future__ import annotations

import ast
import dataclasses
import os
from pathlib import Path

import pytest

import vmambair_cli.train as cli_train
from vmambair_core.errors import ConfigError
from vmambair_core.train import RunFlags, run_config


def test_no_flag_given_changes_nothing() -> None:
    assert all(v is None for v in RunFlags().overrides().values())


def test_every_flag_sets_its_config_key(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    flags = RunFlags(
        data=(a, b), val=tmp_path / "v", iters=40, batch_size=4, patch_size=64, lr=1e-4, seed=3, init=tmp_path / "g.pth",
        vgg_weights=tmp_path / "vgg.pth", save_every=7, val_every=9, log_every=2, precision="fp32", compile=True,
        export_fp16=True, model_dim=4, model_blocks=1, backend="reference", accum=2,
    )
    assert all(v is not None for v in flags.overrides().values())
    assert len(flags.overrides()) == len(dataclasses.fields(RunFlags))  # one key per flag
    cfg = run_config(tmp_path / "run", task="sisr", stage="gan", flags=flags)
    assert cfg.data.root == f"{a}{os.pathsep}{b}" and cfg.val.root == str(tmp_path / "v")
    assert (cfg.iters, cfg.data.batch_size, cfg.data.patch_size, cfg.optim_g.lr, cfg.seed) == (40, 4, 64, 1e-4, 3)
    assert cfg.model.init == str(tmp_path / "g.pth") and cfg.loss.vgg_weights == str(tmp_path / "vgg.pth")
    assert (cfg.save_every, cfg.val.every, cfg.log_every, cfg.precision) == (7, 9, 2, "fp32")
    assert cfg.compile and cfg.export_fp16 and cfg.accum == 2
    assert (cfg.model.dim, cfg.model.blocks, cfg.model.scan_backend) == (4, 1, "reference")


def test_a_new_run_needs_data(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no training data"):
        run_config(tmp_path / "run", task="sisr")


def test_the_cli_needs_only_the_public_train_api() -> None:
    """``vmambair_cli/train.py`` parses, calls the core and renders: it imports no ``vmambair_core.train`` submodule."""
    tree = ast.parse(Path(cli_train.__file__).read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert "vmambair_core.train" in modules
    assert not [m for m in modules if m.startswith("vmambair_core.train.")]
