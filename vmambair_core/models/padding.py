"""Bottom/right padding to a size multiple, as the authors' test scripts do before the network."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def _pad_axis_reflect(x: Tensor, amount: int, dim: int) -> Tensor:
    """Reflect-pad the end of ``dim``; images shorter than the pad reflect repeatedly (torch's reflect
    needs pad < size), and a length-1 axis is replicated (nothing to reflect)."""
    while amount > 0:
        size = x.shape[dim]
        step = min(amount, size - 1)
        pad = [0, 0, 0, 0]
        if step <= 0:
            pad[1 if dim == -1 else 3] = amount
            return F.pad(x, pad, mode="replicate")
        pad[1 if dim == -1 else 3] = step
        x = F.pad(x, pad, mode="reflect")
        amount -= step
    return x


def pad_to_multiple(x: Tensor, multiple: int) -> tuple[Tensor, tuple[int, int]]:
    """Reflect-pad a (B, C, H, W) tensor at the bottom/right so H and W are multiples of ``multiple``.

    Returns the padded tensor and (pad_h, pad_w). Equals ``F.pad(x, (0, pw, 0, ph), 'reflect')``
    whenever that is defined (pad < size), which is what BasicSR/the authors call.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph == 0 and pw == 0:
        return x, (0, 0)
    if ph < h and pw < w:
        return F.pad(x, (0, pw, 0, ph), mode="reflect"), (ph, pw)
    return _pad_axis_reflect(_pad_axis_reflect(x, pw, -1), ph, -2), (ph, pw)
