"""Official Real-ESRGAN generator files load as peers, checked against forwards written here from the tensors.

The reference forwards below use only ``torch.nn.functional`` on the file's tensors (BasicSR's key names),
not the package's modules, so a wrong key mapping, a missing residual scale or a swapped block shows up.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from vmambair_core.errors import CheckpointError
from vmambair_core.models.realesrgan import RRDBNet, SRVGGNetCompact
from vmambair_core.weights import load, read_weights
from vmambair_core.weights.realesrgan import read_peer

X4PLUS = "peers/RealESRGAN_x4plus_fp16.pth"


def _conv(sd: dict[str, Tensor], name: str, x: Tensor) -> Tensor:
    return F.conv2d(x, sd[f"{name}.weight"], sd[f"{name}.bias"], padding=1)


def rrdbnet_reference(sd: dict[str, Tensor], x: Tensor) -> Tensor:
    """ESRGAN's x4 RRDBNet forward, as BasicSR writes it, straight from the state dict."""
    lrelu = lambda t: F.leaky_relu(t, 0.2)  # noqa: E731
    blocks = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("body."))
    feat = _conv(sd, "conv_first", x)
    body = feat
    for b in range(blocks):
        rrdb_in = body
        for r in (1, 2, 3):
            xs = [body]
            for c in (1, 2, 3, 4):
                xs.append(lrelu(_conv(sd, f"body.{b}.rdb{r}.conv{c}", torch.cat(xs, 1))))
            body = _conv(sd, f"body.{b}.rdb{r}.conv5", torch.cat(xs, 1)) * 0.2 + body
        body = body * 0.2 + rrdb_in
    feat = feat + _conv(sd, "conv_body", body)
    feat = lrelu(_conv(sd, "conv_up1", F.interpolate(feat, scale_factor=2, mode="nearest")))
    feat = lrelu(_conv(sd, "conv_up2", F.interpolate(feat, scale_factor=2, mode="nearest")))
    return _conv(sd, "conv_last", lrelu(_conv(sd, "conv_hr", feat)))


def compact_reference(sd: dict[str, Tensor], x: Tensor, scale: int = 4) -> Tensor:
    """Real-ESRGAN's SRVGGNetCompact forward: conv/PReLU pairs, last conv, pixel shuffle, + nearest input."""
    last = max(int(k.split(".")[1]) for k in sd)
    out = x
    for i in range(0, last, 2):
        out = F.prelu(_conv(sd, f"body.{i}", out), sd[f"body.{i + 1}.weight"])
    out = F.pixel_shuffle(_conv(sd, f"body.{last}", out), scale)
    return out + F.interpolate(x, scale_factor=scale, mode="nearest")


def compact_state_dict(convs: int = 2, feat: int = 8, out: int = 48, seed: int = 0) -> dict[str, Tensor]:
    """Random tensors under the official realesr-general-x4v3 key names (``body.N.weight``/``bias``)."""
    g = torch.Generator().manual_seed(seed)
    sd: dict[str, Tensor] = {}
    cin = 3
    for i in range(convs + 1):
        sd[f"body.{2 * i}.weight"] = torch.randn(feat, cin, 3, 3, generator=g) * 0.2
        sd[f"body.{2 * i}.bias"] = torch.randn(feat, generator=g) * 0.05
        sd[f"body.{2 * i + 1}.weight"] = torch.rand(feat, generator=g) * 0.3  # PReLU slopes
        cin = feat
    sd[f"body.{2 * convs + 2}.weight"] = torch.randn(out, feat, 3, 3, generator=g) * 0.1
    sd[f"body.{2 * convs + 2}.bias"] = torch.randn(out, generator=g) * 0.01
    return sd


@pytest.fixture(scope="module")
def x4plus(shared_dir: Path) -> Path:
    path = shared_dir / X4PLUS
    if not path.is_file():
        pytest.skip(f"{path} not found")
    return path


