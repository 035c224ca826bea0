"""The training loop: each recipe end to end on the shared data, overfitting a fixed batch, export, GAN stage."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vmambair_core.errors import ConfigError
from vmambair_core.models import build_model
from vmambair_core.train import export_weights, resolve_config, train
from vmambair_core.train.batches import BatchMaker
from vmambair_core.train.checkpoint import seed_everything
from vmambair_core.train.data import PatchDataset, PositionSampler, discover_dataset, make_loader
from vmambair_core.train import distributed as dist_utils
from vmambair_core.train.distributed import DistEnv
from vmambair_core.train.loop import StopPoll, patch_spec
from vmambair_core.train.steps import build_parts, train_step
from vmambair_core.train.vgg import VGG19_WEIGHTS_ENV, VGG19FeatureExtractor
from vmambair_core.weights import config_from_metadata, load, read_weights

TINY = {"model.dim": 4, "model.blocks": 1, "data.workers": 0, "data.batch_size": 1, "log_every": 1}
CPU = torch.device("cpu")


def _root(data_dir: Path, task: str) -> Path:
    return data_dir / ("derain/Rain100H_test" if task == "derain" else "sr_train/T91")


def _cfg(data_dir: Path, task: str, stage: str = "l1", iters: int = 2, **extra: object):
    file: dict = {"data": {"hr_crop": 80, "pool_size": 4}} if task == "realsr" else {}
    over = {**TINY, "data.root": str(_root(data_dir, task)), "iters": iters,
            "data.patch_size": 16 if task == "derain" else 32, **extra}
    return resolve_config(task, stage, file=file, overrides=over)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sisr", "realsr", "derain"])
def test_recipe_overfits_a_fixed_batch(data_dir: Path, task: str) -> None:
    """The recipe's optimiser, schedule, clipping and loss on one real batch: the loss must fall."""
    cfg = _cfg(data_dir, task, iters=100)
    layout = discover_dataset(cfg.data.root, scale=cfg.scale)
    spec = patch_spec(cfg, layout.paired)
    loader = make_loader(PatchDataset(layout, spec, 0), PositionSampler(len(layout), seed=0, batch_size=1), workers=0)
    lq, gt = BatchMaker(cfg, spec.mode, CPU, 0)(next(iter(loader)), 1)
    seed_everything(0)
    parts = build_parts(cfg, build_model(cfg.network()), CPU, torch.float32)
    losses = [float(train_step(parts, lq, gt, CPU)["l_pix"]) for _ in range(5)]
    assert all(np.isfinite(losses))
    assert losses[-1] < 0.9 * losses[0], losses
    assert parts.opt_g.param_groups[0]["lr"] == pytest.approx(cfg.optim_g.lr)  # still before any decay


def _t91_val(tmp_path: Path, data_dir: Path) -> Path:
    """A small HR-only validation folder: two 48x48 crops of T91 images (LQ made by MATLAB bicubic)."""
    out = tmp_path / "val"
    out.mkdir()
    for name in ("t1.bmp", "t2.bmp"):
        img = cv2.imread(str(data_dir / "sr_train" / "T91" / "HR" / name))
        cv2.imwrite(str(out / name.replace(".bmp", ".png")), img[:48, :48])
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sisr", "realsr", "derain"])
def test_recipe_runs_end_to_end_and_exports(data_dir: Path, tmp_path: Path, task: str) -> None:
    extra = {"val.root": str(_t91_val(tmp_path, data_dir)), "val.every": 1, "val.samples": 1} if task == "sisr" else {}
    cfg = _cfg(data_dir, task, iters=2, **extra)
    run = tmp_path / "run"
    result = train(cfg, run, device="cpu")

    assert result.iterations == 2 and result.weights == run / "model.safetensors"
    # The run stores the resolved root (symlinks followed): compare resolved paths, or a ../shared or
    # a temp folder behind a link (macOS /tmp -> /private/tmp) would fail this.
    assert json.loads((run / "config.json").read_text())["data"]["root"] == str(Path(cfg.data.root).resolve())
    rows = _rows(run / "metrics.csv")
    assert [r["iteration"] for r in rows] == ["1", "2"] and all(np.isfinite(float(r["l_pix"])) for r in rows)
    assert (run / "checkpoints" / "latest").read_text().strip() == "iter_00000002"
    assert "starting" in (run / "train.log").read_text()
    if task == "sisr":
        val = _rows(run / "val.csv")
        assert [r["iteration"] for r in val] == ["1", "2"] and 5 < float(val[-1]["psnr"]) < 60
        assert (run / "samples" / "iter_00000002" / "t1.png").is_file()

    # The export carries the tiny config, loads by task name and by config through load, holds the EMA
    # weights (derain keeps no EMA: the trained weights).
    loaded = read_weights(result.weights)
    meta = loaded.metadata
    assert meta["vmambair.task"] == task and meta["vmambair.preset"] == f"{task}-tiny"
    assert config_from_metadata(meta) == cfg.network()
    net = load(result.weights, task).net  # rebuilt from the file's own (tiny) config
    state = torch.load(run / "checkpoints" / "iter_00000002" / "state.pt", weights_only=True)
    expected = state["ema"]["module"] if state["ema"] else state["model"]
    for k, v in net.state_dict().items():
        assert torch.equal(v, expected[k]), k
    assert meta["vmambair.weights"] == ("params" if task == "derain" else "params_ema")
    again = load(result.weights, cfg.network()).net
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(again(x), net(x))


