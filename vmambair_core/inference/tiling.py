"""Whole-image and tiled inference around any ``fn(x[B, C, h, w]) -> y[B, C', h*s, w*s]``.

The authors run the whole image at once after reflect-padding bottom/right to a multiple of 8
(``docs/architecture.md`` §8): :func:`run_padded`. Large images need tiles (:func:`run_tiled`), done the
way users asked for after years of seams and OOM crashes in other tools:

* the image is padded exactly like the whole-image path first and tiles are cut from the padded
  image, so border pixels see the same context as in :func:`run_padded` and every tile is a
  multiple of ``multiple`` (the tile size is rounded down to one);
* all tiles have the same size (the last one of a row/column is shifted inward), so several can
  share one call (``tiles_per_batch``);
* neighbours are cross-faded with a raised cosine over the middle ``blend`` fraction of their
  overlap; the outer part is trimmed, since a tile's edge pixels lack context. A local network
  whose receptive radius r satisfies ``(overlap - blend*overlap) // 2 >= r`` therefore gives
  exactly the whole-image result; a global one (VmambaIR's scans) gives no visible steps.
  Image borders are never attenuated; weights are normalised by their sum, accumulated in
  float32 on the input's device;
* the network may run on another ``device``: the image and the full-size accumulators stay where
  the input is (host memory), and only one batch of tiles at a time is moved there (through a
  pinned staging buffer when the network is on a GPU) and back. A 12-megapixel photo at x4 is
  ~2.3 GB per output buffer, which is what a small GPU cannot spare;
* only an out-of-memory inside the network call (tile batch in, network, output) is a reason to
  retry with smaller tiles (:class:`NetworkOutOfMemory`); one anywhere else is reported as it is.

A whole-image run is not bit-identical to a tiled one for VmambaIR: its scans see the whole
(padded) image, so tiling is an approximation that trades fidelity for memory.
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable

import torch

from ..device import is_out_of_memory as device_out_of_memory
from ..errors import ConfigError, DeviceMemoryError, InputError
from ..models.padding import PadMode, pad_to_multiple

TileFn = Callable[[torch.Tensor], torch.Tensor]
ProgressFn = Callable[[int, int], None]


# --------------------------------------------------------------------------- padding


def crop(y: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The top-left ``height`` x ``width`` of ``y`` (undoes bottom/right padding)."""
    return y[..., :height, :width]


def run_padded(
    fn: TileFn,
    x: torch.Tensor,
    scale: int,
    multiple: int = 8,
    mode: PadMode = "reflect",
    *,
    device: torch.device | None = None,
) -> torch.Tensor:
    """The authors' whole-image path: pad to ``multiple``, run ``fn`` once, crop to scale*H x scale*W.

    ``fn`` runs on ``device`` (default: ``x``'s); the output is left there.
    """
    _check_scale(scale)
    height, width = x.shape[-2:]
    padded, _ = pad_to_multiple(x, multiple, mode)
    return crop(_call(fn, padded, scale, device or x.device), height * scale, width * scale)


class NetworkOutOfMemory(RuntimeError):
    """The network call ran out of memory: the one failure that smaller tiles can cure."""


def _call(fn: TileFn, x: torch.Tensor, scale: int, device: torch.device) -> torch.Tensor:
    """``fn`` on ``x`` moved to ``device``; an out-of-memory here becomes :class:`NetworkOutOfMemory`."""
    message = None
    try:
        return _checked(fn(x.to(device, non_blocking=x.is_pinned())), x, scale)
    except Exception as error:
        if isinstance(error, NetworkOutOfMemory) or not is_out_of_memory(error):
            raise
        message = first_line(error)
    # Raised outside the except block, so it holds no traceback (and no tensors of the failed call).
    raise NetworkOutOfMemory(message)


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _checked(y: torch.Tensor, x: torch.Tensor, scale: int) -> torch.Tensor:
    expected = (x.shape[0], x.shape[-2] * scale, x.shape[-1] * scale)
    if not isinstance(y, torch.Tensor) or y.ndim != 4 or (y.shape[0], *y.shape[-2:]) != expected:
        found = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ConfigError(
            f"the network turned {tuple(x.shape)} into {found}, expected [{expected[0]}, C, "
            f"{expected[1]}, {expected[2]}] for scale={scale}: is the scale right for these weights?"
        )
    return y


