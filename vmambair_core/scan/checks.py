"""Argument checks every selective-scan backend shares, so each names the offending tensor the same way.

Backends call ``check_scan_inputs`` at their boundary (the public scan function or its autograd
``forward``) and trust the shapes inside; dtype and device rules stay with each backend, since they
differ (the reference takes float64, the compiled kernels do not).
"""

from __future__ import annotations

from torch import Tensor

from ..errors import InputError


def as_grouped(t: Tensor) -> Tensor:
    """B or C as (b, g, n, l): an ungrouped (b, n, l) tensor is one group."""
    return t.unsqueeze(1) if t.dim() == 3 else t


def check_scan_inputs(u: Tensor, delta: Tensor, A: Tensor, B: Tensor, C: Tensor, D: Tensor | None,
                      delta_bias: Tensor | None) -> tuple[Tensor, Tensor]:
    """Check the shapes of a selective scan's inputs; return B and C as (b, g, n, l) views.

    u, delta: (b, d, l); A: (d, n); B, C: (b, g, n, l) or (b, n, l) with d divisible by g;
    D, delta_bias: (d,) or None. A mismatch raises ``InputError`` naming the tensor and both shapes.
    """
    if u.dim() != 3 or delta.shape != u.shape:
        raise InputError(f"u and delta must both be (b, d, l); got {tuple(u.shape)} and {tuple(delta.shape)}")
    b, d, length = u.shape
    if A.dim() != 2 or A.shape[0] != d:
        raise InputError(f"A must be (d, n) = ({d}, n); got {tuple(A.shape)}")
    n = A.shape[1]
    B4, C4 = as_grouped(B), as_grouped(C)
    for name, t in (("B", B4), ("C", C4)):
        if t.dim() != 4 or t.shape[0] != b or t.shape[2:] != (n, length) or t.shape[1] < 1 or d % t.shape[1]:
            raise InputError(f"{name} must be (b, g, n, l) = ({b}, g, {n}, {length}) or (b, n, l), its g groups "
                             f"dividing d={d}; got {tuple(t.shape)}")
    if B4.shape[1] != C4.shape[1]:
        raise InputError(f"B and C must have the same number of groups; got {B4.shape[1]} and {C4.shape[1]}")
    for name, v in (("D", D), ("delta_bias", delta_bias)):
        if v is not None and tuple(v.shape) != (d,):
            raise InputError(f"{name} must be ({d},) or None; got {tuple(v.shape)}")
    return B4, C4


__all__ = ["as_grouped", "check_scan_inputs"]
