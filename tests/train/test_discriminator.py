"""UNetDiscriminatorSN: Real-ESRGAN's state-dict keys, output shape and a functional reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vmambair_core.errors import InputError
from vmambair_core.train.discriminator import UNetDiscriminatorSN

# Keys of Real-ESRGAN's UNetDiscriminatorSN(num_in_ch=3, num_feat=64) state dict, in order
# (xinntao/Real-ESRGAN realesrgan/archs/discriminator_arch.py, torch.nn.utils.spectral_norm).
_SN = [f"conv{i}.{p}" for i in range(1, 9) for p in ("weight_orig", "weight_u", "weight_v")]
REAL_ESRGAN_KEYS = ["conv0.weight", "conv0.bias", *_SN, "conv9.weight", "conv9.bias"]

# (out, in, k) of every conv for num_feat = 64.
SHAPES = {
    0: (64, 3, 3), 1: (128, 64, 4), 2: (256, 128, 4), 3: (512, 256, 4), 4: (256, 512, 3),
    5: (128, 256, 3), 6: (64, 128, 3), 7: (64, 64, 3), 8: (64, 64, 3), 9: (1, 64, 3),
}  # fmt: skip


def test_state_dict_keys_and_shapes_match_real_esrgan():
    state = UNetDiscriminatorSN(3, 64).state_dict()
    assert list(state) == REAL_ESRGAN_KEYS
    for i, (out, inp, k) in SHAPES.items():
        name = "weight" if i in (0, 9) else "weight_orig"
        assert state[f"conv{i}.{name}"].shape == (out, inp, k, k)
        if i not in (0, 9):
            assert state[f"conv{i}.weight_u"].shape == (out,)
            assert state[f"conv{i}.weight_v"].shape == (inp * k * k,)


def _reference_forward(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Eval-mode forward written from the state dict: W = W_orig / (u . W_mat v)."""

    def conv(i: int, h: torch.Tensor) -> torch.Tensor:
        stride, pad = (2, 1) if i in (1, 2, 3) else (1, 1)
        if i in (0, 9):
            return F.conv2d(h, state[f"conv{i}.weight"], state[f"conv{i}.bias"], stride, pad)
        w = state[f"conv{i}.weight_orig"]
        sigma = torch.dot(state[f"conv{i}.weight_u"], w.reshape(w.shape[0], -1) @ state[f"conv{i}.weight_v"])
        return F.conv2d(h, w / sigma, None, stride, pad)

    act = lambda h: F.leaky_relu(h, 0.2)  # noqa: E731
    up = lambda h: F.interpolate(h, scale_factor=2, mode="bilinear", align_corners=False)  # noqa: E731
    x0 = act(conv(0, x))
    x1 = act(conv(1, x0))
    x2 = act(conv(2, x1))
    x3 = act(conv(3, x2))
    x4 = act(conv(4, up(x3))) + x2
    x5 = act(conv(5, up(x4))) + x1
    x6 = act(conv(6, up(x5))) + x0
    return conv(9, act(conv(8, act(conv(7, x6)))))


def test_output_shape_and_reference_forward():
    torch.manual_seed(0)
    net = UNetDiscriminatorSN(3, 16)
    x = torch.rand(2, 3, 32, 24)
    net.train()
    net(x)  # one power iteration updates u, v like training would
    net.eval()
    out = net(x)
    assert out.shape == (2, 1, 32, 24)
    torch.testing.assert_close(out, _reference_forward(net.state_dict(), x), atol=1e-5, rtol=1e-4)


def test_checkpoint_round_trip_is_strict_and_exact():
    torch.manual_seed(1)
    a, b = UNetDiscriminatorSN(3, 8), UNetDiscriminatorSN(3, 8)
    b.load_state_dict(a.state_dict(), strict=True)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(a.eval()(x), b.eval()(x))


def test_skip_connections_matter_and_sizes_are_checked():
    torch.manual_seed(2)
    with_skip = UNetDiscriminatorSN(3, 8).eval()
    without = UNetDiscriminatorSN(3, 8, skip_connection=False).eval()
    without.load_state_dict(with_skip.state_dict())
    x = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(with_skip(x), without(x))
    with pytest.raises(InputError, match="multiples of 8"):
        with_skip(torch.rand(1, 3, 20, 16))
