"""LPIPS with random weights written in the real file layouts (no network, no torchvision, no lpips)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vmambair_core.errors import WeightsNotFoundError
from vmambair_core.metrics.lpips import (
    ENV_BACKBONE,
    ENV_HEADS,
    find_backbone_weights,
    find_head_weights,
    load_lpips,
    lpips_distance,
)

# torchvision's layer lists, written independently of the module: ints are 3x3 convs (pad 1), "M" max-pool 2.
VGG16_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
CHANNELS = {"vgg": [64, 128, 256, 512, 512], "alex": [64, 192, 384, 256, 256]}
FILES = {"vgg": "vgg16-397923af.pth", "alex": "alexnet-owt-7be5be79.pth"}


def _vgg_state(gen: torch.Generator) -> dict[str, torch.Tensor]:
    sd, cin, idx = {}, 3, 0
    for v in VGG16_CFG:
        if v == "M":
            idx += 1
            continue
        assert isinstance(v, int)
        sd[f"features.{idx}.weight"] = torch.randn(v, cin, 3, 3, generator=gen) * (2.0 / (9 * cin)) ** 0.5
        sd[f"features.{idx}.bias"] = torch.randn(v, generator=gen) * 0.05
        cin, idx = v, idx + 2
    return sd


def _alex_state(gen: torch.Generator) -> dict[str, torch.Tensor]:
    shapes = {0: (64, 3, 11), 3: (192, 64, 5), 6: (384, 192, 3), 8: (256, 384, 3), 10: (256, 256, 3)}
    sd = {}
    for i, (co, ci, k) in shapes.items():
        sd[f"features.{i}.weight"] = torch.randn(co, ci, k, k, generator=gen) * (2.0 / (k * k * ci)) ** 0.5
        sd[f"features.{i}.bias"] = torch.randn(co, generator=gen) * 0.05
    return sd


@pytest.fixture(scope="module")
def weight_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Random backbones in torchvision's format and random non-negative heads in lpips' format."""
    root = tmp_path_factory.mktemp("lpips_weights")
    gen = torch.Generator().manual_seed(0)
    out = {}
    for net, make in (("vgg", _vgg_state), ("alex", _alex_state)):
        backbone = make(gen)
        backbone["classifier.1.weight"] = torch.zeros(4, 4)  # torchvision files also hold a classifier
        heads = {f"lin{k}.model.1.weight": torch.rand(1, c, 1, 1, generator=gen) for k, c in enumerate(CHANNELS[net])}
        torch.save(backbone, root / FILES[net])
        (root / "heads").mkdir(exist_ok=True)
        torch.save(heads, root / "heads" / f"{net}.pth")
        out[net] = (root / FILES[net], root / "heads" / f"{net}.pth")
    return out


