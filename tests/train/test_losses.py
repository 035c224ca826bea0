"""L1, VGG19 perceptual and vanilla GAN losses against hand-written references."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from vmambair_core.errors import CheckpointError, ConfigError, InputError
from vmambair_core.train.losses import PERCEPTUAL_LAYER_WEIGHTS, GANLoss, L1Loss, PerceptualLoss
from vmambair_core.train.vgg import VGG19_LAYER_NAMES, VGG19_WEIGHTS_ENV, VGG19FeatureExtractor

# torchvision vgg19().features: index -> (out, in) of each Conv2d; 4, 9, 18, 27, 36 are max pools.
TORCHVISION_CONVS = {
    0: (64, 3), 2: (64, 64), 5: (128, 64), 7: (128, 128),
    10: (256, 128), 12: (256, 256), 14: (256, 256), 16: (256, 256),
    19: (512, 256), 21: (512, 512), 23: (512, 512), 25: (512, 512),
    28: (512, 512), 30: (512, 512), 32: (512, 512), 34: (512, 512),
}  # fmt: skip
POOLS = (4, 9, 18, 27, 36)
NAMED = {"conv1_2": 2, "conv2_2": 7, "conv3_4": 16, "conv4_4": 25, "conv5_4": 34}


@pytest.fixture(scope="module")
def vgg_state(vgg_file: Path) -> dict[str, torch.Tensor]:
    return torch.load(vgg_file, weights_only=True)


@pytest.fixture(scope="module")
def vgg_net(vgg_file: Path) -> VGG19FeatureExtractor:
    """The full extractor loaded from the file once (building VGG19 costs seconds on CI)."""
    return VGG19FeatureExtractor(list(NAMED), vgg_file)


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A torchvision-format VGG19 file with random weights (classifier shrunk: it is ignored)."""
    g = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}
    for idx, (out, inp) in TORCHVISION_CONVS.items():
        state[f"features.{idx}.weight"] = torch.randn(out, inp, 3, 3, generator=g) * math.sqrt(2 / (9 * inp))
        state[f"features.{idx}.bias"] = 0.01 * torch.randn(out, generator=g)
    for idx in (0, 3, 6):
        state[f"classifier.{idx}.weight"] = torch.zeros(2, 2)
        state[f"classifier.{idx}.bias"] = torch.zeros(2)
    path = tmp_path_factory.mktemp("vgg") / "vgg19-dcbb9e9d.pth"
    torch.save(state, path)
    return path


