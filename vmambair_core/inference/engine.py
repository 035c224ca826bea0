"""One object that turns an image tensor into a restored one: device, precision, tiles, OOM, TTA.

``restore`` and ``eval`` both go through :class:`Restorer`, so a benchmark number and a restored
photo come from the same code path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ..device import autocast_for, resolve_precision, set_current_device, with_index
from ..errors import ConfigError
from ..memory import available_memory_bytes
from ..models import VmambaIR
from ..scan import resolve_backend
from .tiling import (
    DeviceMemoryError,
    NetworkOutOfMemory,
    first_line,
    is_out_of_memory,
    outside_network,
    release_memory,
    run_padded,
    run_tiled,
    run_with_oom_backoff,
)

DEFAULT_FALLBACK_TILE = 512

# Peak inference memory per input pixel (fp32, batch 1) with ~25% headroom: measured on this CPU at
# 256x256 as ~19 KB/px for realsr (peak RSS minus the loaded model) and ~18 KB/px for derain. Used
# only to choose tiles up front on the CPU, where running out of memory gets the process killed
# instead of raising an error.
BYTES_PER_PIXEL = {"sr": 24 * 1024, "restore": 23 * 1024}
MEMORY_FRACTION = 0.5


def cpu_tile_for(x: Tensor, head: str, multiple: int = 8) -> int | None:
    """A tile that keeps a CPU run within half the available memory, or None if the whole image fits.

    GPUs raise a catchable out-of-memory error (handled by halving tiles); a CPU process is usually
    killed by the kernel first, so the tile is chosen before running.
    """
    avail = available_memory_bytes()
    if avail is None:
        return None
    per_px = BYTES_PER_PIXEL.get(head, BYTES_PER_PIXEL["sr"]) * x.shape[0]
    h, w = (-(-s // multiple) * multiple for s in x.shape[-2:])
    budget = MEMORY_FRACTION * avail
    if h * w * per_px <= budget:
        return None
    side = int((budget / per_px) ** 0.5) // multiple * multiple
    return max(side, 4 * multiple)


def _dihedral(x: Tensor, k: int) -> Tensor:
    """The k-th of the 8 flips/rotations (k in 0..7)."""
    if k >= 4:
        x = x.flip(-1)
    return torch.rot90(x, k % 4, dims=(-2, -1))


def _dihedral_inverse(y: Tensor, k: int) -> Tensor:
    y = torch.rot90(y, -(k % 4), dims=(-2, -1))
    return y.flip(-1) if k >= 4 else y


@dataclass(frozen=True)
class TileOptions:
    """How an image may be cut: checked once, here, for the CLI and the library alike.

    ``tile``: tile side in input pixels; None or 0 (what other upscalers' ``--tile 0`` means) =
    automatic: the whole image, or tiles chosen up front on a CPU / after an out-of-memory on a GPU;
    ``overlap``: overlap in input pixels; ``tiles_per_batch``: tiles per network call.
    """

    tile: int | None = None
    overlap: int = 32
    tiles_per_batch: int = 1

    def __post_init__(self) -> None:
        if self.tile is not None and self.tile != 0 and self.tile < 8:
            raise ConfigError(f"--tile must be 0 (automatic) or at least 8 (the network works on multiples of 8), "
                              f"got {self.tile}")
        if self.overlap < 0:
            raise ConfigError(f"--tile-overlap must be >= 0, got {self.overlap}")
        if self.tile and self.tile <= self.overlap:
            raise ConfigError(f"--tile ({self.tile}) must be larger than --tile-overlap ({self.overlap})")
        if self.tiles_per_batch < 1:
            raise ConfigError(f"--batch-tiles must be >= 1, got {self.tiles_per_batch}")


@dataclass
class TileReport:
    tile: int | None  # None: whole image in one pass
    backoffs: int = 0


class Restorer:
    """Run a VmambaIR network (or a peer x4 network) on (B, 3, H, W) images in [0, 1], the way a user expects.

    Args:
        net: the network (moved to ``device`` here); any module with a ``scale`` attribute.
        device: torch device.
        precision: ``auto``/``fp32``/``bf16``/``fp16``.
        tile: tile size in input pixels; None or 0 = automatic (see :class:`TileOptions`).
        overlap: tile overlap in input pixels.
        tiles_per_batch: tiles per forward call.
        min_tile: smallest tile the OOM back-off may reach.
        tta: x8 self-ensemble (flips/rotations), 8x the time.
    """

    def __init__(
        self,
        net: VmambaIR | nn.Module,
        device: torch.device,
        *,
        precision: str = "auto",
        tile: int | None = None,
        overlap: int = 32,
        tiles_per_batch: int = 1,
        min_tile: int = 64,
        tta: bool = False,
    ) -> None:
        TileOptions(tile, overlap, tiles_per_batch)
        device = with_index(device)  # a library caller's torch.device("cuda") names the current GPU
        set_current_device(device)
        self.dtype = resolve_precision(precision, device)
        if device.type == "cuda":  # auto's kernel self-test now, while the GPU is empty, not inside the first
            # whole-image scan; on the CPU the choice waits for work that repays it (scan.backend_for_call)
            resolve_backend(getattr(net, "scan_backend", "auto"), device, self.dtype)
        self.net = net.to(device).eval()
        self.device = device
        self.tile, self.overlap, self.tiles_per_batch = tile or None, overlap, tiles_per_batch
        self.min_tile, self.tta = min_tile, tta
        self.scale = net.scale
        self.last = TileReport(tile)

    def _forward(self, x: Tensor) -> Tensor:
        with autocast_for(self.device, self.dtype):
            return self.net(x).float()

    def _run_once(self, x: Tensor, tile: int | None, on_tile: Callable[[int, int], None] | None) -> Tensor:
        """One pass on host-side ``x``: the whole image (output left on the device) or tiles (output on the host)."""
        if tile is None:
            y = run_padded(self._forward, x, self.scale, device=self.device)
            if on_tile:
                on_tile(1, 1)
            return y
        return run_tiled(
            self._forward, x, scale=self.scale, tile=tile, overlap=min(self.overlap, tile - 8),
            tiles_per_batch=self.tiles_per_batch, on_tile=on_tile, device=self.device,
        )

    def _run(self, x: Tensor, tile: int | None, on_tile: Callable[[int, int], None] | None) -> tuple[Tensor, TileReport]:
        """One pass, starting from ``tile`` (None: whole image first); the output is on ``x``'s device."""
        report = TileReport(tile)

        def count(_old: int, new: int) -> None:
            report.backoffs += 1
            report.tile = new

        if tile is None and self.device.type == "cpu":
            tile = cpu_tile_for(x, self.net.config.head if hasattr(self.net, "config") else "sr")
            report.tile = tile
        if tile is None:
            try:
                return self._run_once(x, None, on_tile).to(x.device), report
            except NetworkOutOfMemory:
                pass
            release_memory(self.device)  # outside the except block: the failed call's tensors are gone
            tile = min(DEFAULT_FALLBACK_TILE, max(x.shape[-2:]) // 2 // 8 * 8 or 8)
            report.backoffs, report.tile = 1, tile
        y, report.tile = run_with_oom_backoff(
            lambda t, s: self._run_once(t, s, on_tile), x, tile, min_tile=min(self.min_tile, tile),
            on_backoff=count, device=self.device,
        )
        return y, report

    @torch.inference_mode()
    def __call__(self, x: Tensor, on_tile: Callable[[int, int], None] | None = None) -> Tensor:
        """(B, 3, H, W) float in [0, 1] -> (B, 3, sH, sW) float32 in [0, 1] on the CPU (clamped).

        The image and the output stay in host memory; the network's device sees one pass of the
        whole image or one batch of tiles at a time. With TTA the tile found by the first pass
        (after any out-of-memory back-off) is where the other seven start.
        """
        message = None
        try:
            return self._restore(x, on_tile)
        except Exception as error:  # noqa: BLE001 - only an out-of-memory is reworded; the rest re-raised
            if isinstance(error, DeviceMemoryError) or not is_out_of_memory(error):
                raise
            message = first_line(error)
        release_memory(self.device)  # outside the except block: the failed run's tensors are gone
        raise outside_network(message, self.tile)

    def _restore(self, x: Tensor, on_tile: Callable[[int, int], None] | None) -> Tensor:
        x = x.to("cpu", torch.float32)
        if not self.tta:
            y, self.last = self._run(x, self.tile, on_tile)
            return y.clamp_(0, 1)
        acc: Tensor | None = None
        report = TileReport(self.tile)
        for k in range(8):
            y, step = self._run(_dihedral(x, k), report.tile, on_tile)
            report = TileReport(step.tile, report.backoffs + step.backoffs)
            y = _dihedral_inverse(y, k)
            acc = y if acc is None else acc.add_(y)
        assert acc is not None
        self.last = report
        return (acc / 8).clamp_(0, 1)
