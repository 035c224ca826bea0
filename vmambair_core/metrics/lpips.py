"""LPIPS v0.1 (Zhang et al., 2018) without torchvision or the ``lpips`` package.

Distance = sum over 5 backbone layers of the spatial mean of ``w_l . (f_l(x) - f_l(y))^2``,
where ``f_l`` are ReLU features unit-normalised over channels and ``w_l`` a learned
non-negative 1x1 "linear head". Inputs are RGB in [-1, 1], shifted/scaled by LPIPS'
ScalingLayer before the backbone. VmambaIR and BasicSR report the VGG16 variant; AlexNet
is the ``lpips`` package default ("best forward scores"), so always report the net.

Weights are never downloaded here:

* backbone: a torchvision-format state dict (``features.N.weight`` / ``features.N.bias``),
  ``vgg16-397923af.pth`` or ``alexnet-owt-7be5be79.pth``, given as an argument, by
  ``$VMAMBAIR_LPIPS_BACKBONE`` (file or folder), or found in torch's hub cache
  (``<torch hub dir>/checkpoints/``, where torchvision keeps them);
* heads: the ``lpips`` package's ``weights/v0.1/{vgg,alex}.pth`` (``lin{k}.model.1.weight``),
  given as an argument, by ``$VMAMBAIR_LPIPS_HEADS`` (file or folder), or found inside an
  installed ``lpips`` package located with ``importlib.util.find_spec`` (which does not
  execute it: importing ``lpips`` imports torchvision).

Anything missing raises ``WeightsNotFoundError`` naming the file and how to supply it.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from vmambair_core.errors import CheckpointError, InputError, WeightsNotFoundError
from vmambair_core.metrics.color import to_uint8
from vmambair_core.weights.formats import load_torch_file

__all__ = [
    "ENV_BACKBONE",
    "ENV_HEADS",
    "LPIPS",
    "LPIPS_VERSION",
    "LpipsNet",
    "find_backbone_weights",
    "find_head_weights",
    "load_lpips",
    "lpips_distance",
]

LpipsNet = Literal["vgg", "alex"]
LPIPS_VERSION = "0.1"
ENV_BACKBONE = "VMAMBAIR_LPIPS_BACKBONE"
ENV_HEADS = "VMAMBAIR_LPIPS_HEADS"

# LPIPS ScalingLayer: ImageNet statistics expressed for inputs in [-1, 1].
_SHIFT = (-0.030, -0.088, -0.188)
_SCALE = (0.458, 0.448, 0.450)


@dataclass(frozen=True)
class _Layer:
    """One entry of a torchvision ``features`` Sequential: a conv (with its index's weights) or a max-pool."""

    kind: Literal["conv", "pool"]
    cin: int = 0
    cout: int = 0
    kernel: int = 3
    stride: int = 1
    padding: int = 0


@dataclass(frozen=True)
class BackboneSpec:
    """A torchvision ``features`` stack: layers in index order (each conv is followed by a ReLU)."""

    filename: str
    url: str
    layers: tuple[_Layer, ...]
    taps: tuple[int, ...]  # indices in ``features`` whose outputs LPIPS compares (after a ReLU)
    channels: tuple[int, ...]


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1, padding: int = 1) -> _Layer:
    return _Layer("conv", cin, cout, kernel, stride, padding)


def _pool(kernel: int, stride: int) -> _Layer:
    return _Layer("pool", kernel=kernel, stride=stride)


def _vgg16_layers() -> tuple[_Layer, ...]:
    out: list[_Layer] = []
    cin = 3
    for block, (cout, n) in enumerate(((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))):
        if block:
            out.append(_pool(2, 2))
        for _ in range(n):
            out.append(_conv(cin, cout))
            cin = cout
    return tuple(out)


BACKBONES: dict[LpipsNet, BackboneSpec] = {
    # features: conv0 relu1 conv2 relu3 | pool4 conv5 relu6 conv7 relu8 | pool9 ... relu29 (pool30 unused)
    "vgg": BackboneSpec(
        filename="vgg16-397923af.pth",
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
        layers=_vgg16_layers(),
        taps=(3, 8, 15, 22, 29),
        channels=(64, 128, 256, 512, 512),
    ),
    # features: conv0 relu1 pool2 conv3 relu4 pool5 conv6 relu7 conv8 relu9 conv10 relu11 (pool12 unused)
    "alex": BackboneSpec(
        filename="alexnet-owt-7be5be79.pth",
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
        layers=(
            _conv(3, 64, 11, 4, 2),
            _pool(3, 2),
            _conv(64, 192, 5, 1, 2),
            _pool(3, 2),
            _conv(192, 384),
            _conv(384, 256),
            _conv(256, 256),
        ),
        taps=(1, 4, 7, 9, 11),
        channels=(64, 192, 384, 256, 256),
    ),
}


