"""Bottom/right padding to a size multiple, as the authors' test scripts do before the network.

The one implementation used by the network's ``forward`` and by tiled inference.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError, InputError

PadMode = Literal["reflect", "replicate"]


def _reflect_indices(size: int, pad: int, device: torch.device) -> Tensor:
    """Source index of each of ``size + pad`` positions under repeated reflection (period 2(size-1))."""
    positions = torch.arange(size + pad, device=device)
    if size == 1:
        return torch.zeros_like(positions)
    period = 2 * (size - 1)
    folded = positions % period
    return torch.where(folded < size, folded, period - folded)


def pad_to_multiple(x: Tensor, multiple: int = 8, mode: PadMode = "reflect") -> tuple[Tensor, tuple[int, int]]:
    """Pad the bottom/right of ``x`` [B, C, H, W] up to multiples of ``multiple``; return (x, (pad_h, pad_w)).

    ``reflect`` is the authors' choice (``F.pad(x, (0, pw, 0, ph), 'reflect')``). Torch's reflect
    needs pad < size; smaller images (a 3-pixel side padded to 8) are reflected repeatedly, like
    ``numpy.pad(mode="reflect")``, and a 1-pixel side is repeated (its only reflection).
    """
    if not isinstance(x, Tensor) or x.ndim != 4 or 0 in x.shape:
        found = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise InputError(f"expected a non-empty [B, C, H, W] tensor, got {found}")
    if not isinstance(multiple, int) or multiple < 1:
        raise ConfigError(f"multiple must be a positive integer, got {multiple!r}")
    if mode not in ("reflect", "replicate"):
        raise ConfigError(f"unknown padding mode {mode!r}; use 'reflect' or 'replicate'")
    height, width = x.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h == 0 and pad_w == 0:
        return x, (0, 0)
    if mode == "replicate" or (pad_h < height and pad_w < width):
        return F.pad(x, (0, pad_w, 0, pad_h), mode=mode), (pad_h, pad_w)
    rows = _reflect_indices(height, pad_h, x.device)
    cols = _reflect_indices(width, pad_w, x.device)
    return x.index_select(-2, rows).index_select(-1, cols), (pad_h, pad_w)
