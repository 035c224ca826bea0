"""Per-rank RNG states survive a resume on a machine that shows other GPUs (simulated CUDA state)."""

from __future__ import annotations

import pytest
import torch

from tests.fake_cuda import fake_cuda
from vmambair_core.train.checkpoint import rng_state, set_rng_state

CUDA0, CUDA1 = torch.device("cuda", 0), torch.device("cuda", 1)


def test_only_the_run_device_generator_is_saved(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = fake_cuda(monkeypatch, 4)
    state = rng_state(CUDA1)
    assert torch.equal(state["cuda"], cuda.generators[1].get_state())
    assert "cuda" not in rng_state(torch.device("cpu"))  # a CPU run keeps no GPU state


def test_resume_with_fewer_gpus_restores_onto_the_run_device(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 2)
    saved = rng_state(CUDA1)
    cuda = fake_cuda(monkeypatch, 1)  # another machine, or CUDA_VISIBLE_DEVICES with one GPU
    set_rng_state(saved, CUDA0)
    assert torch.equal(cuda.generators[0].get_state(), saved["cuda"])


def test_an_all_gpus_checkpoint_restores_with_fewer_gpus_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints written before held every visible GPU's state; torch's set_rng_state_all on such a
    list raises IndexError once fewer GPUs are visible. The run device's entry is used, the rest ignored."""
    cuda = fake_cuda(monkeypatch, 1)
    states = [torch.full((16,), 50 + i, dtype=torch.uint8) for i in range(4)]
    with pytest.raises(IndexError):
        torch.cuda.set_rng_state_all(states)  # what restoring the list whole does here
    set_rng_state({**rng_state(CUDA0), "cuda": states}, CUDA0)
    assert torch.equal(cuda.generators[0].get_state(), states[0])


def test_a_gpu_checkpoint_resumes_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_cuda(monkeypatch, 1)
    saved = rng_state(CUDA0)
    monkeypatch.undo()
    torch.manual_seed(3)
    set_rng_state(saved, torch.device("cpu"))  # no GPU here: the CUDA state is ignored, the rest restored
    assert torch.equal(torch.get_rng_state(), saved["torch"])