def _check_net(net: str) -> BackboneSpec:
    if net not in BACKBONES:
        raise InputError(f"unknown LPIPS net {net!r}; expected one of {tuple(BACKBONES)}.")
    return BACKBONES[net]  # type: ignore[index]


class Backbone(nn.Module):
    """A torchvision-compatible ``features`` stack returning the ReLU outputs LPIPS compares."""

    def __init__(self, spec: BackboneSpec) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        for layer in spec.layers:
            if layer.kind == "conv":
                modules += [
                    nn.Conv2d(layer.cin, layer.cout, layer.kernel, layer.stride, layer.padding),
                    nn.ReLU(inplace=False),
                ]
            else:
                modules.append(nn.MaxPool2d(layer.kernel, layer.stride))
        self.features = nn.Sequential(*modules)
        self.taps = spec.taps
        assert len(self.features) == spec.taps[-1] + 1, "layer table must end at the last tap"

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs: list[torch.Tensor] = []
        for i, module in enumerate(self.features):
            x = module(x)
            if i in self.taps:
                outs.append(x)
        return outs


def _unit_normalize(f: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Divide each spatial feature vector by its L2 norm over channels (LPIPS' ``normalize_tensor``)."""
    return f / (torch.sqrt(torch.sum(f * f, dim=1, keepdim=True)) + eps)


class LPIPS(nn.Module):
    """LPIPS v0.1 distance between two RGB batches; build with ``load_lpips`` to get real weights."""

    def __init__(self, net: LpipsNet = "vgg") -> None:
        super().__init__()
        spec = _check_net(net)
        self.net: LpipsNet = net
        self.backbone = Backbone(spec)
        self.heads = nn.ModuleList(nn.Conv2d(c, 1, 1, bias=False) for c in spec.channels)
        self.register_buffer("shift", torch.tensor(_SHIFT).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", torch.tensor(_SCALE).view(1, 3, 1, 1), persistent=False)

    @property
    def name(self) -> str:
        """What to print beside every score, e.g. ``LPIPS-vgg v0.1``."""
        return f"LPIPS-{self.net} v{LPIPS_VERSION}"

    def forward(self, x: torch.Tensor, y: torch.Tensor, *, normalize: bool = False) -> torch.Tensor:
        """Distance per image, shape (N,), for (N, 3, H, W) inputs in [-1, 1] ([0, 1] with ``normalize``)."""
        if x.shape != y.shape or x.ndim != 4 or x.shape[1] != 3:
            raise InputError(
                f"LPIPS takes two (N, 3, H, W) RGB batches of equal shape, got {tuple(x.shape)} and {tuple(y.shape)}."
            )
        if normalize:
            x, y = 2.0 * x - 1.0, 2.0 * y - 1.0
        fx = self.backbone((x - self.shift) / self.scale)
        fy = self.backbone((y - self.shift) / self.scale)
        total = x.new_zeros(x.shape[0])
        for head, a, b in zip(self.heads, fx, fy):
            diff = (_unit_normalize(a) - _unit_normalize(b)) ** 2
            total = total + head(diff).mean(dim=(1, 2, 3))
        return total


def _from_env_or_arg(path: str | os.PathLike[str] | None, env: str, filename: str) -> Path | None:
    """An explicit path (file or folder holding ``filename``) or the env var's; None when neither is set."""
    raw = path if path is not None else os.environ.get(env) or None
    if raw is None:
        return None
    p = Path(raw).expanduser()
    return p / filename if p.is_dir() else p


def find_backbone_weights(net: LpipsNet = "vgg", path: str | os.PathLike[str] | None = None) -> Path:
    """Locate the torchvision backbone file: ``path``, else ``$VMAMBAIR_LPIPS_BACKBONE``, else torch's hub cache."""
    spec = _check_net(net)
    how = (
        f"Download {spec.url} and pass its path (LPIPS backbone argument) or set "
        f"{ENV_BACKBONE}=/path/to/{spec.filename} (a folder holding it also works)."
    )
    chosen = _from_env_or_arg(path, ENV_BACKBONE, spec.filename)
    if chosen is not None:
        if not chosen.is_file():
            source = "given path" if path is not None else f"${ENV_BACKBONE}"
            raise WeightsNotFoundError(f"LPIPS-{net} backbone weights not found at {chosen} ({source}). {how}")
        return chosen
    cached = Path(torch.hub.get_dir()) / "checkpoints" / spec.filename
    if cached.is_file():
        return cached
    raise WeightsNotFoundError(
        f"LPIPS-{net} backbone weights {spec.filename} not found: no path given, {ENV_BACKBONE} unset, "
        f"and not in the torch hub cache ({cached}). {how}"
    )


def _lpips_package_dir() -> Path | None:
    """Folder of an installed ``lpips`` package, found without importing it (find_spec only reads the finder)."""
    found = importlib.util.find_spec("lpips")
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def find_head_weights(net: LpipsNet = "vgg", path: str | os.PathLike[str] | None = None) -> Path:
    """Locate the LPIPS v0.1 linear heads: ``path``, else ``$VMAMBAIR_LPIPS_HEADS``, else the ``lpips`` package."""
    _check_net(net)
    filename = f"{net}.pth"
    how = (
        f"Install the heads with `pip install --no-deps lpips` (only its weights/v{LPIPS_VERSION}/{filename} is "
        f"read, the package is never imported), or pass the file's path (LPIPS heads argument) or set "
        f"{ENV_HEADS}=/path/to/{filename}."
    )
    chosen = _from_env_or_arg(path, ENV_HEADS, filename)
    if chosen is not None:
        if not chosen.is_file():
            source = "given path" if path is not None else f"${ENV_HEADS}"
            raise WeightsNotFoundError(f"LPIPS-{net} head weights not found at {chosen} ({source}). {how}")
        return chosen
    pkg = _lpips_package_dir()
    if pkg is None:
        raise WeightsNotFoundError(
            f"LPIPS-{net} head weights {filename} not found: no path given, {ENV_HEADS} unset, "
            f"and the lpips package is not installed. {how}"
        )
    candidate = pkg / "weights" / f"v{LPIPS_VERSION}" / filename
    if not candidate.is_file():
        raise WeightsNotFoundError(f"LPIPS-{net} head weights not found at {candidate} (lpips package). {how}")
    return candidate


def _read_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    sd = load_torch_file(path, what)
    if not isinstance(sd, dict):
        raise CheckpointError(f"{what} file {path} holds a {type(sd).__name__}, not a state dict.")
    return sd


def _take(sd: dict[str, torch.Tensor], key: str, shape: torch.Size, path: Path, what: str) -> torch.Tensor:
    if key not in sd:
        raise CheckpointError(f"{what} file {path} lacks key {key!r}; is it the right file for this net?")
    t = sd[key]
    if not isinstance(t, torch.Tensor) or t.shape != shape:
        found = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise CheckpointError(f"{what} file {path}: {key!r} has shape {found}, expected {tuple(shape)}.")
    return t


def load_lpips(
    net: LpipsNet = "vgg",
    *,
    backbone: str | os.PathLike[str] | None = None,
    heads: str | os.PathLike[str] | None = None,
    device: torch.device | str = "cpu",
) -> LPIPS:
    """An ``LPIPS`` in eval mode with frozen weights from local files (see the module docstring)."""
    model = LPIPS(net)
    backbone_path = find_backbone_weights(net, backbone)
    heads_path = find_head_weights(net, heads)
    bsd = _read_state_dict(backbone_path, f"LPIPS-{net} backbone")
    hsd = _read_state_dict(heads_path, f"LPIPS-{net} heads")
    state: dict[str, torch.Tensor] = {}
    for key, param in model.backbone.state_dict().items():  # keys are "features.N.weight|bias"
        state[f"backbone.{key}"] = _take(bsd, key, param.shape, backbone_path, f"LPIPS-{net} backbone")
    for k, head in enumerate(model.heads):
        state[f"heads.{k}.weight"] = _take(
            hsd, f"lin{k}.model.1.weight", head.weight.shape, heads_path, f"LPIPS-{net} heads"
        )
    model.load_state_dict(state, strict=True)
    model.requires_grad_(False)
    return model.eval().to(device)


def lpips_distance(
    model: LPIPS, img: np.ndarray, ref: np.ndarray, *, float_range: float | None = None
) -> float:
    """LPIPS of two HxWx3 **RGB** numpy images, quantised to uint8 first like PSNR/SSIM."""
    if img.shape != ref.shape or img.ndim != 3 or img.shape[2] != 3:
        raise InputError(f"LPIPS takes two HxWx3 RGB images of equal shape, got {img.shape} and {ref.shape}.")
    device = next(model.parameters()).device

    def to_tensor(a: np.ndarray) -> torch.Tensor:
        u8 = to_uint8(a, float_range)
        t = torch.from_numpy(np.ascontiguousarray(u8)).to(device=device, dtype=torch.float32)
        return t.permute(2, 0, 1).unsqueeze(0) / 127.5 - 1.0

    with torch.no_grad():
        return float(model(to_tensor(img), to_tensor(ref))[0])
