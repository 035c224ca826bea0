"""Tiled inference against the whole-image path, with networks whose receptive field we know.

References: ``numpy.pad`` for padding, the whole-image run for tiling (exact for a local network
when the trimmed overlap covers its receptive radius), and a hard-cut run that must show the seams
the blended run hides.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vmambair_core.errors import ConfigError, InputError
from vmambair_core.inference.tiling import (
    DeviceMemoryError,
    crop,
    is_out_of_memory,
    pad_to_multiple,
    run_padded,
    run_tiled,
    run_with_oom_backoff,
    tile_starts,
)

RADIUS = 3  # three 3x3 convolutions


def _local_net(scale: int) -> nn.Module:
    """Random convs (receptive radius 3 in input pixels), then a pixel shuffle when scale > 1."""
    torch.manual_seed(0)
    out = 3 * scale * scale
    layers: list[nn.Module] = [
        nn.Conv2d(3, 8, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(8, out, 3, padding=1),
    ]
    if scale > 1:
        layers.append(nn.PixelShuffle(scale))
    return nn.Sequential(*layers).eval()


def _global_op(scale: int):
    """Nearest upsampling plus the image mean: every tile sees a different mean."""

    def fn(x: torch.Tensor) -> torch.Tensor:
        up = F.interpolate(x, scale_factor=scale, mode="nearest") if scale > 1 else x
        return up + x.mean(dim=(-2, -1), keepdim=True)

    return fn


def _image(h: int, w: int, batch: int = 1, seed: int = 1) -> torch.Tensor:
    return torch.rand(batch, 3, h, w, generator=torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- padding


def test_pad_matches_torch_reflect_and_reports_pads() -> None:
    x = _image(13, 21)
    padded, pads = pad_to_multiple(x, 8)
    assert pads == (3, 3)
    assert torch.equal(padded, F.pad(x, (0, 3, 0, 3), mode="reflect"))
    assert torch.equal(crop(padded, 13, 21), x)
    same, none = pad_to_multiple(_image(16, 8), 8)
    assert none == (0, 0) and same.shape[-2:] == (16, 8)


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 5), (5, 300), (7, 2), (9, 1)])
@pytest.mark.parametrize("mode, np_mode", [("reflect", "reflect"), ("replicate", "edge")])
def test_pad_tiny_images_like_numpy(size: tuple[int, int], mode: str, np_mode: str) -> None:
    x = _image(*size)
    padded, (pad_h, pad_w) = pad_to_multiple(x, 8, mode=mode)  # type: ignore[arg-type]
    expected = np.pad(x.numpy(), ((0, 0), (0, 0), (0, pad_h), (0, pad_w)), mode=np_mode)
    assert padded.shape[-2] % 8 == 0 and padded.shape[-1] % 8 == 0
    np.testing.assert_array_equal(padded.numpy(), expected)


def test_run_padded_is_pad_run_crop() -> None:
    x = _image(11, 6)
    seen: list[np.ndarray] = []

    def fn(t: torch.Tensor) -> torch.Tensor:
        seen.append(t.numpy().copy())
        return F.interpolate(t, scale_factor=4, mode="nearest") * 2.0

    y = run_padded(fn, x, scale=4)
    reference_in = np.pad(x.numpy(), ((0, 0), (0, 0), (0, 5), (0, 2)), mode="reflect")
    np.testing.assert_array_equal(seen[0], reference_in)
    expected = np.repeat(np.repeat(x.numpy(), 4, axis=2), 4, axis=3) * 2.0
    np.testing.assert_array_equal(y.numpy(), expected)


def test_wrong_scale_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="scale=2"):
        run_padded(_global_op(4), _image(8, 8), scale=2)
    with pytest.raises(ConfigError, match="scale=2"):
        run_tiled(_global_op(4), _image(40, 40), scale=2, tile=16, overlap=8)


def test_bad_arguments() -> None:
    with pytest.raises(InputError):
        pad_to_multiple(torch.rand(3, 8, 8))
    with pytest.raises(InputError):
        run_tiled(_global_op(1), torch.zeros(1, 3, 8, 8, dtype=torch.int64), scale=1, tile=8, overlap=0)
    with pytest.raises(ConfigError, match="overlap"):
        run_tiled(_global_op(1), _image(40, 40), scale=1, tile=16, overlap=16)
    with pytest.raises(ConfigError, match="blend"):
        run_tiled(_global_op(1), _image(40, 40), scale=1, tile=16, overlap=8, blend=1.5)


# --------------------------------------------------------------------------- tiling


def test_tile_starts_by_hand() -> None:
    assert tile_starts(21, 10, 2) == [0, 8, 11]  # last tile shifted inward, overlap grows to 7
    assert tile_starts(40, 16, 8) == [0, 8, 16, 24]
    assert tile_starts(24, 16, 8) == [0, 8]
    assert tile_starts(16, 16, 8) == [0]
    assert tile_starts(300, 32, 0) == [0, 32, 64, 96, 128, 160, 192, 224, 256, 268]


@pytest.mark.parametrize("scale", [1, 4])
@pytest.mark.parametrize("size", [(37, 23), (5, 150), (64, 48)])
def test_tiled_equals_whole_for_local_network(scale: int, size: tuple[int, int]) -> None:
    net = _local_net(scale)
    x = _image(*size)
    calls: list[tuple[int, int]] = []
    with torch.no_grad():
        whole = run_padded(net, x, scale)
        # overlap 16, blend 0.5: 4 px trimmed each side >= radius 3, so tiling is exact.
        tiled = run_tiled(
            net, x, scale=scale, tile=24, overlap=16, tiles_per_batch=4, on_tile=lambda d, t: calls.append((d, t))
        )
        leaky = run_tiled(net, x, scale=scale, tile=24, overlap=16, tiles_per_batch=4, blend=1.0)
    assert calls[-1][1] > 1, "the case must really be tiled"
    assert tiled.shape == whole.shape == (1, 3, size[0] * scale, size[1] * scale)
    assert (tiled - whole).abs().max().item() < 1e-5
    # Fading over the whole overlap lets the tiles' context-starved edges in: the check can fail.
    assert (leaky - whole).abs().max().item() > 1e-4


@pytest.mark.parametrize("size", [(1, 1), (2, 3), (3, 1), (37, 23)])
def test_image_that_fits_one_tile_equals_run_padded(size: tuple[int, int]) -> None:
    net = _local_net(4)
    x = _image(*size)
    calls: list[tuple[int, int]] = []
    with torch.no_grad():
        whole = run_padded(net, x, 4)
        tiled = run_tiled(net, x, scale=4, tile=40, overlap=8, on_tile=lambda d, t: calls.append((d, t)))
    assert tiled.shape == (1, 3, 4 * size[0], 4 * size[1])
    assert torch.equal(tiled, whole)
    assert calls == [(1, 1)]


def test_tile_is_rounded_down_to_the_multiple() -> None:
    net, x = _local_net(1), _image(45, 37)
    with torch.no_grad():
        assert torch.equal(
            run_tiled(net, x, scale=1, tile=21, overlap=8), run_tiled(net, x, scale=1, tile=16, overlap=8)
        )


@pytest.mark.parametrize("scale", [1, 4])
@pytest.mark.parametrize("overlap", [8, 12])  # 12 > tile/2: three tiles overlap, fades overlap
def test_constant_image_stays_constant(scale: int, overlap: int) -> None:
    x = torch.full((1, 3, 61, 45), 0.3)
    y = run_tiled(_global_op(scale), x, scale=scale, tile=16, overlap=overlap)
    assert y.shape == (1, 3, 61 * scale, 45 * scale)
    assert (y - 0.6).abs().max().item() < 1e-6


def _max_step_at_seams(fn, x: torch.Tensor, **kwargs) -> tuple[float, float]:
    """Largest jump of the row/column means of (tiled - whole): a seam is a jump."""
    whole = run_padded(fn, x, 1)
    tiled = run_tiled(fn, x, scale=1, **kwargs)
    offset = (tiled - whole)[0].mean(dim=0)  # [H, W]
    cols = offset.mean(dim=0).diff().abs().max().item()
    rows = offset.mean(dim=1).diff().abs().max().item()
    return cols, rows


def test_global_operator_shows_no_seams_when_blended() -> None:
    h = w = 128
    yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    ramp = ((yy + xx) / (h + w)).float()[None, None].expand(1, 3, h, w)
    x = ramp + 0.05 * _image(h, w)
    fn = _global_op(1)
    hard = _max_step_at_seams(fn, x, tile=64, overlap=32, blend=0.0)
    soft = _max_step_at_seams(fn, x, tile=64, overlap=32, blend=0.5)
    # Neighbouring tiles' means differ by ~0.06: a hard cut is a visible step in both directions.
    assert min(hard) > 0.03, hard
    assert soft[0] < 0.25 * hard[0] and soft[1] < 0.25 * hard[1], (soft, hard)


def test_batched_tiles_equal_tile_by_tile() -> None:
    net, x = _local_net(4), _image(37, 23, batch=2)
    sizes: list[int] = []

    def fn(t: torch.Tensor) -> torch.Tensor:
        sizes.append(t.shape[0])
        return net(t)

    progress: list[tuple[int, int]] = []
    with torch.no_grad():
        single = run_tiled(net, x, scale=4, tile=16, overlap=8)
        batched = run_tiled(
            fn, x, scale=4, tile=16, overlap=8, tiles_per_batch=3, on_tile=lambda *a: progress.append(a)
        )
    # padded 40x24, tile 16, overlap 8: rows 0, 8, 16, 24 and cols 0, 8 -> 8 tiles, 2 images each.
    assert sizes == [6, 6, 4]
    assert progress == [(3, 8), (6, 8), (8, 8)]
    assert (single - batched).abs().max().item() < 1e-6


def test_accumulates_on_input_device_and_keeps_output_dtype() -> None:
    net = _local_net(1).to(torch.float64)
    x = _image(40, 40).to(torch.float64)
    with torch.no_grad():
        y = run_tiled(net, x, scale=1, tile=16, overlap=8)
    assert y.dtype == torch.float64 and y.device == x.device


# --------------------------------------------------------------------------- out of memory


class _FakeOOM:
    """A network that runs out of memory on tiles larger than ``limit`` or on chosen calls."""

    def __init__(self, limit: int, fail_calls: set[int] | None = None, error: type[Exception] | None = None):
        self.net = _local_net(1)
        self.limit = limit
        self.fail_calls = fail_calls or set()
        self.error = error
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if max(x.shape[-2:]) > self.limit or self.calls in self.fail_calls:
            if self.error is not None:
                raise self.error("CUDA out of memory. Tried to allocate 2.00 GiB")
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.net(x)


def test_backoff_halves_and_restarts_the_whole_image() -> None:
    x = _image(70, 50)  # padded 72 x 56
    # Calls 1-2 (tiles 256, 128) are too big; tile 64 needs two calls and the second one fails,
    # after the first tile was already accumulated.
    fake = _FakeOOM(limit=64, fail_calls={4})
    tried: list[int] = []
    backoffs: list[tuple[int, int]] = []
    progress: list[tuple[int, int]] = []

    def tiled(img: torch.Tensor, tile: int) -> torch.Tensor:
        tried.append(tile)
        return run_tiled(fake, img, scale=1, tile=tile, overlap=16, on_tile=lambda *a: progress.append(a))

    with torch.no_grad():
        out, tile = run_with_oom_backoff(tiled, x, 256, min_tile=16, on_backoff=lambda *a: backoffs.append(a))
        whole = run_padded(fake.net, x, 1)
    assert tried == [256, 128, 64, 32] and tile == 32
    assert backoffs == [(256, 128), (128, 64), (64, 32)]
    done, total = progress[-1]
    assert done == total and total > 1
    assert (out - whole).abs().max().item() < 1e-5


def test_runtime_error_mentioning_oom_also_backs_off() -> None:
    fake = _FakeOOM(limit=32, error=RuntimeError)
    def tiled(img: torch.Tensor, tile: int) -> torch.Tensor:
        return run_tiled(fake, img, scale=1, tile=tile, overlap=8)

    out, tile = run_with_oom_backoff(tiled, _image(40, 40), 64)
    assert tile == 32 and out.shape == (1, 3, 40, 40)


def test_other_errors_propagate_at_once() -> None:
    calls: list[int] = []

    def broken(img: torch.Tensor, tile: int) -> torch.Tensor:
        calls.append(tile)
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes"):
        run_with_oom_backoff(broken, _image(8, 8), 64)
    assert calls == [64]


def test_gives_up_below_min_tile() -> None:
    fake = _FakeOOM(limit=8)
    tried: list[int] = []

    def tiled(img: torch.Tensor, tile: int) -> torch.Tensor:
        tried.append(tile)
        return run_tiled(fake, img, scale=1, tile=tile, overlap=8)

    with pytest.raises(DeviceMemoryError, match="min_tile=32"):
        run_with_oom_backoff(tiled, _image(100, 100), 128, min_tile=32)
    assert tried == [128, 64, 32]


def test_is_out_of_memory() -> None:
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("MPS backend out of memory (MPS allocated: 1 GB)"))
    assert is_out_of_memory(RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 1 GB"))
    assert not is_out_of_memory(RuntimeError("Expected all tensors to be on the same device"))
    assert not is_out_of_memory(ValueError("out of memory"))
    # cuBLAS/cuDNN cannot allocate their workspace on a full GPU: smaller tiles cure that too
    assert is_out_of_memory(RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`"))
    assert is_out_of_memory(RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"))
    assert not is_out_of_memory(RuntimeError("CUDA error: an illegal memory access was encountered"))


def test_a_cublas_allocation_failure_shrinks_the_tiles() -> None:
    """cuBLAS failing to allocate its workspace inside the network backs off like any out-of-memory."""
    fake = _FakeOOM(limit=32)
    real = fake.__call__

    def net(x: torch.Tensor) -> torch.Tensor:
        try:
            return real(x)
        except torch.cuda.OutOfMemoryError:
            raise RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling `cublasCreate(handle)`") from None

    out, tile = run_with_oom_backoff(lambda img, t: run_tiled(net, img, scale=1, tile=t, overlap=8), _image(40, 40), 64)
    assert tile == 32 and out.shape == (1, 3, 40, 40)
