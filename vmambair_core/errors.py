"""Typed, actionable errors. Every user-facing failure of the library is one of these.

The CLI maps each class to a one-line message and an exit code; nothing here imports the
rest of the package, so every module may raise them.
"""

from __future__ import annotations


class VmambairError(Exception):
    """Base class: a failure the user can act on (bad input, missing file, wrong weights)."""


class ConfigError(VmambairError, ValueError):
    """A configuration value is unknown, out of range or of the wrong type."""


class BackendUnavailableError(VmambairError, RuntimeError):
    """A scan backend was asked for by name but cannot run here (package missing, no GPU)."""


class CheckpointError(VmambairError):
    """A weights file cannot be read, is unsafe, or does not match the preset it is loaded into."""


class InputError(VmambairError, ValueError):
    """An input tensor or image has an unusable shape, dtype or content."""


class WeightsNotFoundError(VmambairError):
    """No weights are available for a task (none published, not cached, not given)."""


class DeviceMemoryError(VmambairError, MemoryError):
    """The device ran out of memory even after shrinking tiles to the smallest allowed size."""


class DeviceFailureError(VmambairError, RuntimeError):
    """The GPU reported an error that leaves its context unusable (illegal address, launch failure)."""
