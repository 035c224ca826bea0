"""Official Real-ESRGAN generator files (``RealESRGAN_x4plus.pth``, ``realesr-general-x4v3.pth``) as peers.

The files are BasicSR ``torch.save({'params_ema' or 'params': state_dict})`` pickles, read like the
authors' VmambaIR files (``weights_only=True``, see :mod:`.formats`). Which network a file holds is told
from its keys (the family) and its shapes (the size); the state dict is then checked strictly against
the network those shapes describe and loaded as float32 (fp16 files are upcast), so a damaged or
mislabelled file fails in one line instead of loading partly.

* **RRDBNet** (ESRGAN / RealESRGAN_x4plus, x4plus_anime_6B): ``conv_first``, ``body.N.rdbK.convJ``,
  ``conv_body``, ``conv_up1/2``, ``conv_hr``, ``conv_last``. Only x4 (3 input channels: the x2/x1 variants
  pixel-unshuffle their input to 12/48 channels and are refused by name).
* **SRVGGNetCompact** (realesr-general-x4v3, realesr-animevideov3): ``body.0`` conv, then PReLU and
  conv pairs ``body.N``, the last conv giving 3 * scale**2 channels for the pixel shuffle.
"""

from __future__ import annotations

import math
import re

import torch
from torch import Tensor

from ..errors import CheckpointError
from ..models.realesrgan import RRDBNet, SRVGGNetCompact
from .detect import mismatch_summary
from .formats import LoadedWeights

PeerNetwork = RRDBNet | SRVGGNetCompact
KNOWN = "Real-ESRGAN RRDBNet (RealESRGAN_x4plus.pth) or SRVGGNetCompact (realesr-general-x4v3.pth)"
"""What a peer file may be, for messages."""

_BODY = re.compile(r"^body\.(\d+)\.")
_SHOWN = 3


def _body_indices(sd: dict[str, Tensor]) -> list[int]:
    return sorted({int(m.group(1)) for k in sd if (m := _BODY.match(k))})


def _dim(sd: dict[str, Tensor], key: str, axis: int, source: str) -> int:
    """One size of one tensor, or a one-line error where the tensor lacks that axis."""
    shape = tuple(sd[key].shape)
    if len(shape) <= axis:
        raise CheckpointError(f"{source}: {key} has shape {shape}; not a Real-ESRGAN generator of a known layout")
    return int(shape[axis])


def _rrdbnet(sd: dict[str, Tensor], source: str) -> RRDBNet:
    feat, channels = _dim(sd, "conv_first.weight", 0, source), _dim(sd, "conv_first.weight", 1, source)
    if channels in (12, 48):
        raise CheckpointError(
            f"{source} is a Real-ESRGAN RRDBNet x{4 // int(math.sqrt(channels // 3))} generator (pixel-unshuffled "
            f"input, e.g. RealESRGAN_x2plus); only x4 generators are supported"
        )
    grow = _dim(sd, "body.0.rdb1.conv1.weight", 0, source)
    return RRDBNet(blocks=len(_body_indices(sd)), feat=feat, grow=grow, channels=channels)


def _compact(sd: dict[str, Tensor], source: str) -> SRVGGNetCompact:
    last = _body_indices(sd)[-1]
    feat, channels = _dim(sd, "body.0.weight", 0, source), _dim(sd, "body.0.weight", 1, source)
    out = _dim(sd, f"body.{last}.weight", 0, source)
    scale = round(math.sqrt(out / max(channels, 1)))
    if scale != 4 or scale * scale * channels != out:
        raise CheckpointError(
            f"{source} looks like a Real-ESRGAN SRVGGNetCompact but its last conv gives {out} channels "
            f"for {channels}-channel images (x4 needs {16 * channels}); only x4 generators are supported"
        )
    return SRVGGNetCompact(convs=max((last - 2) // 2, 0), feat=feat, channels=channels, scale=scale)


def peer_family(sd: dict[str, Tensor]) -> str | None:
    """'rrdbnet' or 'compact' from the keys alone (None: neither), before any shape is trusted."""
    if "conv_first.weight" in sd and "body.0.rdb1.conv1.weight" in sd:
        return "rrdbnet"
    if "conv_first.weight" not in sd and "body.0.weight" in sd and "body.1.weight" in sd and sd["body.1.weight"].ndim == 1:
        return "compact"  # body.1 is the first PReLU: one slope per feature
    return None


def read_peer(weights: LoadedWeights) -> PeerNetwork | None:
    """The Real-ESRGAN generator ``weights`` hold, loaded strictly in float32 and in eval mode.

    None where the keys are not a Real-ESRGAN family's; ``CheckpointError`` (one line) where they are
    but the shapes or the key set do not form the network the shapes describe.
    """
    sd, source = weights.state_dict, weights.source
    family = peer_family(sd)
    if family is None:
        return None
    with torch.device("meta"):  # no memory, no initialisation: every tensor comes from the file
        net = _rrdbnet(sd, source) if family == "rrdbnet" else _compact(sd, source)
    problems = mismatch_summary(sd, {k: tuple(v.shape) for k, v in net.state_dict().items()})
    if problems is not None:
        raise CheckpointError(f"{source} looks like {net.label} weights but does not match it: {problems}")
    net.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True, assign=True)  # fp16 files: fp32
    return net.eval()


def describe_found(weights: LoadedWeights) -> str:
    """A file's tensors in a few words, for refusing one that is no known network."""
    sd = weights.state_dict
    shown = ", ".join(f"{k} {tuple(v.shape)}" for k, v in list(sd.items())[:_SHOWN])
    where = f" under '{weights.container_key}'" if weights.container_key else ""
    more = ", ..." if len(sd) > _SHOWN else ""
    return f"{len(sd)} tensors{where}: {shown}{more}"


def check_peer_scale(net: PeerNetwork, task: str, scale: int, source: str) -> None:
    """A peer only replaces VmambaIR where the task's scale is its own (x4 SR: realsr, sisr)."""
    if net.scale != scale:
        raise CheckpointError(
            f"{source} is a {net.label} generator (x{net.scale} super-resolution); task '{task}' is x{scale}: "
            "use --task realsr (or sisr)"
        )