def test_x4plus_file_loads_and_equals_the_network_built_from_its_tensors(x4plus: Path) -> None:
    model = load(x4plus, "realsr")
    net, origin = model.net, model.origin
    assert model.config is None and model.task == "realsr" and model.scale == 4
    assert isinstance(net, RRDBNet) and "Real-ESRGAN RRDBNet x4 (23 blocks, 64 feat)" in origin
    assert sum(p.numel() for p in net.parameters()) == 16_697_987
    assert all(p.dtype == torch.float32 for p in net.parameters())  # fp16 file, fp32 network
    raw = torch.load(x4plus, map_location="cpu", weights_only=True)["params_ema"]
    assert all(v.dtype == torch.float16 for v in raw.values())
    sd = {k: v.float() for k, v in raw.items()}
    x = torch.rand(1, 3, 10, 13, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        got, want = net(x), rrdbnet_reference(sd, x)
    assert got.shape == (1, 3, 40, 52)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert want.std() > 0.05  # a real generator, not a near-constant output


def test_x4plus_loads_without_a_task(x4plus: Path) -> None:
    """Told from its keys alone: a Real-ESRGAN file is an x4 generator restoring the default task."""
    model = load(x4plus)
    assert isinstance(model.net, RRDBNet) and (model.config, model.task) == (None, "realsr")


@pytest.mark.parametrize("half", [False, True])
def test_compact_file_with_official_names_loads_and_runs(tmp_path: Path, half: bool) -> None:
    sd = compact_state_dict()
    path = tmp_path / "realesr-general-x4v3.pth"
    torch.save({"params": {k: v.half() if half else v for k, v in sd.items()}}, path)
    model = load(path, "realsr")
    net, origin = model.net, model.origin
    assert isinstance(net, SRVGGNetCompact) and "SRVGGNetCompact x4 (2 convs, 8 feat)" in origin
    ref_sd = {k: v.half().float() if half else v for k, v in sd.items()}
    x = torch.rand(2, 3, 7, 5, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(net(x), compact_reference(ref_sd, x), rtol=1e-5, atol=1e-6)


def _one_line_error(path: Path, task: str = "realsr") -> str:
    with pytest.raises(CheckpointError) as exc:
        load(path, task)
    message = str(exc.value)
    assert "\n" not in message and len(message) < 600
    return message


def test_swapped_shapes_are_refused_in_one_line(tmp_path: Path) -> None:
    """SRVGG keys whose PReLU and conv shapes disagree (a file of another size, or tensors swapped)."""
    sd = compact_state_dict()
    sd["body.3.weight"] = torch.rand(16)  # the second PReLU of an 8-feature network
    sd["body.2.weight"], sd["body.4.weight"] = sd["body.4.weight"][:, :4], sd["body.2.weight"]
    torch.save({"params": sd}, tmp_path / "swapped.pth")
    message = _one_line_error(tmp_path / "swapped.pth")
    assert "SRVGGNetCompact" in message and "other shapes" in message and "body.3.weight (16,) != (8,)" in message


def test_rrdbnet_with_a_missing_tensor_is_refused(tmp_path: Path) -> None:
    with torch.device("meta"):
        net = RRDBNet(blocks=2, feat=8, grow=4)
    sd = {k: torch.zeros(v.shape) for k, v in net.state_dict().items()}
    del sd["body.1.rdb2.conv3.bias"]
    torch.save({"params_ema": sd}, tmp_path / "x4plus.pth")
    message = _one_line_error(tmp_path / "x4plus.pth")
    assert "RRDBNet x4 (2 blocks, 8 feat)" in message and "body.1.rdb2.conv3.bias" in message


def test_truncated_file_is_refused_in_one_line(tmp_path: Path) -> None:
    full = tmp_path / "full.pth"
    torch.save({"params": compact_state_dict()}, full)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    assert "truncated or corrupt" in _one_line_error(cut)


def test_other_scales_and_tasks_are_refused_by_name(tmp_path: Path) -> None:
    x2 = {"conv_first.weight": torch.zeros(8, 12, 3, 3), "body.0.rdb1.conv1.weight": torch.zeros(4, 8, 3, 3)}
    torch.save({"params_ema": x2}, tmp_path / "x2plus.pth")
    assert "RRDBNet x2 generator" in _one_line_error(tmp_path / "x2plus.pth")
    torch.save({"params": compact_state_dict(out=12)}, tmp_path / "compact_x2.pth")
    assert "only x4 generators" in _one_line_error(tmp_path / "compact_x2.pth")
    torch.save({"params": compact_state_dict()}, tmp_path / "x4.pth")
    assert "task 'derain' is x1" in _one_line_error(tmp_path / "x4.pth", task="derain")


def test_a_file_of_no_known_network_is_refused_naming_what_it_holds(tmp_path: Path) -> None:
    torch.save({"params": {"encoder.weight": torch.zeros(4, 3), "head.bias": torch.zeros(2)}}, tmp_path / "x.pth")
    message = _one_line_error(tmp_path / "x.pth")
    assert "neither a VmambaIR checkpoint nor a Real-ESRGAN" in message
    assert "2 tensors under 'params': encoder.weight (4, 3), head.bias (2,)" in message
    assert read_peer(read_weights(tmp_path / "x.pth")) is None
