"""VGG19 feature extractor for the perceptual loss, loadable from torchvision's weight file.

The layers are laid out exactly like torchvision's ``vgg19().features`` (index N holds the
same layer, so ``vgg19-dcbb9e9d.pth``'s ``features.N.weight/bias`` load strictly) without
importing torchvision. Features are taken at the named conv layers **before** their ReLU, as
BasicSR's ``VGGFeatureExtractor`` does for ``conv*_*`` names; inputs in [0, 1] are normalised
with the ImageNet mean/std. The network is frozen and kept in eval mode.

The weights cannot be downloaded here: pass a local path or set ``VMAMBAIR_VGG19_WEIGHTS``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from vmambair_core.errors import CheckpointError, ConfigError
from vmambair_core.weights.formats import load_torch_file

VGG19_WEIGHTS_ENV = "VMAMBAIR_VGG19_WEIGHTS"
VGG19_FILE_NAME = "vgg19-dcbb9e9d.pth"

#: torchvision's VGG19 configuration: conv widths, "M" = 2x2 max pool.
_VGG19_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)


def _layer_names() -> tuple[str, ...]:
    names: list[str] = []
    block, conv = 1, 1
    for item in _VGG19_CFG:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return tuple(names)


#: Name of each index of ``features`` (``VGG19_LAYER_NAMES[34] == "conv5_4"``).
VGG19_LAYER_NAMES: tuple[str, ...] = _layer_names()

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _build_features(last: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 3
    for item in _VGG19_CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            assert isinstance(item, int)
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
            channels = item
    return nn.Sequential(*layers[: last + 1])


def resolve_vgg19_weights(path: str | os.PathLike[str] | None = None) -> Path:
    """The VGG19 weight file from ``path`` or ``$VMAMBAIR_VGG19_WEIGHTS``; raise if absent."""
    chosen = path if path is not None else os.environ.get(VGG19_WEIGHTS_ENV)
    how = (
        f"download torchvision's {VGG19_FILE_NAME} (https://download.pytorch.org/models/{VGG19_FILE_NAME}) "
        f"on a machine with internet, copy it here and pass its path or set {VGG19_WEIGHTS_ENV}=/path/to/it"
    )
    if chosen is None or str(chosen) == "":
        raise ConfigError(f"the GAN stage's perceptual loss needs ImageNet VGG19 weights: {how}")
    file = Path(chosen).expanduser()
    if not file.is_file():
        raise CheckpointError(f"VGG19 weights not found at {file} (the GAN stage needs them): {how}")
    return file


def _read_state_dict(file: Path) -> Mapping[str, Tensor]:
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(file))
        state = load_torch_file(file, "VGG19 weights")
    except CheckpointError:
        raise
    except Exception as exc:  # an unreadable safetensors file
        raise CheckpointError(f"cannot read VGG19 weights {file}: {exc}") from exc
    if not isinstance(state, Mapping):
        raise CheckpointError(f"{file} holds a {type(state).__name__}, expected a state dict")
    return state


class VGG19FeatureExtractor(nn.Module):
    """Frozen VGG19 returning ``{name: feature}`` for the requested layer names.

    Args:
        layers: names such as ``conv1_2`` ... ``conv5_4`` (pre-ReLU) or ``relu*_*``/``pool*``.
        weights: torchvision-format state dict file; None reads ``$VMAMBAIR_VGG19_WEIGHTS``.
            Pass ``load=False`` to keep random weights (tests).
        use_input_norm: normalise [0, 1] inputs with the ImageNet mean/std.
    """

    def __init__(
        self,
        layers: Iterable[str],
        weights: str | os.PathLike[str] | None = None,
        *,
        use_input_norm: bool = True,
        load: bool = True,
    ) -> None:
        super().__init__()
        self.layers = tuple(layers)
        unknown = [n for n in self.layers if n not in VGG19_LAYER_NAMES]
        if not self.layers or unknown:
            raise ConfigError(f"unknown VGG19 layer names {unknown}; valid: {', '.join(VGG19_LAYER_NAMES)}")
        self.use_input_norm = use_input_norm
        file = resolve_vgg19_weights(weights) if load else None  # fail before building 20M weights
        last = max(VGG19_LAYER_NAMES.index(n) for n in self.layers)
        self.features = _build_features(last)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).reshape(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).reshape(1, 3, 1, 1), persistent=False)
        if file is not None:
            self.load_torchvision(file)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> VGG19FeatureExtractor:
        """Stay in eval mode: the loss network is fixed (no dropout/BN, but keep it explicit)."""
        return super().train(False)

    def load_torchvision(self, file: Path) -> None:
        """Strictly load the ``features.N.*`` tensors this truncated network holds.

        Keys of later feature layers and ``classifier.*`` are the expected rest of a full
        torchvision file and are skipped; anything else, or a missing/mis-shaped tensor, is an error.
        """
        state = _read_state_dict(file)
        ours = self.state_dict()
        extra = [k for k in state if k not in ours and not k.startswith(("features.", "classifier."))]
        missing = [k for k in ours if k not in state]
        if extra or missing:
            raise CheckpointError(
                f"{file} is not a torchvision VGG19 state dict: missing {missing[:6]}, unexpected {extra[:6]}"
            )
        picked = {k: state[k] for k in ours}
        bad = [
            f"{k}: {tuple(v.shape)} != {tuple(ours[k].shape)}"
            for k, v in picked.items()
            if v.shape != ours[k].shape
        ]
        if bad:
            raise CheckpointError(f"{file} does not match VGG19's layer shapes: {bad[:4]}")
        self.load_state_dict(picked, strict=True)

    def forward(self, x: Tensor) -> dict[str, Tensor]:
        if self.use_input_norm:
            x = (x - self.mean) / self.std
        out: dict[str, Tensor] = {}
        for name, layer in zip(VGG19_LAYER_NAMES, self.features):
            x = layer(x)
            if name in self.layers:
                out[name] = x
        return out