# --------------------------------------------------------------------------- tiling


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Start of each tile along one axis: stride ``tile - overlap``, the last one shifted inward.

    All tiles have length ``min(tile, size)``; shifting the last one only increases its overlap.
    """
    if size <= tile:
        return [0]
    if not 0 <= overlap < tile:
        raise ConfigError(f"overlap must be in [0, tile), got overlap={overlap}, tile={tile}")
    return [*range(0, size - tile, tile - overlap), size - tile]


def run_tiled(
    fn: TileFn,
    x: torch.Tensor,
    *,
    scale: int,
    tile: int,
    overlap: int,
    multiple: int = 8,
    tiles_per_batch: int = 1,
    on_tile: ProgressFn | None = None,
    blend: float = 0.5,
    mode: PadMode = "reflect",
    device: torch.device | None = None,
) -> torch.Tensor:
    """Run ``fn`` on overlapping ``tile`` x ``tile`` pieces of ``x`` and blend them (see module doc).

    ``fn`` runs on ``device`` (default: ``x``'s); tiles go there one batch at a time, and the blended
    result is built and returned on ``x``'s device.

    ``tile`` and ``overlap`` are in input pixels; ``tile`` is rounded down to a multiple of
    ``multiple`` (at least ``multiple``). ``blend`` in [0, 1] is the fraction of each overlap that
    is cross-faded: 0 is a hard cut in its middle, 1 fades over all of it. ``on_tile(done, total)``
    is called after every call to ``fn``. An image that fits one tile gives :func:`run_padded`.
    """
    _check_image(x)
    _check_scale(scale)
    if not isinstance(tile, int) or tile < 1:
        raise ConfigError(f"tile must be a positive integer, got {tile!r}")
    if not isinstance(tiles_per_batch, int) or tiles_per_batch < 1:
        raise ConfigError(f"tiles_per_batch must be a positive integer, got {tiles_per_batch!r}")
    if not 0.0 <= blend <= 1.0:
        raise ConfigError(f"blend must be in [0, 1], got {blend!r}")
    height, width = x.shape[-2:]
    device = x.device if device is None else device
    padded, _ = pad_to_multiple(x, multiple, mode)
    size_h, size_w = padded.shape[-2:]
    tile = max(multiple, tile // multiple * multiple)
    if not isinstance(overlap, int) or not 0 <= overlap < tile:
        raise ConfigError(
            f"overlap must be an integer in [0, tile), got {overlap!r} with tile={tile} "
            f"(rounded down to a multiple of {multiple})"
        )
    if size_h <= tile and size_w <= tile:
        out = _call(fn, padded, scale, device)
        if on_tile is not None:
            on_tile(1, 1)
        return crop(out, height * scale, width * scale).to(x.device)

    rows, cols = tile_starts(size_h, tile, overlap), tile_starts(size_w, tile, overlap)
    tile_h, tile_w = min(tile, size_h), min(tile, size_w)
    weights_h = _axis_weights(rows, tile_h, size_h, scale, blend, x.device)
    weights_w = _axis_weights(cols, tile_w, size_w, scale, blend, x.device)
    boxes = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
    batch = x.shape[0]

    accumulator: torch.Tensor | None = None
    out_dtype = x.dtype
    staging = _staging((tiles_per_batch * batch, x.shape[1], tile_h, tile_w), x, device)
    for first in range(0, len(boxes), tiles_per_batch):
        group = boxes[first : first + tiles_per_batch]
        pieces = [padded[..., rows[i] : rows[i] + tile_h, cols[j] : cols[j] + tile_w] for i, j in group]
        tiles = torch.cat(pieces, dim=0) if staging is None else torch.cat(pieces, 0, out=staging[: len(group) * batch])
        out = _call(fn, tiles, scale, device)
        if accumulator is None:
            out_dtype = out.dtype
            accumulator = host_buffer((batch, out.shape[1], size_h * scale, size_w * scale), x.device)
        for k, (i, j) in enumerate(group):
            piece = out[k * batch : (k + 1) * batch].to(device=x.device, dtype=torch.float32)
            top, left = rows[i] * scale, cols[j] * scale
            window = weights_h[i][:, None] * weights_w[j][None, :]
            accumulator[..., top : top + tile_h * scale, left : left + tile_w * scale] += piece * window
        if on_tile is not None:
            on_tile(first + len(group), len(boxes))

    assert accumulator is not None  # at least two tiles were run
    total_h = _axis_total(rows, weights_h, size_h * scale, scale)
    total_w = _axis_total(cols, weights_w, size_w * scale, scale)
    blended = accumulator / (total_h[:, None] * total_w[None, :])
    return crop(blended, height * scale, width * scale).to(out_dtype)


def _staging(shape: tuple[int, ...], x: torch.Tensor, device: torch.device) -> torch.Tensor | None:
    """A page-locked buffer for one tile batch when tiles go from host memory to a GPU, else None.

    Copies from pinned memory are asynchronous; reusing the buffer is safe because each batch's
    output is copied back (which waits for the GPU) before the next batch is staged.
    """
    if device.type != "cuda" or x.device.type != "cpu" or not torch.cuda.is_available():
        return None
    return torch.empty(shape, dtype=x.dtype, pin_memory=True)


def host_buffer(shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    """A zeroed float32 accumulator on the input's device (not the network's)."""
    return torch.zeros(shape, dtype=torch.float32, device=device)


def _axis_weights(
    starts: list[int], length: int, size: int, scale: int, blend: float, device: torch.device
) -> list[torch.Tensor]:
    """One 1-D window per tile, in output pixels: rises past its predecessor, falls before its successor.

    Each boundary between tiles k-1 and k is a ramp R_k over the whole axis (0 before, 1 after);
    tile k's window is R_k * (1 - R_{k+1}), so neighbours are complementary where they overlap.
    """
    positions = torch.arange(size * scale, device=device, dtype=torch.float64)
    ramps = [torch.ones_like(positions)]
    for k in range(1, len(starts)):
        overlap = starts[k - 1] + length - starts[k]
        fade = round(overlap * blend)
        begin = (starts[k] + (overlap - fade) // 2) * scale
        if fade == 0:
            ramps.append((positions >= begin).to(positions.dtype))
        else:
            phase = ((positions - begin + 0.5) / (fade * scale)).clamp(0.0, 1.0)
            ramps.append(0.5 - 0.5 * torch.cos(math.pi * phase))
    ramps.append(torch.zeros_like(positions))
    windows = []
    for k, start in enumerate(starts):
        window = ramps[k] * (1.0 - ramps[k + 1])
        windows.append(window[start * scale : (start + length) * scale].to(torch.float32))
    return windows


def _axis_total(starts: list[int], windows: list[torch.Tensor], size: int, scale: int) -> torch.Tensor:
    total = torch.zeros(size, dtype=torch.float32, device=windows[0].device)
    for start, window in zip(starts, windows):
        total[start * scale : start * scale + window.numel()] += window
    return total


# --------------------------------------------------------------------------- out of memory


def is_out_of_memory(error: BaseException) -> bool:
    """Allocation failures of any torch device (``device.is_out_of_memory``, cuBLAS/cuDNN included), or the
    network's own wrapped one."""
    return isinstance(error, NetworkOutOfMemory) or device_out_of_memory(error)