def reference_features(state: dict[str, torch.Tensor], x: torch.Tensor) -> dict[str, torch.Tensor]:
    """torchvision's VGG19 forward up to conv5_4, keeping the named convs' pre-ReLU outputs."""
    mean = torch.tensor([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1)
    h = (x - mean) / std
    out = {}
    for idx in range(35):
        if idx in TORCHVISION_CONVS:
            h = F.conv2d(h, state[f"features.{idx}.weight"], state[f"features.{idx}.bias"], padding=1)
            for name, i in NAMED.items():
                if i == idx:
                    out[name] = h
        elif idx in POOLS:
            h = F.max_pool2d(h, 2, 2)
        else:
            h = F.relu(h)
    return out


def test_layer_names_follow_torchvision_indices():
    assert len(VGG19_LAYER_NAMES) == 37
    for name, idx in NAMED.items():
        assert VGG19_LAYER_NAMES[idx] == name
    assert [i for i, n in enumerate(VGG19_LAYER_NAMES) if n.startswith("conv")] == sorted(TORCHVISION_CONVS)
    assert [i for i, n in enumerate(VGG19_LAYER_NAMES) if n.startswith("pool")] == list(POOLS)
    net = VGG19FeatureExtractor(["conv5_4"], load=False)
    expected = [f"features.{i}.{p}" for i in sorted(TORCHVISION_CONVS) for p in ("weight", "bias")]
    assert list(net.state_dict()) == expected
    for idx, (out, inp) in TORCHVISION_CONVS.items():
        assert net.features[idx].weight.shape == (out, inp, 3, 3)


def test_extractor_loads_the_file_and_returns_pre_relu_features(vgg_net, vgg_state):
    net, state = vgg_net, vgg_state
    torch.testing.assert_close(net.features[34].weight, state["features.34.weight"])
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    ours, ref = net(x), reference_features(state, x)
    for name in NAMED:
        torch.testing.assert_close(ours[name], ref[name], atol=1e-4, rtol=1e-4)
    assert (ours["conv1_2"] < 0).any()  # taken before the ReLU
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training  # stays a fixed loss network


def test_perceptual_loss_matches_the_weighted_l1_of_features(vgg_net, vgg_state):
    loss = PerceptualLoss(extractor=vgg_net)
    assert dict(PERCEPTUAL_LAYER_WEIGHTS) == {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1, "conv4_4": 1, "conv5_4": 1}
    g = torch.Generator().manual_seed(2)
    target = torch.rand(1, 3, 16, 16, generator=g)
    pred = (target + 0.05 * torch.randn(1, 3, 16, 16, generator=g)).requires_grad_()
    assert loss(target, target).item() == 0.0
    value = loss(pred, target)
    fp, ft = reference_features(vgg_state, pred.detach()), reference_features(vgg_state, target)
    expected = sum(w * (fp[n] - ft[n]).abs().mean() for n, w in PERCEPTUAL_LAYER_WEIGHTS.items())
    assert value.item() > 0
    assert value.item() == pytest.approx(float(expected), rel=1e-4)
    value.backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0


def test_perceptual_weights_from_the_environment(vgg_file, vgg_state, monkeypatch):
    monkeypatch.setenv(VGG19_WEIGHTS_ENV, str(vgg_file))
    x = torch.rand(1, 3, 16, 16)
    loss = PerceptualLoss(layer_weights={"conv1_2": 1.0}, weight=2.0)  # truncated after features.2
    assert len(loss.vgg.features) == 3
    ref = reference_features(vgg_state, x)["conv1_2"], reference_features(vgg_state, x * 0.5)["conv1_2"]
    assert loss(x, x * 0.5).item() == pytest.approx(2.0 * (ref[0] - ref[1]).abs().mean().item(), rel=1e-4)


def test_missing_vgg_weights_say_how_to_provide_them(tmp_path, monkeypatch):
    monkeypatch.delenv(VGG19_WEIGHTS_ENV, raising=False)
    with pytest.raises(ConfigError, match=VGG19_WEIGHTS_ENV):
        PerceptualLoss()
    with pytest.raises(CheckpointError, match="GAN stage"):
        PerceptualLoss(tmp_path / "nope.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(CheckpointError, match="not a torchvision VGG19"):
        PerceptualLoss(wrong, layer_weights={"conv1_2": 1.0})
    bad_shape = tmp_path / "bad.pth"
    torch.save({f"features.{i}.{p}": torch.zeros(1) for i in TORCHVISION_CONVS for p in ("weight", "bias")}, bad_shape)
    with pytest.raises(CheckpointError, match="shapes"):
        PerceptualLoss(bad_shape, layer_weights={"conv1_2": 1.0})
    with pytest.raises(ConfigError, match="unknown VGG19 layer"):
        VGG19FeatureExtractor(["conv6_1"], load=False)


def test_l1_loss_is_the_weighted_mean_absolute_error():
    pred = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    target = torch.tensor([[1.0, 1.0], [0.0, 0.0]])
    assert L1Loss()(pred, target).item() == pytest.approx((1 + 0 + 2 + 1) / 4)
    assert L1Loss(weight=0.5, reduction="sum")(pred, target).item() == pytest.approx(2.0)
    with pytest.raises(InputError):
        L1Loss()(pred, target[:1])
    with pytest.raises(ConfigError):
        L1Loss(reduction="none")  # type: ignore[arg-type]


def test_vanilla_gan_loss_is_bce_with_logits():
    logits = torch.tensor([[-2.0, 0.0], [1.0, 3.0]])
    sig = torch.sigmoid(logits)
    real = -torch.log(sig).mean().item()
    fake = -torch.log(1 - sig).mean().item()
    loss = GANLoss(weight=0.1)
    assert loss(logits, True, is_disc=True).item() == pytest.approx(real, rel=1e-6)
    assert loss(logits, False, is_disc=True).item() == pytest.approx(fake, rel=1e-6)
    assert loss(logits, True).item() == pytest.approx(0.1 * real, rel=1e-6)  # generator term weighted
