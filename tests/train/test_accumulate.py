"""Gradient accumulation: K micro-batches of B/K give the update of one batch of B (G, D, EMA, DDP sync)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import torch
from torch import nn

from vmambair_core.models import build_model
from vmambair_core.train import resolve_config
from vmambair_core.train.accumulate import split_batch
from vmambair_core.train.steps import Parts, build_parts, train_step

CPU = torch.device("cpu")
#: Float32 sums in another order: the gradients (Adam's first moments) agree to this share of their scale
#: (as in the DDP test; a missing accumulation is off by far more, see below).
NOISE = 1e-4


def _cfg(stage: str = "l1", batch: int = 4):
    file = {"loss": {"perceptual": 0.0, "feature_matching": 0.5, "disc_features": 8}} if stage == "gan" else {}
    return resolve_config("sisr", stage, file=file, overrides={
        "model.dim": 4, "model.blocks": 1, "data.patch_size": 32, "data.batch_size": batch})


def _parts(cfg) -> Parts:
    torch.manual_seed(0)
    return build_parts(cfg, build_model(cfg.network()), CPU, torch.float32)


def _batch(n: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 3, 8, 8, generator=g), torch.rand(n, 3, 32, 32, generator=g)


def _moments(opt: torch.optim.Optimizer, key: str = "exp_avg") -> list[torch.Tensor]:
    return [opt.state[p][key] for group in opt.param_groups for p in group["params"]]


def _assert_same_update(a: Parts, b: Parts) -> None:
    """Adam's moments (the gradients) agree to float noise; weights and EMA agree where the gradient is
    clear of that noise (Adam turns a noise-level gradient into a +-lr step of random sign)."""
    live_g: list[torch.Tensor] = []
    pairs = [(a.opt_g, b.opt_g, a.net, b.net)]
    if a.opt_d is not None and b.opt_d is not None and a.net_d is not None and b.net_d is not None:
        pairs.append((a.opt_d, b.opt_d, a.net_d, b.net_d))
    for opt_a, opt_b, net_a, net_b in pairs:
        m_a, m_b = _moments(opt_a), _moments(opt_b)
        scale = max(m.abs().max().item() for m in m_a)
        noise = max((x - y).abs().max().item() for x, y in zip(m_a, m_b))
        assert noise < NOISE * scale, (noise, scale)
        lr = opt_a.param_groups[0]["lr"]
        for m, p_a, p_b in zip(m_a, net_a.parameters(), net_b.parameters()):
            live = m.abs() > 1000 * max(noise, 1e-30)
            assert ((p_a - p_b).abs() * live).max().item() < 1e-3 * lr
            if net_a is a.net:
                live_g.append(live)
    if a.ema is not None and b.ema is not None:
        assert a.ema.num_updates == b.ema.num_updates  # one average per step, not per micro-batch
        lr = a.opt_g.param_groups[0]["lr"]
        for e_a, e_b, live in zip(a.ema.module.parameters(), b.ema.module.parameters(), live_g):
            assert ((e_a - e_b).abs() * live).max().item() < 1e-3 * lr
    if a.net_d is not None and b.net_d is not None:  # spectral norm's power-iteration state as for one batch
        u_a = {k: v for k, v in a.net_d.state_dict().items() if k.endswith(("_u", "_v"))}
        u_b = b.net_d.state_dict()
        assert u_a and all(torch.allclose(v, u_b[k], atol=1e-6) for k, v in u_a.items())


class _Counting(nn.Module):
    """A stand-in for DDP: counts forwards under ``no_sync`` and the batch sizes it is given."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.unsynced, self.synced_calls, self.sizes = inner, 0, 0, []
        self._off = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(x.shape[0])
        if self._off:
            self.unsynced += 1
        else:
            self.synced_calls += 1
        return self.inner(x)

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        self._off = True
        try:
            yield
        finally:
            self._off = False


def test_split_batch_weights_sum_to_one() -> None:
    lq, gt = _batch(5)
    parts = split_batch(lq, gt, 3)
    assert [p[0].shape[0] for p in parts] == [2, 2, 1] and sum(p[2] for p in parts) == pytest.approx(1.0)
    assert torch.equal(torch.cat([p[1] for p in parts]), gt)
    assert len(split_batch(lq, gt, 9)) == 5  # never an empty micro-batch


@pytest.mark.parametrize("accum", [2, 3])
def test_micro_batches_give_the_whole_batch_update(accum: int) -> None:
    cfg = _cfg()
    whole, split = _parts(cfg), _parts(cfg)
    counted = _Counting(split.net)
    split.train_g = counted
    lq, gt = _batch()
    for _ in range(2):
        l_whole = train_step(whole, lq, gt, CPU)
        l_split = train_step(split, lq, gt, CPU, accum)
    assert counted.sizes == [2, 2] * 2 if accum == 2 else counted.sizes == [2, 1, 1] * 2  # really in pieces
    assert counted.unsynced == 2 * (accum - 1) and counted.synced_calls == 2  # only the last one all-reduces
    _assert_same_update(whole, split)
    assert l_split["l_pix"].item() == pytest.approx(l_whole["l_pix"].item(), rel=1e-5)  # mean over the batch


def test_the_check_sees_a_missing_accumulation() -> None:
    """Stepping on the last micro-batch alone (gradients not accumulated) is far from the whole batch."""
    cfg = _cfg()
    whole, last_only = _parts(cfg), _parts(cfg)
    lq, gt = _batch()
    train_step(whole, lq, gt, CPU)
    train_step(last_only, lq[2:], gt[2:], CPU)
    with pytest.raises(AssertionError):
        _assert_same_update(whole, last_only)


def test_gan_stage_accumulates_generator_and_discriminator() -> None:
    cfg = _cfg("gan")
    whole, split = _parts(cfg), _parts(cfg)
    counted_d = _Counting(split.net_d)
    split.train_d = counted_d
    lq, gt = _batch()
    # One step: the moments are then the gradients themselves (a second step would add Adam's +-lr
    # steps on noise-level gradients of the first to the comparison).
    l_whole = train_step(whole, lq, gt, CPU)
    l_split = train_step(split, lq, gt, CPU, 2)
    assert counted_d.unsynced == 3 and counted_d.synced_calls == 1  # real+fake per micro-batch, one sync
    _assert_same_update(whole, split)
    assert set(l_split) == set(l_whole) >= {"l_fm", "l_gan", "l_d_real", "l_d_fake"}
    for k, v in l_whole.items():
        assert l_split[k].item() == pytest.approx(v.item(), rel=1e-4), k
