"""What gets scored: the network (through the same :class:`Restorer` as ``restore``) or a baseline.

A predictor maps one uint8 HxWx3 RGB LQ image to its restored image (HxW scaled by ``scale``), as
uint8 or float32 in [0, 1]. Baselines give the rows every results table has:

* ``bicubic``: MATLAB bicubic x4 upscaling of the LR (uint8 in, uint8 out, MATLAB's rounding);
* ``identity``: the input itself, for the "rainy input" row of deraining tables.
"""

from __future__ import annotations

import os
from pathlib import Path
from dataclasses import dataclass
from typing import Literal, Protocol, get_args

import numpy as np
import torch

from vmambair_core.data.resize import imresize
from vmambair_core.device import resolve_device
from vmambair_core.errors import ConfigError
from vmambair_core.inference.engine import Restorer
from vmambair_core.models import VmambaIR, VmambaIRConfig
from vmambair_core.weights import LoadedWeights, PeerNetwork, load
from vmambair_core.weights.registry import read_registry
from vmambair_core.weights.spec import classify_spec

__all__ = [
    "BASELINES",
    "Baseline",
    "BicubicPredictor",
    "IdentityPredictor",
    "NetworkPredictor",
    "Predictor",
    "baseline",
    "load_network_predictor",
]

Baseline = Literal["bicubic", "identity"]
BASELINES: tuple[str, ...] = get_args(Baseline)


class Predictor(Protocol):
    """Restores one uint8 HxWx3 RGB image; ``label`` names it in every result."""

    label: str
    scale: int

    def __call__(self, lq: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class BicubicPredictor:
    """MATLAB ``imresize(lr, scale, 'bicubic')``: the no-network SR baseline."""

    scale: int = 4
    label: str = "bicubic"

    def __call__(self, lq: np.ndarray) -> np.ndarray:
        return imresize(lq, self.scale)


@dataclass(frozen=True)
class IdentityPredictor:
    """The input itself: scores of the degraded images (deraining tables' "input" row)."""

    scale: int = 1
    label: str = "identity"

    def __call__(self, lq: np.ndarray) -> np.ndarray:
        return lq


def baseline(name: str, scale: int = 4) -> BicubicPredictor | IdentityPredictor:
    """A baseline predictor by name (``bicubic`` upscales by ``scale``)."""
    if name == "bicubic":
        return BicubicPredictor(scale)
    if name == "identity":
        return IdentityPredictor()
    raise ConfigError(f"unknown baseline {name!r}; choose one of {', '.join(BASELINES)}")


class NetworkPredictor:
    """A VmambaIR network (or a Real-ESRGAN peer) run by a :class:`Restorer` (device, precision, whole image or tiles, OOM back-off)."""

    def __init__(self, restorer: Restorer, label: str, weights: str = "") -> None:
        self.restorer = restorer
        self.label = label
        self.scale = int(restorer.scale)
        self.weights = weights
        """Where the weights came from (registry name, file, Hub), for the first line of ``eval``."""

    @classmethod
    def from_network(
        cls,
        net: VmambaIR | PeerNetwork,
        *,
        label: str | None = None,
        device: str | torch.device = "auto",
        precision: str = "auto",
        tile: int | None = None,
        tile_overlap: int = 32,
    ) -> NetworkPredictor:
        """Wrap an already built network (tests, custom configs, training loops)."""
        dev = device if isinstance(device, torch.device) else resolve_device(device)
        restorer = Restorer(net, dev, precision=precision, tile=tile, overlap=tile_overlap)
        return cls(restorer, label or (f"vmambair ({net.config.name})" if isinstance(net, VmambaIR) else net.label))

    def __call__(self, lq: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(lq)).permute(2, 0, 1)[None].float() / 255.0
        y = self.restorer(x)
        return y[0].permute(1, 2, 0).cpu().numpy().astype(np.float32, copy=False)


def load_network_predictor(
    task: str | VmambaIRConfig,
    weights: str | os.PathLike[str] | LoadedWeights | None = None,
    *,
    device: str = "auto",
    precision: str = "auto",
    tile: int | None = None,
    tile_overlap: int = 32,
    scan_backend: str = "auto",
) -> NetworkPredictor:
    """The task's network, loaded by :func:`~vmambair_core.weights.load`, wrapped for evaluation.

    ``task`` may be a preset name or a ``VmambaIRConfig`` (non-preset sizes, e.g. tests' tiny nets);
    ``weights`` may also be an official Real-ESRGAN generator file (labelled as such).
    """
    dev = resolve_device(device)
    model = load(weights, task, device=dev, scan_backend=scan_backend)
    # the network built: the preset, the variant a trained export describes, or the Real-ESRGAN peer
    label = _peer_label(model.net, weights) if model.config is None else _label(task, weights, model.config.name)
    predictor = NetworkPredictor.from_network(
        model.net, label=label, device=dev, precision=precision, tile=tile, tile_overlap=tile_overlap
    )
    predictor.weights = model.origin
    return predictor


def _peer_label(net: VmambaIR | PeerNetwork, weights: str | os.PathLike[str] | LoadedWeights | None) -> str:
    """A Real-ESRGAN network's row name: its family and the file's name (the path is in ``weights``)."""
    source = Path(weights.source if isinstance(weights, LoadedWeights) else os.fspath(weights or "")).name
    return f"{net.family} [{source}]"


def _label(task: str | VmambaIRConfig, weights: str | os.PathLike[str] | LoadedWeights | None, network: str) -> str:
    """The result's row name: the registry name of named or default weights (``vmambair sisr-lite``),
    else the network built (the preset, or the variant an export describes) and the file."""
    if isinstance(weights, LoadedWeights):
        return f"vmambair {network} [{weights.source}]"
    if weights is None:
        default = read_registry().default_name(task) if isinstance(task, str) else None
        return f"vmambair {default}" if default else f"vmambair {network} [default weights]"
    if isinstance(classify_spec(weights), str):
        return f"vmambair {os.fspath(weights)}"
    return f"vmambair {network} [{Path(os.fspath(weights)).name}]"  # the path is in `weights`: the table stays narrow
