"""Training recipes: the authors' values (docs/architecture.md §7), overrides from files and flags, clear errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vmambair_core.data.degrade.realesrgan import DegradationConfig
from vmambair_core.errors import ConfigError
from vmambair_core.train import (
    config_from_dict,
    read_config_file,
    recipe,
    resolve_config,
    save_config,
)


def test_sisr_recipes_match_the_option_files() -> None:
    l1 = recipe("sisr", "l1")  # SRGAN/options/MambaSISR15_x4.yml
    assert (l1.iters, l1.data.patch_size, l1.data.batch_size) == (100_000, 256, 8)
    assert (l1.data.hflip, l1.data.rotate) == (True, True)
    assert (l1.optim_g.kind, l1.optim_g.lr, l1.optim_g.betas, l1.optim_g.weight_decay) == ("adam", 2e-4, (0.9, 0.99), 0.0)
    assert (l1.sched_g.kind, l1.sched_g.milestones, l1.sched_g.gamma) == ("multistep", (50_000, 70_000), 0.5)
    assert (l1.ema_decay, l1.loss.pixel, l1.loss.perceptual, l1.loss.gan) == (0.999, 1.0, 0.0, 0.0)
    assert l1.optim_d is None and l1.val.crop_border == 4
    gan = recipe("sisr", "gan")  # MambaSISR15GAN_x4.yml
    assert gan.iters == 300_000 and (gan.optim_g.lr, gan.optim_d.lr) == (2e-4, 1e-4)  # type: ignore[union-attr]
    assert gan.sched_g.milestones == gan.sched_d.milestones == (150_000,)  # type: ignore[union-attr]
    assert (gan.loss.pixel, gan.loss.perceptual, gan.loss.gan, gan.loss.disc_features) == (1.0, 1.0, 1.0, 64)
    assert gan.loss.perceptual_layers == {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}
    assert gan.val.crop_border == 0


def test_realsr_recipes_match_the_option_files() -> None:
    l1 = recipe("realsr", "l1")  # RealSR/options/mambaSR11_x4.yml
    assert (l1.iters, l1.data.batch_size, l1.data.patch_size, l1.data.hr_crop, l1.data.pool_size) == (
        500_000, 9, 256, 600, 180)
    assert (l1.data.hflip, l1.data.rotate) == (True, False)
    assert l1.sched_g.milestones == (250_000, 350_000) and l1.optim_g.lr == 2e-4 and l1.ema_decay == 0.999
    deg = l1.degradation_config()
    assert (deg.gt_size, deg.hr_crop, deg.scale, deg.final_sinc_prob) == (256, 600, 4, 0.8)
    assert deg == DegradationConfig()  # the degradation module's defaults are the authors' values
    gan = recipe("realsr", "gan")  # mambaSR11GAN_x4.yml: G 1e-4 halved at 300k (per-step override), D [400k]
    assert gan.iters == 400_000 and gan.optim_g.lr == 1e-4 and gan.optim_d.lr == 1e-4  # type: ignore[union-attr]
    assert gan.sched_g.milestones == (300_000,) and gan.sched_d.milestones == (400_000,)  # type: ignore[union-attr]
    assert (gan.val.every, gan.val.crop_border) == (10_000, 4)


def test_derain_recipe_matches_mamber28() -> None:
    d = recipe("derain")
    assert (d.iters, d.seed, d.grad_clip, d.ema_decay) == (300_000, 100, 0.01, None)
    assert (d.optim_g.kind, d.optim_g.lr, d.optim_g.betas, d.optim_g.weight_decay) == ("adamw", 3e-4, (0.9, 0.999), 1e-4)
    assert d.sched_g.kind == "cosine_restart"
    assert (d.sched_g.periods, d.sched_g.restart_weights, d.sched_g.eta_mins) == ((92_000, 208_000), (1.0, 1.0), (3e-4, 1e-6))
    p = d.data.progressive
    assert p is not None
    assert p.patch_sizes == (128, 160, 192, 256, 320, 384) and p.batch_sizes == (8, 5, 3, 2, 1, 1)
    assert p.iters == (92_000, 64_000, 48_000, 36_000, 36_000, 24_000) and sum(p.iters) == d.iters
    assert (d.data.patch_size, d.data.batch_size) == (384, 8)


def test_progressive_stage_follows_restormers_rule() -> None:
    # Restormer: groups = cumulative ends; stage = first j with current_iter <= groups[j], else the last.
    p = recipe("derain").data.progressive
    assert p is not None
    ends = [92_000, 156_000, 204_000, 240_000, 276_000, 300_000]
    for it, want in [(1, 0), (92_000, 0), (92_001, 1), (156_000, 1), (156_001, 2), (299_999, 5), (300_000, 5), (400_000, 5)]:
        ref = next((j for j, e in enumerate(ends) if it <= e), len(ends) - 1)
        assert p.stage_at(it) == ref == want


def test_file_then_flags_override_the_recipe(tmp_path: Path) -> None:
    f = tmp_path / "run.toml"
    f.write_text(
        'task = "realsr"\nseed = 7\n[data]\nbatch_size = 4\npool_size = 8\n[optim_g]\nlr = 1e-4\n'
        "[degradation.first]\nnoise_range = [1, 20]\n",
        encoding="utf-8",
    )
    cfg = resolve_config(None, None, file=read_config_file(f), overrides={"optim_g.lr": 5e-5, "iters": None})
    assert cfg.task == "realsr" and cfg.seed == 7 and cfg.data.batch_size == 4
    assert cfg.optim_g.lr == 5e-5  # the flag wins over the file
    assert cfg.iters == 500_000  # None = flag not given
    assert cfg.degradation is not None and cfg.degradation.first.noise_range == (1.0, 20.0)
    assert cfg.degradation.second.noise_range == (1.0, 25.0)  # untouched nested values stay


def test_unknown_keys_are_errors_naming_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown config key 'data\.batchsize'.*batch_size"):
        resolve_config("sisr", file={"data": {"batchsize": 4}})
    with pytest.raises(ConfigError, match=r"unknown config key 'learning_rate'"):
        resolve_config("sisr", file={"learning_rate": 1e-3})
    with pytest.raises(ConfigError, match=r"degradation\.first\.noise"):
        resolve_config("realsr", file={"degradation": {"first": {"noise": [1, 2]}}})


@pytest.mark.parametrize(
    ("file", "match"),
    [
        ({"iters": "1000"}, r"iters: expected int"),
        ({"iters": True}, r"iters: expected int"),
        ({"data": {"hflip": 1}}, r"data\.hflip: expected bool"),
        ({"optim_g": {"betas": [0.9]}}, r"optim_g\.betas: expected 2 values"),
        ({"optim_g": {"kind": "sgd"}}, r"optim_g\.kind: expected one of 'adam', 'adamw'"),
        ({"data": {"batch_size": 0}}, r"data\.batch_size must be positive"),
        ({"degradation": {"gt_size": 64}}, r"derived by the run; set data\.patch_size"),
    ],
)
def test_bad_values_are_config_errors(file: dict, match: str) -> None:
    task = "realsr" if "degradation" in file else "sisr"
    with pytest.raises(ConfigError, match=match):
        resolve_config(task, file=file)


def test_cross_field_checks() -> None:
    with pytest.raises(ConfigError, match="multiples of 32"):  # GAN: D needs multiples of 8 on the LQ side x4
        resolve_config("sisr", "gan", overrides={"data.patch_size": 48})
    with pytest.raises(ConfigError, match="smallest HR crop"):
        resolve_config("realsr", file={"data": {"hr_crop": 64, "patch_size": 32}})
    with pytest.raises(ConfigError, match="end at 30"):
        resolve_config("derain", file={"iters": 40, "sched_g": {"periods": [10, 20]}})
    with pytest.raises(ConfigError, match="stages l1, not 'gan'"):
        resolve_config("derain", "gan")
    with pytest.raises(ConfigError, match="disagrees"):
        resolve_config("sisr", file={"task": "derain"})
    with pytest.raises(ConfigError, match="no task"):
        resolve_config(None, file={})


def test_iters_override_rescales_the_schedule() -> None:
    sisr = resolve_config("sisr", overrides={"iters": 1000})
    assert sisr.sched_g.milestones == (500, 700)  # 50k/70k of 100k
    gan = resolve_config("realsr", "gan", overrides={"iters": 4000})
    assert gan.sched_g.milestones == (3000,) and gan.sched_d.milestones == (4000,)  # type: ignore[union-attr]
    derain = resolve_config("derain", overrides={"iters": 3000})
    assert derain.sched_g.periods == (920, 2080)
    assert derain.data.progressive is not None and derain.data.progressive.iters == (920, 640, 480, 360, 360, 240)
    # Keys the user sets are not rescaled.
    mine = resolve_config("sisr", file={"iters": 1000, "sched_g": {"milestones": [10, 20]}})
    assert mine.sched_g.milestones == (10, 20)


def test_derain_size_flags_and_progressive_patches() -> None:
    one = resolve_config("derain", overrides={"data.patch_size": 64, "data.batch_size": 2})
    assert one.data.progressive is None and (one.data.patch_size, one.data.batch_size) == (64, 2)
    scaled = resolve_config("derain", overrides={"data.batch_size": 4})
    assert scaled.data.progressive is not None and scaled.data.progressive.batch_sizes == (4, 2, 2, 1, 1, 1)
    own = resolve_config(
        "derain", file={"data": {"patch_size": 32, "batch_size": 4,
                                 "progressive": {"patch_sizes": [16, 32], "batch_sizes": [4, 1], "iters": [5, 5]}}},
    )
    assert own.data.progressive is not None and own.data.progressive.patch_sizes == (16, 32)
    with pytest.raises(ConfigError, match="must fit the loaded batch"):
        resolve_config("derain", file={"data": {"patch_size": 32, "batch_size": 4, "progressive": {
            "patch_sizes": [16, 64], "batch_sizes": [4, 1], "iters": [5, 5]}}})


def test_tiny_model_flags_build_tiny_config() -> None:
    cfg = resolve_config("sisr", overrides={"model.dim": 4, "model.blocks": 1})
    net = cfg.network()
    assert net.name == "sisr-tiny" and net.dim == 4 and net.num_blocks == (1, 1, 1, 1)
    assert resolve_config("sisr").network().name == "sisr"


def test_resolved_config_round_trips_through_json(tmp_path: Path) -> None:
    cfg = resolve_config("derain", overrides={"iters": 3000, "data.root": "x", "model.dim": 4})
    path = save_config(cfg, tmp_path / "config.json")
    back = config_from_dict(read_config_file(path))
    assert back == cfg
    # And --config accepts the saved file as a starting point.
    assert resolve_config(None, None, file=read_config_file(path)) == cfg


def test_yaml_needs_pyyaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "run.yaml"
    f.write_text("task: sisr\ndata:\n  batch_size: 3\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml -> ImportError
    with pytest.raises(ConfigError, match="PyYAML"):
        read_config_file(f)
    monkeypatch.undo()
    pytest.importorskip("yaml")
    assert read_config_file(f) == {"task": "sisr", "data": {"batch_size": 3}}


def test_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_config_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("iters = = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot parse"):
        read_config_file(bad)
    ini = tmp_path / "run.ini"
    ini.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown config format"):
        read_config_file(ini)
