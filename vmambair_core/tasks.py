"""The restoration tasks vmambair knows: one name list for the network presets, training, weights and eval."""

from __future__ import annotations

from typing import Literal, get_args

Task = Literal["sisr", "realsr", "derain"]
"""``sisr``: bicubic x4 super-resolution; ``realsr``: real-world x4 SR; ``derain``: rain removal (x1)."""
TASKS: tuple[str, ...] = get_args(Task)