def test_export_fp16_round_trip(tmp_path: Path) -> None:
    cfg = resolve_config("sisr", overrides={"model.dim": 4, "model.blocks": 1}).network()
    torch.manual_seed(0)
    net = build_model(cfg)
    path = export_weights(net.state_dict(), cfg, "sisr", tmp_path / "w.safetensors", fp16=True)
    loaded = read_weights(path)
    assert loaded.metadata["vmambair.dtype"] == "fp16"
    assert all(v.dtype == torch.float16 for v in loaded.state_dict.values() if v.is_floating_point())
    back = load(path, "sisr").net
    for k, v in net.state_dict().items():
        assert torch.equal(back.state_dict()[k], v.half().float()), k


def test_gan_stage_without_vgg_weights_fails_at_start(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VGG19_WEIGHTS_ENV, raising=False)
    cfg = _cfg(data_dir, "sisr", "gan", iters=2)
    with pytest.raises(ConfigError, match=VGG19_WEIGHTS_ENV):
        train(cfg, tmp_path / "run", device="cpu")
    assert not (tmp_path / "run" / "checkpoints").exists()


@pytest.mark.slow
def test_gan_stage_runs_from_l1_weights(data_dir: Path, tmp_path: Path) -> None:
    """Stage 2 from a stage-1 export, with a local VGG19 file (random here: only conv1_2 is needed)."""
    vgg = VGG19FeatureExtractor(["conv1_2"], load=False)
    vgg_file = tmp_path / "vgg19.pth"
    torch.save({k: v for k, v in vgg.state_dict().items()}, vgg_file)
    l1 = train(_cfg(data_dir, "sisr", iters=1), tmp_path / "l1", device="cpu")
    cfg = resolve_config(
        "sisr", "gan",
        file={"loss": {"perceptual_layers": {"conv1_2": 1.0}, "disc_features": 8}},
        overrides={**TINY, "data.root": str(_root(data_dir, "sisr")), "iters": 2, "data.patch_size": 32,
                   "model.init": str(l1.weights), "loss.vgg_weights": str(vgg_file), "precision": "bf16"},
    )
    result = train(cfg, tmp_path / "gan", device="cpu")  # bf16 autocast on CPU: the GPU path's dtype logic
    rows = _rows(tmp_path / "gan" / "metrics.csv")
    for key in ("l_pix", "l_percep", "l_gan", "l_d_real", "l_d_fake"):
        assert all(np.isfinite(float(r[key])) for r in rows), key
    state = torch.load(result.checkpoint / "state.pt", weights_only=True)
    assert state["net_d"] is not None and state["optimizers"]["d"] is not None
    assert "starts from random weights" not in (tmp_path / "gan" / "train.log").read_text()


@pytest.mark.slow
def test_time_limit_ends_the_run_like_its_last_iteration(data_dir: Path, tmp_path: Path) -> None:
    result = train(_cfg(data_dir, "sisr", iters=50), tmp_path / "run", device="cpu", max_minutes=1e-6)
    assert result.iterations == 1 and result.checkpoint.name == "iter_00000001"
    assert read_weights(result.weights).metadata["vmambair.iterations"] == "1"
    assert "time limit" in (tmp_path / "run" / "train.log").read_text()
    with pytest.raises(ConfigError, match="max_minutes"):
        train(None, tmp_path / "run", device="cpu", resume=True, max_minutes=0)


