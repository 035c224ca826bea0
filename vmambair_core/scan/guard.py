"""Device guard for kernel launches.

Triton and mamba-ssm's extension launch on the *current* CUDA device, not on the device of the tensors
they are given; only DDP sets the current device. Without a guard, ``--device cuda:1`` would run a
kernel on GPU 0 with GPU 1's pointers (an illegal address that poisons the context).
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor


def device_guard(t: Tensor) -> contextlib.AbstractContextManager:
    """Make ``t``'s CUDA device current for the ``with`` block; a no-op for CPU tensors (interpreter)."""
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()


__all__ = ["device_guard"]
