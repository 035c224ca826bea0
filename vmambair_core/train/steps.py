"""The pieces a recipe trains with, and one optimisation step (BasicSR's ``optimize_parameters``).

``build_parts`` turns a config into the generator's optimiser and schedule, the EMA copy, the
losses, and for GAN stages the U-Net discriminator with its own optimiser and schedule.
``train_step`` is one iteration::

    G: out = G(lq); loss = l1 [+ perceptual] [+ pattern] [+ gan(D(out), real) + fm(D(out), D(gt))]
                                                                      (D frozen) -> step G
    D: gan(D(gt), real) + gan(D(out.detach()), fake)                           -> step D
    EMA(G)

With ``accum`` K the batch runs as K micro-batches whose gradients add up before the one step of G
and of D (``train.accumulate``). Schedulers advance *before* the step, so iteration t (1-based) runs at lr(t), as BasicSR's
``update_learning_rate(current_iter)`` does. fp16 uses a GradScaler; bf16 and fp32 do not.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Adam, AdamW, Optimizer
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.optim.lr_scheduler import LRScheduler, MultiStepLR

from vmambair_core.device import autocast_for
from vmambair_core.train.accumulate import OnePowerIteration, add_weighted, split_batch, synced
from vmambair_core.train.config import OptimizerConfig, SchedulerConfig, TrainConfig
from vmambair_core.train.discriminator import UNetDiscriminatorSN
from vmambair_core.train.distributed import DistEnv
from vmambair_core.train.ema import ModelEMA
from vmambair_core.train.losses import (
    FeatureMatchingLoss, GANLoss, L1Loss, PerceptualLoss, PeriodicPatternLoss, usm_sharpen,
)
from vmambair_core.train.schedule import CosineAnnealingRestartCyclicLR


def make_optimizer(params: Any, cfg: OptimizerConfig) -> Optimizer:
    kind = AdamW if cfg.kind == "adamw" else Adam
    return kind(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def make_scheduler(opt: Optimizer, cfg: SchedulerConfig) -> LRScheduler:
    if cfg.kind == "cosine_restart":
        return CosineAnnealingRestartCyclicLR(opt, cfg.periods, cfg.restart_weights, cfg.eta_mins)
    return MultiStepLR(opt, milestones=list(cfg.milestones), gamma=cfg.gamma)


def advance(scheduler: LRScheduler) -> None:
    """One scheduler step ahead of the optimiser (BasicSR's order; torch warns about it)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step\\(\\)`")
        scheduler.step()


@dataclass
class Parts:
    """Everything that changes during training (and therefore goes into a checkpoint)."""

    net: nn.Module  # the raw generator: saved, averaged, validated
    opt_g: Optimizer
    sched_g: LRScheduler
    pixel: L1Loss
    dtype: torch.dtype
    scaler: torch.amp.GradScaler
    ema: ModelEMA | None = None
    net_d: UNetDiscriminatorSN | None = None
    opt_d: Optimizer | None = None
    sched_d: LRScheduler | None = None
    perceptual: PerceptualLoss | None = None
    gan: GANLoss | None = None
    feature_matching: FeatureMatchingLoss | None = None
    pattern: PeriodicPatternLoss | None = None
    usm_gt: bool = False
    grad_clip: float | None = None
    train_g: nn.Module | None = None  # what the step calls: compiled and/or DDP-wrapped generator
    train_d: nn.Module | None = None  # DDP-wrapped discriminator
    loss_names: list[str] = field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.net.state_dict(),
            "ema": self.ema.state_dict() if self.ema else None,
            "net_d": self.net_d.state_dict() if self.net_d else None,
            "optimizers": {"g": self.opt_g.state_dict(), "d": self.opt_d.state_dict() if self.opt_d else None},
            "schedulers": {"g": self.sched_g.state_dict(), "d": self.sched_d.state_dict() if self.sched_d else None},
            "scaler": self.scaler.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"], strict=True)
        if self.ema is not None:
            self.ema.load_state_dict(state["ema"])
        if self.net_d is not None:
            self.net_d.load_state_dict(state["net_d"], strict=True)
        self.opt_g.load_state_dict(state["optimizers"]["g"])
        self.sched_g.load_state_dict(state["schedulers"]["g"])
        if self.opt_d is not None and self.sched_d is not None:
            self.opt_d.load_state_dict(state["optimizers"]["d"])
            self.sched_d.load_state_dict(state["schedulers"]["d"])
        self.scaler.load_state_dict(state["scaler"])


def build_parts(cfg: TrainConfig, net: nn.Module, device: torch.device, dtype: torch.dtype) -> Parts:
    """Optimisers, schedules, losses, EMA and discriminator for ``cfg`` (VGG19 loads first: fails fast)."""
    perceptual = gan = net_d = opt_d = sched_d = fm = pattern = None
    names = ["l_pix"]
    if cfg.loss.perceptual > 0:
        perceptual = PerceptualLoss(
            cfg.loss.vgg_weights, layer_weights=cfg.loss.perceptual_layers, weight=cfg.loss.perceptual
        ).to(device)
        names.append("l_percep")
    if cfg.loss.pattern > 0:
        pattern = PeriodicPatternLoss(cfg.scale, cfg.loss.pattern)
        names.append("l_pattern")
    if cfg.stage == "gan":
        assert cfg.optim_d is not None and cfg.sched_d is not None
        gan = GANLoss(weight=cfg.loss.gan)
        net_d = UNetDiscriminatorSN(3, cfg.loss.disc_features, skip_connection=True).to(device)
        opt_d = make_optimizer(net_d.parameters(), cfg.optim_d)
        sched_d = make_scheduler(opt_d, cfg.sched_d)
        if cfg.loss.feature_matching > 0:
            fm = FeatureMatchingLoss(cfg.loss.feature_matching)
            names.append("l_fm")
        names += ["l_gan", "l_d_real", "l_d_fake"]
    opt_g = make_optimizer(net.parameters(), cfg.optim_g)
    return Parts(
        net=net, opt_g=opt_g, sched_g=make_scheduler(opt_g, cfg.sched_g), pixel=L1Loss(cfg.loss.pixel),
        dtype=dtype, scaler=torch.amp.GradScaler(device.type, enabled=dtype == torch.float16),
        ema=ModelEMA(net, cfg.ema_decay) if cfg.ema_decay is not None else None,
        net_d=net_d, opt_d=opt_d, sched_d=sched_d, perceptual=perceptual, gan=gan, feature_matching=fm,
        pattern=pattern, usm_gt=cfg.loss.usm_gt, grad_clip=cfg.grad_clip,
        train_g=net, train_d=net_d, loss_names=names,
    )


def _generator_losses(
    p: Parts, train_g: nn.Module, lq: Tensor, gt: Tensor, device: torch.device, d_call: Callable[[Callable[[], Any]], Any],
) -> tuple[Tensor, dict[str, Tensor]]:
    """The generator's output and loss terms on one (micro-)batch; D is called through ``d_call``."""
    gt_pix = usm_sharpen(gt) if p.usm_gt else gt
    with autocast_for(device, p.dtype):
        out = train_g(lq)
        losses = {"l_pix": p.pixel(out.float(), gt_pix)}
        if p.perceptual is not None:
            losses["l_percep"] = p.perceptual(out, gt_pix)
        if p.pattern is not None:
            losses["l_pattern"] = p.pattern(out, gt)
        if p.net_d is not None and p.gan is not None:
            net_d = p.net_d
            # The raw D: its gradients are not wanted here, so no DDP synchronisation either.
            logits, fake_features = d_call(lambda: net_d.forward_features(out))
            if p.feature_matching is not None:
                with torch.no_grad():
                    real_features = d_call(lambda: net_d.forward_features(gt))[1]
                losses["l_fm"] = p.feature_matching(fake_features, real_features)
            losses["l_gan"] = p.gan(logits.float(), True, is_disc=False)
    return out, losses


def _direct(fn: Callable[[], Any]) -> Any:
    return fn()


def train_step(p: Parts, lq: Tensor, gt: Tensor, device: torch.device, accum: int = 1) -> dict[str, Tensor]:
    """One iteration on the batch, as ``accum`` micro-batches (``train.accumulate``: the same update as
    one step on the whole batch); returns the detached loss terms, means over the batch (no host sync)."""
    train_g = p.train_g or p.net
    advance(p.sched_g)
    if p.sched_d is not None:
        advance(p.sched_d)
    micro = split_batch(lq, gt, accum)
    last = len(micro) - 1
    once = OnePowerIteration(p.net_d) if p.net_d is not None and last > 0 else None
    d_call = once if once is not None else _direct

    if p.net_d is not None:
        p.net_d.requires_grad_(False)
    p.opt_g.zero_grad(set_to_none=True)
    logged: dict[str, Tensor] = {}
    outs: list[Tensor] = []
    for i, (lq_i, gt_i, share) in enumerate(micro):
        if once is not None:
            once.start(i)
        with synced(train_g, i == last):
            out, losses = _generator_losses(p, train_g, lq_i, gt_i, device, d_call)
            total = sum(losses.values(), torch.zeros((), device=device))
            p.scaler.scale(total * share).backward()
        add_weighted(logged, losses, share)
        outs.append(out.detach())
    if once is not None:
        once.settle()
    if p.grad_clip is not None:
        p.scaler.unscale_(p.opt_g)
        torch.nn.utils.clip_grad_norm_(p.net.parameters(), p.grad_clip)
    p.scaler.step(p.opt_g)

    if p.net_d is not None and p.opt_d is not None and p.gan is not None:
        train_d = p.train_d or p.net_d
        p.net_d.requires_grad_(True)
        p.opt_d.zero_grad(set_to_none=True)
        for i, ((_, gt_i, share), out) in enumerate(zip(micro, outs, strict=True)):
            if once is not None:
                once.start(i)
            with synced(train_d, False):  # only the last backward of the last micro-batch all-reduces
                with autocast_for(device, p.dtype):
                    l_real = p.gan(d_call(lambda: train_d(gt_i)).float(), True, is_disc=True)
                p.scaler.scale(l_real * share).backward()
            with synced(train_d, i == last):
                with autocast_for(device, p.dtype):
                    l_fake = p.gan(d_call(lambda: train_d(out.clone())).float(), False, is_disc=True)
                p.scaler.scale(l_fake * share).backward()
            add_weighted(logged, {"l_d_real": l_real, "l_d_fake": l_fake}, share)
        if once is not None:
            once.settle()
        p.scaler.step(p.opt_d)
    p.scaler.update()
    if p.ema is not None:
        p.ema.update(p.net)
    return logged


def wrap_for_training(parts: Parts, cfg: TrainConfig, env: DistEnv) -> None:
    """torch.compile (optional), then DDP; the raw modules stay in ``parts`` for saving."""
    g: torch.nn.Module = parts.net
    if cfg.compile:
        g = torch.compile(g)  # type: ignore[assignment]
    if env.ddp:
        ids = [env.device.index] if env.device.type == "cuda" else None
        g = DDP(g, device_ids=ids)
        if parts.net_d is not None:
            parts.train_d = DDP(parts.net_d, device_ids=ids)
    parts.train_g = g