@pytest.mark.slow
def test_stop_at_ends_the_run_at_that_iteration_and_resume_finishes_it(data_dir: Path, tmp_path: Path) -> None:
    """Why: a shipped export stopped early (derain-lite at 1286 of 2000) must be reproducible by iteration, not time."""
    run = tmp_path / "run"
    result = train(_cfg(data_dir, "sisr", iters=4), run, device="cpu", stop_at=2)
    assert result.iterations == 2 and result.checkpoint.name == "iter_00000002"
    assert read_weights(result.weights).metadata["vmambair.iterations"] == "2"
    assert "stop_at" in (run / "train.log").read_text()
    with pytest.raises(ConfigError, match="stop_at 2 is not after"):
        train(None, run, device="cpu", resume=True, stop_at=2)
    with pytest.raises(ConfigError, match="within its 4"):
        train(None, run, device="cpu", resume=True, stop_at=5)
    assert train(None, run, device="cpu", resume=True).iterations == 4


@pytest.mark.slow
def test_gan_step_in_bf16_updates_both_networks(tmp_path: Path) -> None:
    """One BasicSR GAN iteration under bf16 autocast: G and D both move, weights stay fp32, D unfrozen."""
    vgg_file = tmp_path / "vgg19.pth"
    torch.save(VGG19FeatureExtractor(["conv1_2"], load=False).state_dict(), vgg_file)
    cfg = resolve_config("sisr", "gan", file={"loss": {"perceptual_layers": {"conv1_2": 1.0}, "disc_features": 8}},
                         overrides={"model.dim": 4, "model.blocks": 1, "loss.vgg_weights": str(vgg_file),
                                    "data.patch_size": 32, "precision": "bf16"})
    torch.manual_seed(0)
    parts = build_parts(cfg, build_model(cfg.network()), CPU, torch.bfloat16)
    assert parts.net_d is not None and parts.ema is not None
    g0 = {k: v.clone() for k, v in parts.net.state_dict().items()}
    d0 = {k: v.clone() for k, v in parts.net_d.state_dict().items()}
    losses = train_step(parts, torch.rand(1, 3, 8, 8), torch.rand(1, 3, 32, 32), CPU)
    assert set(losses) == {"l_pix", "l_percep", "l_gan", "l_d_real", "l_d_fake"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert any(not torch.equal(g0[k], v) for k, v in parts.net.state_dict().items())
    assert any(not torch.equal(d0[k], v) for k, v in parts.net_d.state_dict().items() if k.endswith("weight_orig"))
    assert all(p.dtype == torch.float32 for p in parts.net.parameters())
    assert all(p.requires_grad for p in parts.net_d.parameters())
    assert parts.ema.num_updates == 1


def test_ranks_compare_stop_flags_only_every_log_every_iterations(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under DDP the stop/time flags cost an all-reduce and a host sync: only at multiples of
    ``every``, where every rank polls, so all stop at the first poll after any rank was signalled."""
    other_rank_signalled_at = 4
    reduced: list[int] = []
    iteration = 0

    def fake_any_ranks(env: DistEnv, flags: tuple[bool, ...]) -> tuple[bool, ...]:
        reduced.append(iteration)
        return (flags[0] or iteration >= other_rank_signalled_at, flags[1])

    monkeypatch.setattr(dist_utils, "any_ranks", fake_any_ranks)
    poll = StopPoll(DistEnv(rank=0, world_size=2), every=3)
    stops = []
    for iteration in range(1, 10):
        stop, late = poll(iteration, signalled=False, out_of_time=False)
        assert not late
        if stop:
            stops.append(iteration)
    assert reduced == [3, 6, 9]
    assert stops == [6, 9]  # the first poll after iteration 4

    monkeypatch.undo()
    single = StopPoll(DistEnv(), every=3)  # one process: its own flags, every iteration
    assert single(1, signalled=True, out_of_time=False) == (True, False)
    assert single(2, signalled=False, out_of_time=True) == (False, True)


def test_run_keeps_absolute_data_roots_so_resume_works_from_anywhere(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Started with ``checkout/../data`` relative paths; the checkout goes away; --resume still finds the data."""
    (tmp_path / "checkout").mkdir()
    monkeypatch.chdir(tmp_path / "checkout")
    link = tmp_path / "data"
    link.symlink_to(data_dir)
    root = Path("..") / "data" / "sr_train" / "T91"
    cfg = resolve_config("sisr", "l1", overrides={**TINY, "data.root": str(root), "val.root": str(root), "iters": 2})
    assert train(cfg, tmp_path / "run", device="cpu", max_minutes=1e-6).iterations == 1
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    expected = str((data_dir / "sr_train" / "T91").resolve())
    assert saved["data"]["root"] == expected and saved["val"]["root"] == expected
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checkout").rmdir()
    assert train(None, tmp_path / "run", device="cpu", resume=True).iterations == 2
