"""Several processes: torchrun flags, and two gloo workers == one process with the same total batch."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
import torch

from tests.fake_cuda import fake_cuda
from vmambair_core.errors import ConfigError
from vmambair_core.models import build_model
from vmambair_core.train import resolve_config, train
from vmambair_core.train import distributed as dist_module
from vmambair_core.train.distributed import DistEnv, any_rank, mean_across, torchrun_args

#: DDP averages the two ranks' mean gradients, one process takes the mean over all four samples:
#: equal in exact arithmetic, different in summation order, so Adam's moments agree to this
#: relative tolerance. The weights agree as well except where a gradient is itself at the noise
#: level (~1e-7 here; e.g. biases followed by a normalisation have zero gradient in exact
#: arithmetic): Adam normalises such noise into a +-lr step of random sign, as it would between
#: any two runs with a different reduction order. Those elements (|grad| < LIVE x the measured
#: moment discrepancy) are left out of the weight comparison.
DDP_TOLERANCE = 1e-4
LIVE = 1000


def test_torchrun_args() -> None:
    assert torchrun_args(2) == ["--standalone", "--nproc-per-node=2"]
    assert torchrun_args(8, nnodes=2, node_rank=1, master_addr="10.0.0.1") == [
        "--nproc-per-node=8", "--nnodes=2", "--node-rank=1", "--master-addr=10.0.0.1", "--master-port=29500"]
    assert torchrun_args(1, master_port=1234)[-1] == "--master-port=1234"
    with pytest.raises(ConfigError, match="master-addr"):
        torchrun_args(8, nnodes=2, node_rank=0)
    with pytest.raises(ConfigError, match="node_rank"):
        torchrun_args(8, nnodes=2, node_rank=2, master_addr="h")


def test_single_process_helpers_pass_through() -> None:
    env = DistEnv()
    assert not env.ddp and env.master
    assert any_rank(env, True) and not any_rank(env, False)
    assert mean_across(env, {"l": 2.0}) == {"l": 2.0}


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(data_dir: Path, tmp_path: Path) -> None:
    data = str(data_dir / "sr_train" / "T91")
    common = ["--task", "sisr", "--data", data, "--iters", "2", "--patch-size", "16", "--model-dim", "4",
              "--model-blocks", "1", "--workers", "0", "--device", "cpu", "--log-every", "1", "--quiet"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "vmambair_cli", "train", *common, "--batch-size", "2", "--gpus", "2", "-o",
         str(tmp_path / "ddp")], capture_output=True, text=True, env=env, timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "2 process(es)" in (tmp_path / "ddp" / "train.log").read_text()
    assert (tmp_path / "ddp" / "checkpoints" / "iter_00000002" / "rank_1.pt").is_file()

    cfg = resolve_config("sisr", overrides={
        "data.root": data, "iters": 2, "data.patch_size": 16, "model.dim": 4, "model.blocks": 1,
        "data.workers": 0, "data.batch_size": 4})
    single = train(cfg, tmp_path / "one", device="cpu")
    a = torch.load(single.checkpoint / "state.pt", weights_only=True)
    b = torch.load(tmp_path / "ddp" / "checkpoints" / "iter_00000002" / "state.pt", weights_only=True)
    # DDP's job is the averaged gradient: Adam's moments must agree everywhere.
    names = [n for n, _ in build_model(cfg.network()).named_parameters()]

    def moments(state: dict, key: str) -> dict[str, torch.Tensor]:
        return {names[i]: v[key] for i, v in state["optimizers"]["g"]["state"].items()}

    m_a, m_b = moments(a, "exp_avg"), moments(b, "exp_avg")
    scale = max(m.abs().max().item() for m in m_a.values())
    noise = max((m_a[k] - m_b[k]).abs().max().item() for k in names)
    assert noise < DDP_TOLERANCE * scale, (noise, scale)
    v_a, v_b = moments(a, "exp_avg_sq"), moments(b, "exp_avg_sq")
    assert max((v_a[k] - v_b[k]).abs().max().item() for k in names) < DDP_TOLERANCE * max(
        v.max().item() for v in v_a.values())
    # Weights: equal (to 1% of one lr step) wherever the gradient stands clear of that noise.
    live = {k: m_a[k].abs() > LIVE * noise for k in names}
    diff = max(((a["model"][k] - b["model"][k]).abs() * live[k]).max().item() for k in names)
    assert diff < 1e-2 * cfg.optim_g.lr, diff
    assert sum(int(v.sum()) for v in live.values()) > 1000
    # The comparison can fail: one process on rank 0's half of the data (batch 2) differs far more.
    half = train(replace(cfg, data=replace(cfg.data, batch_size=2)), tmp_path / "half", device="cpu")
    m_c = moments(torch.load(half.checkpoint / "state.pt", weights_only=True), "exp_avg")
    assert max((m_a[k] - m_c[k]).abs().max().item() for k in names) > 100 * DDP_TOLERANCE * scale


def test_single_process_setup_makes_its_gpu_current(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without torchrun nothing else calls torch.cuda.set_device: the loader's pin-memory thread and
    kernels launched on the current device would use GPU 0 for --device cuda:1."""
    cuda = fake_cuda(monkeypatch, 2)
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    env = dist_module.setup("cuda:1")
    assert env.device == torch.device("cuda", 1) and not env.ddp
    assert cuda.set_device_calls == [1]


@pytest.mark.parametrize(("device", "backend"), [("cuda", "nccl"), ("cpu", "gloo")])
def test_the_process_group_waits_out_a_long_rank0_validation(monkeypatch: pytest.MonkeyPatch, device: str,
                                                            backend: str) -> None:
    """The other ranks wait in a barrier while rank 0 validates and saves; NCCL's default 10 minutes is
    too short for a full-size validation set."""
    cuda = fake_cuda(monkeypatch, 2)
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    calls: list[dict] = []
    monkeypatch.setattr(dist_module.dist, "init_process_group", lambda **kwargs: calls.append(kwargs))
    env = dist_module.setup(device)
    assert env.ddp and env.rank == 1
    (kwargs,) = calls
    assert kwargs["backend"] == backend and kwargs["timeout"] >= timedelta(hours=1)
    if device == "cuda":
        assert env.device == torch.device("cuda", 1) and cuda.current == 1