def run_with_oom_backoff(
    fn_tiled: Callable[[torch.Tensor, int], torch.Tensor],
    x: torch.Tensor,
    tile: int,
    *,
    min_tile: int = 32,
    on_backoff: Callable[[int, int], None] | None = None,
    device: torch.device | None = None,
) -> tuple[torch.Tensor, int]:
    """``fn_tiled(x, tile)``, halving ``tile`` and restarting the whole image after each network OOM.

    Nothing from a failed attempt is reused (a half-finished accumulation is garbage). Returns the
    output and the tile that worked; raises :class:`DeviceMemoryError` once ``tile`` would drop
    below ``min_tile``, or at once for an out-of-memory outside the network call (smaller tiles
    would not help there). ``device``: where the network runs (default ``x``'s), whose cache is
    released before a retry. ``on_backoff(old, new)`` lets a caller report the retry.
    """
    if not isinstance(tile, int) or not isinstance(min_tile, int) or tile < min_tile or min_tile < 1:
        raise ConfigError(f"need 1 <= min_tile <= tile, got tile={tile!r}, min_tile={min_tile!r}")
    device = x.device if device is None else device
    while True:
        message, in_network = None, False
        try:
            return fn_tiled(x, tile), tile
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            message, in_network = first_line(error), isinstance(error, NetworkOutOfMemory)
        # Outside the except block: the traceback (and the tensors its frames hold) is gone now.
        release_memory(device)
        if not in_network:
            raise outside_network(message, tile)
        smaller = tile // 2
        if smaller < min_tile:
            raise DeviceMemoryError(
                f"out of memory on {device} even with tile {tile} (min_tile={min_tile}): "
                f"{message}. Use a smaller image, a smaller min_tile, or another device"
            )
        if on_backoff is not None:
            on_backoff(tile, smaller)
        tile = smaller


def outside_network(message: str, tile: int | None) -> DeviceMemoryError:
    """The error for an out-of-memory in the image-sized buffers, where smaller tiles would not help."""
    where = "whole image" if tile is None else f"tile {tile}"
    return DeviceMemoryError(
        f"out of memory outside the network ({where}; smaller tiles would not help): {message}. "
        "Use a smaller image or a machine with more memory"
    )


def release_memory(device: torch.device) -> None:
    """Collect garbage and return cached blocks to the driver, so a retry starts from a clean heap."""
    gc.collect()
    if device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.empty_cache()
    elif device.type == "mps" and hasattr(torch, "mps"):
        torch.mps.empty_cache()




# --------------------------------------------------------------------------- checks


def _check_image(x: torch.Tensor) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or 0 in x.shape:
        found = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise InputError(f"expected a non-empty [B, C, H, W] tensor, got {found}")
    if not x.is_floating_point():
        raise InputError(f"expected a floating-point image tensor, got {x.dtype}")


def _check_scale(scale: int) -> None:
    if not isinstance(scale, int) or scale < 1:
        raise ConfigError(f"scale must be a positive integer, got {scale!r}")