def _reference_lpips(net: str, backbone: Path, heads: Path, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Straight-line LPIPS v0.1 from the state dicts with functional ops only."""
    sd = torch.load(backbone, weights_only=True)
    hd = torch.load(heads, weights_only=True)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def feats(t: torch.Tensor) -> list[torch.Tensor]:
        h = (t - shift) / scale
        out = []
        if net == "vgg":
            idx = 0
            for v in VGG16_CFG:
                if v == "M":
                    out.append(h)  # the relu before each pool: relu1_2, relu2_2, relu3_3, relu4_3, relu5_3
                    if len(out) == 5:
                        break
                    h = F.max_pool2d(h, 2, 2)
                    idx += 1
                else:
                    h = F.relu(F.conv2d(h, sd[f"features.{idx}.weight"], sd[f"features.{idx}.bias"], padding=1))
                    idx += 2
            return out
        h = F.relu(F.conv2d(h, sd["features.0.weight"], sd["features.0.bias"], stride=4, padding=2))
        out.append(h)
        h = F.relu(F.conv2d(F.max_pool2d(h, 3, 2), sd["features.3.weight"], sd["features.3.bias"], padding=2))
        out.append(h)
        h = F.relu(F.conv2d(F.max_pool2d(h, 3, 2), sd["features.6.weight"], sd["features.6.bias"], padding=1))
        out.append(h)
        h = F.relu(F.conv2d(h, sd["features.8.weight"], sd["features.8.bias"], padding=1))
        out.append(h)
        h = F.relu(F.conv2d(h, sd["features.10.weight"], sd["features.10.bias"], padding=1))
        out.append(h)
        return out

    total = torch.zeros(x.shape[0])
    for k, (a, b) in enumerate(zip(feats(x), feats(y))):
        a = a / (a.norm(dim=1, keepdim=True) + 1e-10)
        b = b / (b.norm(dim=1, keepdim=True) + 1e-10)
        w = hd[f"lin{k}.model.1.weight"].view(1, -1, 1, 1)
        total += ((a - b) ** 2 * w).sum(dim=1).mean(dim=(1, 2))
    return total


@pytest.mark.parametrize("net", [pytest.param("vgg", marks=pytest.mark.slow), "alex"])  # VGG16: ~15M params
def test_lpips_properties_and_reference(net: str, weight_files: dict[str, tuple[Path, Path]]) -> None:
    backbone, heads = weight_files[net]
    model = load_lpips(net, backbone=backbone, heads=heads)  # type: ignore[arg-type]
    assert model.name == f"LPIPS-{net} v0.1"
    gen = torch.Generator().manual_seed(1)
    hw = (16, 32) if net == "vgg" else (71, 64)  # vgg 16x32: relu5_3 is still 1x2
    x = torch.rand(2, 3, *hw, generator=gen) * 2 - 1
    y = (x + 0.3 * torch.randn(x.shape, generator=gen)).clamp(-1, 1)
    with torch.no_grad():
        d_xy, d_yx, d_xx = model(x, y), model(y, x), model(x, x)
    assert d_xy.shape == (2,)
    # Identity and symmetry hold exactly in arithmetic; in float32 the two inputs' features are
    # separate computations (some CPUs do not repeat them bitwise), so: float32 noise of the sum.
    torch.testing.assert_close(d_xx, torch.zeros_like(d_xx), rtol=0, atol=1e-6)
    torch.testing.assert_close(d_yx, d_xy, rtol=1e-5, atol=1e-7)
    assert torch.all(d_xy > 0)
    ref = _reference_lpips(net, backbone, heads, x, y)
    torch.testing.assert_close(d_xy, ref, rtol=1e-5, atol=1e-7)
    if net == "alex":  # normalize=True takes [0, 1] inputs (checked on the cheap net only)
        with torch.no_grad():
            torch.testing.assert_close(model((x + 1) / 2, (y + 1) / 2, normalize=True), d_xy, rtol=1e-5, atol=1e-7)


def test_lpips_distance_on_numpy(weight_files: dict[str, tuple[Path, Path]]) -> None:
    backbone, heads = weight_files["alex"]
    model = load_lpips("alex", backbone=backbone, heads=heads)
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    expected = _reference_lpips(
        "alex", backbone, heads,
        torch.from_numpy(a).permute(2, 0, 1)[None].float() / 127.5 - 1,
        torch.from_numpy(b).permute(2, 0, 1)[None].float() / 127.5 - 1,
    )  # fmt: skip
    assert lpips_distance(model, a, b) == pytest.approx(float(expected[0]), rel=1e-5)
    same = lpips_distance(model, a / 255.0, a.astype(np.float64) / 255.0, float_range=1.0)
    assert same == pytest.approx(0.0, abs=1e-6)


def test_env_vars_and_folders(weight_files: dict[str, tuple[Path, Path]], monkeypatch: pytest.MonkeyPatch) -> None:
    backbone, heads = weight_files["vgg"]
    monkeypatch.setenv(ENV_BACKBONE, str(backbone.parent))  # a folder holding the torchvision file name
    monkeypatch.setenv(ENV_HEADS, str(heads))
    assert find_backbone_weights("vgg") == backbone
    assert find_head_weights("vgg") == heads
    assert load_lpips("vgg").name == "LPIPS-vgg v0.1"


def test_missing_weights_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_BACKBONE, raising=False)
    monkeypatch.delenv(ENV_HEADS, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))  # an empty hub cache
    monkeypatch.setattr(sys, "path", [p for p in sys.path if not (Path(p) / "lpips").exists()])
    with pytest.raises(WeightsNotFoundError, match=r"vgg16-397923af\.pth.*VMAMBAIR_LPIPS_BACKBONE"):
        find_backbone_weights("vgg")
    with pytest.raises(WeightsNotFoundError, match=r"alexnet-owt-7be5be79\.pth"):
        load_lpips("alex")
    with pytest.raises(WeightsNotFoundError, match=r"alex\.pth.*pip install --no-deps lpips.*VMAMBAIR_LPIPS_HEADS"):
        find_head_weights("alex")
    missing = tmp_path / "nope.pth"
    with pytest.raises(WeightsNotFoundError, match=str(missing)):
        find_head_weights("vgg", missing)
    monkeypatch.setenv(ENV_BACKBONE, str(missing))
    with pytest.raises(WeightsNotFoundError, match="VMAMBAIR_LPIPS_BACKBONE"):
        find_backbone_weights("vgg")


def test_heads_found_in_lpips_package_without_importing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weight_files: dict[str, tuple[Path, Path]]
) -> None:
    """A fake installed lpips whose import would fail: locating its weights must not execute it."""
    pkg = tmp_path / "site" / "lpips"
    (pkg / "weights" / "v0.1").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('lpips must not be imported (it imports torchvision)')\n")
    (pkg / "weights" / "v0.1" / "vgg.pth").write_bytes(weight_files["vgg"][1].read_bytes())
    monkeypatch.delenv(ENV_HEADS, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "lpips", raising=False)
    found = find_head_weights("vgg")
    assert found == pkg / "weights" / "v0.1" / "vgg.pth"
    assert "lpips" not in sys.modules
    with pytest.raises(WeightsNotFoundError, match=r"weights/v0\.1/alex\.pth"):
        find_head_weights("alex")
