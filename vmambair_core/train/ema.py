"""Exponential moving average of a model's weights (BasicSR's ``model_ema``, decay 0.999).

After every optimiser step: ``ema = decay * ema + (1 - decay) * param`` for each floating-point
parameter, starting from an exact copy of the model (BasicSR calls ``model_ema(0)`` at start).
Buffers are copied, not averaged: BasicSR leaves the EMA net's buffers at their initial
values, which is only equivalent while they are constants; copying keeps them right when they
are not. Non-float tensors (counters) are copied too. The averaged weights are what the
authors save as ``params_ema`` and evaluate.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from vmambair_core.errors import CheckpointError, ConfigError


class ModelEMA:
    """Holds a frozen copy of ``model`` in eval mode and averages ``model`` into it.

    ``state_dict()`` / ``load_state_dict()`` carry the decay, the update count and the averaged
    module so a resumed run continues the same average.
    """

    def __init__(self, model: nn.Module, decay: float = 0.999) -> None:
        if not 0.0 <= decay < 1.0:
            raise ConfigError(f"EMA decay must lie in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.num_updates = 0
        self.module = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Average ``model``'s current weights into the copy (call after ``optimizer.step()``)."""
        ema_params = dict(self.module.named_parameters())
        for name, param in model.named_parameters():
            target = ema_params[name]
            if target.dtype.is_floating_point:
                target.lerp_(param.detach().to(target.dtype), 1.0 - self.decay)
            else:
                target.copy_(param.detach())
        ema_buffers = dict(self.module.named_buffers())
        for name, buf in model.named_buffers():
            ema_buffers[name].copy_(buf.detach())
        self.num_updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "num_updates": self.num_updates, "module": self.module.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a saved average; the module layout must match exactly (strict load)."""
        try:
            decay, updates, weights = float(state["decay"]), int(state["num_updates"]), state["module"]
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"not an EMA state (need decay, num_updates, module): {exc}") from exc
        try:
            self.module.load_state_dict(weights, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"EMA weights do not match the model: {exc}") from exc
        self.decay, self.num_updates = decay, updates
