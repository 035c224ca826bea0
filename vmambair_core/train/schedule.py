"""Learning-rate schedules beyond torch's (MultiStepLR is used as is for realsr/sisr).

``CosineAnnealingRestartCyclicLR`` is the derain schedule of Restormer's BasicSR fork that
VmambaIR trains with. At iteration ``t`` (the scheduler's ``last_epoch``: the number of
``step()`` calls, i.e. BasicSR's ``current_iter``), with cumulative period ends
``c_0 < c_1 < ...`` and ``i`` the first cycle with ``t <= c_i``::

    lr = eta_i + w_i * (base_lr - eta_i) * (1 + cos(pi * (t - c_{i-1}) / p_i)) / 2

(``c_{-1} = 0``). Quirks kept on purpose: a cycle ends *at* ``t = c_i`` inclusive; nothing
forces ``eta_i <= base_lr``, so with ``eta_i > base_lr`` the lr *rises* from ``base_lr`` to
``eta_i`` over the cycle (the mamber32 fine-tune: 1e-4 -> 2.85e-4 over 48k iterations, then
back to ~1e-4 at the restart); ``eta_i == base_lr`` gives a flat cycle (mamber28: 3e-4 for 92k).
Past the last period the original code fails with an index error (mamber32 sets 156k
iterations on periods summing to 144k); here it is a ``ConfigError`` saying so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from vmambair_core.errors import ConfigError


def cosine_restart_cyclic_lr(
    iteration: int,
    base_lr: float,
    periods: Sequence[int],
    restart_weights: Sequence[float],
    eta_mins: Sequence[float],
) -> float:
    """The schedule's lr at ``iteration`` (see the module docstring); raises past the last period."""
    start = 0
    for period, weight, eta in zip(periods, restart_weights, eta_mins):
        if iteration <= start + period:
            progress = (iteration - start) / period
            return eta + weight * 0.5 * (base_lr - eta) * (1.0 + math.cos(math.pi * progress))
        start += period
    raise ConfigError(
        f"iteration {iteration} is past the last cosine period (periods {list(periods)} end at {start}); "
        "make the periods sum to at least the total number of iterations"
    )


class CosineAnnealingRestartCyclicLR(LRScheduler):
    """Cosine cycles of lengths ``periods``, each with its own restart weight and ``eta_min``."""

    def __init__(
        self,
        optimizer: Optimizer,
        periods: Sequence[int],
        restart_weights: Sequence[float] = (1.0,),
        eta_mins: Sequence[float] = (0.0,),
        last_epoch: int = -1,
    ) -> None:
        if not periods or any(int(p) != p or p <= 0 for p in periods):
            raise ConfigError(f"periods must be positive integers, got {list(periods)}")
        if len(restart_weights) != len(periods) or len(eta_mins) != len(periods):
            raise ConfigError(
                f"periods ({len(periods)}), restart_weights ({len(restart_weights)}) and eta_mins "
                f"({len(eta_mins)}) must have the same length"
            )
        if any(e < 0 for e in eta_mins):
            raise ConfigError(f"eta_mins must be non-negative, got {list(eta_mins)}")
        self.periods = tuple(int(p) for p in periods)
        self.restart_weights = tuple(float(w) for w in restart_weights)
        self.eta_mins = tuple(float(e) for e in eta_mins)
        super().__init__(optimizer, last_epoch)

    @property
    def total_period(self) -> int:
        """The last iteration the schedule covers; check ``total_iter <= total_period`` up front."""
        return sum(self.periods)

    def get_lr(self) -> list[float]:  # type: ignore[override]
        return [
            cosine_restart_cyclic_lr(self.last_epoch, float(base), self.periods, self.restart_weights, self.eta_mins)
            for base in self.base_lrs
        ]
