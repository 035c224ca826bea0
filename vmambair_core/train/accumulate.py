"""What makes K micro-batches give the update of one whole batch (gradient accumulation).

Every loss of the recipes is a mean over samples, so the micro-batch losses weighted by their
share of the batch (``size / batch``) sum to the batch loss, and their gradients to its gradient.
Two things besides the weights keep it exact:

* DDP all-reduces only once, after the last micro-batch: the others run under ``no_sync``
  (``synced``), so the averaged gradient is the same as for one batch.
* Spectral normalisation's power iteration (the discriminator) runs at every forward in training
  mode, so K micro-batches would iterate K times as often and normalise by another sigma.
  ``OnePowerIteration`` lets the first micro-batch iterate and gives each later one, at the same
  call, the state that call left, without iterating again: every micro-batch then sees the sigma
  the whole batch would, and the state after the step is the whole batch's.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import TypeVar

from torch import Tensor, nn
from torch.nn.utils.spectral_norm import SpectralNorm

T = TypeVar("T")


def split_batch(lq: Tensor, gt: Tensor, accum: int) -> list[tuple[Tensor, Tensor, float]]:
    """``accum`` micro-batches (sizes differ by one at most) with their share of the batch."""
    n = lq.shape[0]
    k = max(1, min(accum, n))
    return [(a, b, a.shape[0] / n) for a, b in zip(lq.tensor_split(k), gt.tensor_split(k), strict=True)]


def synced(module: nn.Module, sync: bool) -> contextlib.AbstractContextManager[object]:
    """DDP's ``no_sync`` unless ``sync`` (forward and backward of the last micro-batch); a no-op without DDP."""
    no_sync = getattr(module, "no_sync", None)
    return contextlib.nullcontext() if sync or no_sync is None else no_sync()


def add_weighted(into: dict[str, Tensor], losses: dict[str, Tensor], weight: float) -> None:
    """Sum ``weight * loss`` (detached) per name: the logged loss is the mean over the whole batch."""
    for name, value in losses.items():
        v = value.detach() * weight
        into[name] = into[name] + v if name in into else v


class OnePowerIteration:
    """Spectral norm as for the whole batch (module doc). ``start(i)`` before micro-batch i's calls."""

    def __init__(self, net: nn.Module) -> None:
        self.net = net
        self.norms = [(m, hook.name) for m in net.modules() for hook in m._forward_pre_hooks.values()
                      if isinstance(hook, SpectralNorm)]
        self.after: list[list[tuple[Tensor, Tensor]]] = []  # (u, v) of every norm after each call
        self.micro = self.call = 0

    def start(self, micro: int) -> None:
        self.micro, self.call = micro, 0

    def __call__(self, fn: Callable[[], T]) -> T:
        if self.micro == 0:
            result = fn()
            self.after.append([(getattr(m, f"{n}_u").clone(), getattr(m, f"{n}_v").clone()) for m, n in self.norms])
        else:
            self._load(self.after[self.call])
            with _eval(self.net):  # no power iteration: the loaded state is used as it is
                result = fn()
        self.call += 1
        return result

    def settle(self) -> None:
        """Leave the state of the first micro-batch's last call, as the whole batch would; forget the rest."""
        if self.after:
            self._load(self.after[-1])
        self.after, self.micro, self.call = [], 0, 0

    def _load(self, state: list[tuple[Tensor, Tensor]]) -> None:
        # New tensors, not in-place copies: graphs of earlier micro-batches still hold the old ones.
        for (m, n), (u, v) in zip(self.norms, state, strict=True):
            m._buffers[f"{n}_u"] = u.clone()
            m._buffers[f"{n}_v"] = v.clone()


@contextlib.contextmanager
def _eval(net: nn.Module) -> Iterator[None]:
    was = net.training
    net.eval()
    try:
        yield
    finally:
        net.train(was)
