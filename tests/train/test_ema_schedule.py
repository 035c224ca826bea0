"""EMA arithmetic on a toy model and the cosine-restart schedule at hand-computed iterations."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from vmambair_core.errors import CheckpointError, ConfigError
from vmambair_core.train.ema import ModelEMA
from vmambair_core.train.schedule import CosineAnnealingRestartCyclicLR, cosine_restart_cyclic_lr

# ----------------------------------------------------------------------------- EMA


class Toy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2, 1)
        self.register_buffer("stat", torch.zeros(2))


def _set(model: Toy, w: list[float], b: float, stat: list[float]) -> None:
    with torch.no_grad():
        model.lin.weight.copy_(torch.tensor([w]))
        model.lin.bias.fill_(b)
        model.stat.copy_(torch.tensor(stat))


def test_ema_follows_the_recurrence():
    model = Toy()
    _set(model, [1.0, 2.0], 0.5, [0.0, 0.0])
    ema = ModelEMA(model, decay=0.999)
    torch.testing.assert_close(ema.module.lin.weight, model.lin.weight)  # starts as a copy
    _set(model, [3.0, -2.0], 1.5, [7.0, 8.0])
    ema.update(model)
    # 0.999 * old + 0.001 * new
    torch.testing.assert_close(ema.module.lin.weight, torch.tensor([[1.002, 1.996]]))
    torch.testing.assert_close(ema.module.lin.bias, torch.tensor([0.501]))
    torch.testing.assert_close(ema.module.stat, torch.tensor([7.0, 8.0]))  # buffers copied
    _set(model, [0.0, 0.0], 0.0, [1.0, 1.0])
    ema.update(model)
    torch.testing.assert_close(ema.module.lin.weight, torch.tensor([[1.002 * 0.999, 1.996 * 0.999]]))
    assert ema.num_updates == 2


def test_ema_converges_to_a_constant_model_geometrically():
    model = Toy()
    _set(model, [0.0, 0.0], 0.0, [0.0, 0.0])
    ema = ModelEMA(model, decay=0.5)
    _set(model, [1.0, 1.0], 1.0, [0.0, 0.0])
    for _ in range(5):
        ema.update(model)
    torch.testing.assert_close(ema.module.lin.bias, torch.tensor([1 - 0.5**5]))


def test_ema_copy_is_frozen_and_independent():
    model = Toy()
    ema = ModelEMA(model)
    assert not any(p.requires_grad for p in ema.module.parameters()) and not ema.module.training
    with torch.no_grad():
        model.lin.weight.add_(1.0)
    assert not torch.equal(ema.module.lin.weight, model.lin.weight)


def test_ema_state_dict_resumes_the_same_average():
    torch.manual_seed(0)
    model = Toy()
    ema = ModelEMA(model, decay=0.9)
    for _ in range(3):
        with torch.no_grad():
            model.lin.weight.add_(torch.randn(1, 2))
        ema.update(model)
    state = ema.state_dict()
    resumed = ModelEMA(Toy(), decay=0.5)
    resumed.load_state_dict(state)
    assert (resumed.decay, resumed.num_updates) == (0.9, 3)
    ema.update(model)
    resumed.update(model)
    torch.testing.assert_close(resumed.module.lin.weight, ema.module.lin.weight)


def test_ema_rejects_bad_values():
    with pytest.raises(ConfigError):
        ModelEMA(Toy(), decay=1.0)
    with pytest.raises(CheckpointError):
        ModelEMA(Toy()).load_state_dict({"decay": 0.9})
    with pytest.raises(CheckpointError):
        ModelEMA(Toy()).load_state_dict({"decay": 0.9, "num_updates": 1, "module": {"lin.weight": torch.zeros(1, 2)}})


# ----------------------------------------------------------------------------- schedule

DERAIN = {"periods": (92000, 208000), "restart_weights": (1, 1), "eta_mins": (3e-4, 1e-6)}  # mamber28
MAMBER32 = {"periods": (48000, 96000), "restart_weights": (1, 1), "eta_mins": (2.85e-4, 1e-6)}


def _scheduler(base_lr: float, **kw) -> tuple[torch.optim.Optimizer, CosineAnnealingRestartCyclicLR]:
    opt = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=base_lr)
    return opt, CosineAnnealingRestartCyclicLR(opt, **kw)


@pytest.mark.parametrize(
    ("iteration", "lr"),
    [
        (0, 3e-4),
        (50000, 3e-4),  # eta_min == base lr: flat first cycle
        (92000, 3e-4),  # a cycle ends at its last iteration inclusive
        (92000 + 104000, 1e-6 + 0.5 * 2.99e-4),  # half way down the cosine: 1.505e-4
        (92000 + 52000, 2.5621246e-4),  # quarter way: 1e-6 + 1.495e-4 * (1 + cos(pi/4))
        (300000, 1e-6),
    ],
)
def test_derain_schedule_values(iteration, lr):
    assert cosine_restart_cyclic_lr(iteration, 3e-4, **DERAIN) == pytest.approx(lr, rel=1e-7, abs=1e-15)
    opt, sched = _scheduler(3e-4, **DERAIN)
    sched.last_epoch = iteration - 1  # resume-style jump; step() moves to `iteration`
    opt.step()
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(lr, rel=1e-7, abs=1e-15)


def test_mamber32_lr_rises_then_restarts_and_stops_at_144k():
    f = lambda t: cosine_restart_cyclic_lr(t, 1e-4, **MAMBER32)  # noqa: E731
    assert f(0) == pytest.approx(1e-4)
    assert f(24000) == pytest.approx(1.925e-4)  # 2.85e-4 - 0.925e-4
    assert f(48000) == pytest.approx(2.85e-4)
    rising = [f(t) for t in range(0, 48001, 4000)]
    assert all(a < b for a, b in zip(rising, rising[1:]))
    assert f(48001) == pytest.approx(1e-4, rel=1e-6)  # drops back at the restart
    assert f(144000) == pytest.approx(1e-6)
    with pytest.raises(ConfigError, match="past the last cosine period"):
        f(144001)


def test_scheduler_steps_like_the_closed_form_and_resumes():
    periods = {"periods": (5, 10), "restart_weights": (1, 0.5), "eta_mins": (2e-3, 1e-5)}
    opt, sched = _scheduler(1e-3, **periods)
    seen = [opt.param_groups[0]["lr"]]
    for _ in range(15):
        opt.step()
        sched.step()
        seen.append(opt.param_groups[0]["lr"])
    expected = [cosine_restart_cyclic_lr(t, 1e-3, **periods) for t in range(16)]
    assert seen == pytest.approx(expected, rel=1e-12)
    # Restart weight 0.5 scales the second cycle's amplitude: first value after the restart.
    assert seen[6] == pytest.approx(1e-5 + 0.5 * 0.5 * (1e-3 - 1e-5) * (1 + math.cos(math.pi / 10)))
    assert sched.total_period == 15

    state = sched.state_dict()
    opt2, sched2 = _scheduler(1e-3, **periods)
    sched2.load_state_dict(state)
    assert sched2.last_epoch == 15
    opt.step()
    with pytest.raises(ConfigError):
        sched.step()


def test_scheduler_rejects_mismatched_lists():
    with pytest.raises(ConfigError, match="same length"):
        _scheduler(1e-3, periods=(10, 10), restart_weights=(1, 1), eta_mins=(0,))
    with pytest.raises(ConfigError):
        _scheduler(1e-3, periods=(0,), restart_weights=(1,), eta_mins=(0,))
