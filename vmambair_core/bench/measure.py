"""Measurement behind `vmambair bench`: latency, throughput, memory, parameters and MACs.

Pure functions returning frozen dataclasses; the CLI only renders them. Conventions:

* FLOPs are **multiply-adds** (1 MAC = 1 op, fvcore's convention, ``docs/architecture.md`` §6): convs, linears
  and einsums are counted by ``torch.utils.flop_counter.FlopCounterMode`` (which reports 2 per MAC, so
  / 2), and every selective scan is costed by hand as 9*B*L*D*N + B*D*L. Counting runs the network on
  the meta device: no memory, no compute.
* Latency is the median over ``repeats`` timed runs after ``warmup`` untimed ones: CUDA events on a
  GPU, ``time.perf_counter`` on CPU.
* Peak memory is the extra memory of one run: on CUDA ``max_memory_allocated`` minus what was
  allocated before; on CPU (Linux) the growth of the resident-set high-water mark (VmHWM, reset
  through /proc/self/clear_refs after glibc's malloc_trim returned cached free pages), which counts
  every allocator, not just torch's; pages an allocator keeps cached still hide some growth.
* "Unfused" times the same network and scan backend with the planar scan forced through
  ``planar_scan_unfused`` (four materialised copies + the selective scan + the merge, the authors'
  data flow), in the same run, so ``fused_gain`` is a measured ratio. Backends without a fused
  kernel (reference, mamba_ssm) run the same code both ways (gain ~1).
* ``against`` times peer networks (``peers``: Real-ESRGAN's RRDBNet and SRVGGNetCompact, random
  weights) on the same input, mode and precision in the same run; each result carries VmambaIR's
  time as a ratio to each peer's.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as _dt
import math
import platform
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from ..device import (
    autocast_for, precision_name, resolve_device, resolve_precision, set_current_device, with_index,
)
from ..data.io import DEFAULT_MAX_PIXELS
from ..errors import BackendUnavailableError, ConfigError, DeviceMemoryError
from ..inference.tiling import is_out_of_memory
from ..models import VmambaIR, VmambaIRConfig, get_preset
from ..scan import ScanBackend, ScanKernels, registered
from .peers import PeerTiming, build_peer, parse_peers

MODES: tuple[str, ...] = ("forward", "train")
FLOP_CONVENTION = (
    "multiply-adds (1 MAC = 1 op): convs/linears/einsums via torch FlopCounterMode / 2, "
    "every selective scan costed 9*B*L*D*N + B*D*L"
)
MEMORY_METHOD = {
    "cuda": "torch.cuda.max_memory_allocated minus the allocation before the run",
    "cpu": "growth of the process's resident-set high-water mark (VmHWM, reset via /proc/self/clear_refs "
    "after malloc_trim)",
}


# ---------------------------------------------------------------------------------------------
# FLOPs
# ---------------------------------------------------------------------------------------------


def scan_cost(batch: int, channels: int, length: int, d_state: int) -> int:
    """Multiply-adds charged for one selective scan call: 9*B*L*D*N + B*D*L (``docs/architecture.md`` §6)."""
    return 9 * batch * length * channels * d_state + batch * channels * length


@dataclass(frozen=True)
class MacCount:
    """Multiply-adds of one forward pass, split by where they are spent."""

    conv_linear_einsum: int
    planar_scans: int
    channel_scans: int
    planar_calls: int
    channel_calls: int

    @property
    def scans(self) -> int:
        return self.planar_scans + self.channel_scans

    @property
    def total(self) -> int:
        return self.conv_linear_einsum + self.scans


MAC_COUNTER = "mac_counter"
"""The shape-only scan backend ``count_macs`` registers while it runs (``scan.registered``)."""


@dataclass
class _ScanCostRecorder:
    """A shape-only scan backend: each scan's cost is recorded and an empty output of its shape returned.

    Its fused planar scan is the unfused data flow (whose projections ``FlopCounterMode`` counts as
    einsums) with its scans recorded as planar; every other scan of the network is a channel scan.
    """

    planar: list[int] = field(default_factory=list)
    channel: list[int] = field(default_factory=list)
    in_planar: bool = False

    def scan(self, u: Tensor, delta: Tensor, A: Tensor, *_rest: object) -> Tensor:  # noqa: ARG002
        b, d, length = u.shape
        (self.planar if self.in_planar else self.channel).append(scan_cost(b, d, length, A.shape[1]))
        return u.new_empty((b, d, length))

    def planar_scan(self, x: Tensor, *params: Tensor) -> Tensor:
        from ..scan.cross_scan import planar_scan_unfused  # noqa: PLC0415

        self.in_planar = True
        try:
            return planar_scan_unfused(x, *params, backend=MAC_COUNTER)
        finally:
            self.in_planar = False

    def backend(self) -> ScanBackend:
        return ScanBackend(MAC_COUNTER, lambda: ScanKernels(self.scan, self.planar_scan))


def count_macs(preset: str | VmambaIRConfig, height: int, width: int, batch: int = 1) -> MacCount:
    """Multiply-adds of one forward pass at an LQ size, counted on the meta device (no memory, instant)."""
    from torch.utils.flop_counter import FlopCounterMode  # noqa: PLC0415

    cfg = preset if isinstance(preset, VmambaIRConfig) else get_preset(preset)
    with torch.device("meta"):
        net = VmambaIR(cfg)
    net = net.to("meta")  # the few initial values made on the CPU (models/oss.py) join the rest
    img = torch.empty((batch, cfg.in_channels, height, width), device="meta")
    recorder = _ScanCostRecorder()
    counter = FlopCounterMode(display=False)
    with registered(recorder.backend()), torch.no_grad(), counter:
        net.set_scan_backend(MAC_COUNTER)
        net(img)
    planar, channel = recorder.planar, recorder.channel
    return MacCount(
        conv_linear_einsum=counter.get_total_flops() // 2,
        planar_scans=sum(planar), channel_scans=sum(channel), planar_calls=len(planar), channel_calls=len(channel),
    )


# ---------------------------------------------------------------------------------------------
# Timing and memory
# ---------------------------------------------------------------------------------------------


def time_runs(fn: Callable[[], object], device: torch.device, *, repeats: int, warmup: int) -> list[float]:
    """Milliseconds of each of ``repeats`` runs after ``warmup`` untimed ones (CUDA events on GPU)."""
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    for _ in range(warmup):
        fn()
    times: list[float] = []
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        stream = torch.cuda.current_stream(device)  # the benchmarked device's, whichever GPU is current
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record(stream)
            fn()
            end.record(stream)
            torch.cuda.synchronize(device)
            times.append(start.elapsed_time(end))
    else:
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _release_free_heap() -> None:
    """Hand glibc's cached free pages back to the OS, so a run that reuses them still shows as growth."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_rss_peak() -> bool:
    _release_free_heap()
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


def peak_memory_mib(fn: Callable[[], object], device: torch.device) -> float | None:
    """Extra memory one call of ``fn`` needs at its peak, in MiB (None where it cannot be measured)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    if not _reset_rss_peak():
        return None
    base = _status_kib("VmRSS")
    fn()
    peak = _status_kib("VmHWM")
    if base is None or peak is None:
        return None
    return max(peak - base, 0) / 1024


def fit_exponent(pixels: Sequence[float], times: Sequence[float]) -> float:
    """Least-squares slope of log(time) vs log(pixels): 1.0 is linear cost."""
    if len(pixels) != len(times) or len(pixels) < 2:
        raise ConfigError("fitting an exponent needs at least two (pixels, time) points")
    xs = [math.log(p) for p in pixels]
    ys = [math.log(t) for t in times]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    if var == 0:
        raise ConfigError("fitting an exponent needs at least two different sizes")
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var


# ---------------------------------------------------------------------------------------------
# Network benchmark
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchResult:
    """One (preset, size, backend, precision, mode) measurement. Times in ms, memory in MiB."""

    preset: str
    size: int
    batch: int
    backend: str
    resolved_backend: str
    precision: str
    mode: str
    latency_ms: float
    latency_min_ms: float
    unfused_latency_ms: float
    fused_gain: float
    output_mpix_per_s: float
    peak_memory_mib: float | None
    unfused_peak_memory_mib: float | None
    parameters: int
    gmacs_conv_linear_einsum: float
    gmacs_scans: float
    gmacs_total: float
    scan_calls: int
    repeats: int
    warmup: int
    peers: tuple[PeerTiming, ...] = ()


@dataclass(frozen=True)
class ScalingFit:
    """How latency grows with pixels for one (preset, backend, precision, mode) across sizes."""

    preset: str
    backend: str
    precision: str
    mode: str
    sizes: tuple[int, ...]
    exponent: float
    ms_per_output_mpix: tuple[float, ...]
    spread: float  # max/min of ms per output pixel, minus 1: 0.15 = "flat within 15%"


@dataclass(frozen=True)
class BenchReport:
    device: str
    torch_version: str
    date: str
    flop_convention: str
    memory_method: str
    results: tuple[BenchResult, ...]
    scaling: tuple[ScalingFit, ...]
    notes: tuple[str, ...] = field(default=())


def device_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"


@contextlib.contextmanager
def unfused_planar_scan(net: VmambaIR) -> Iterator[None]:
    """Run ``net``'s planar scans through ``planar_scan_unfused`` (the authors' data flow) for a while."""
    net.set_planar_fusion(False)
    try:
        yield
    finally:
        net.set_planar_fusion(True)


def _step_fn(
    net: torch.nn.Module, img: Tensor, device: torch.device, dtype: torch.dtype, mode: str
) -> Callable[[], object]:
    """A closure running one forward (inference mode) or one training step (fwd + bwd + Adam)."""
    if mode == "forward":
        net.eval()

        def forward() -> Tensor:
            with torch.inference_mode(), autocast_for(device, dtype):
                return net(img)

        return forward
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    gen = torch.Generator(device=device).manual_seed(1)
    with torch.no_grad():
        target = torch.rand((img.shape[0], img.shape[1], img.shape[2] * net.scale, img.shape[3] * net.scale),
                            generator=gen, device=device)

    def step() -> Tensor:
        opt.zero_grad(set_to_none=True)
        with autocast_for(device, dtype):
            loss = torch.nn.functional.l1_loss(net(img).float(), target)
        loss.backward()
        opt.step()
        return loss

    return step


def weights_network(spec: str) -> VmambaIRConfig:
    """The network ``restore --weights spec`` runs (a registry name, a local file or a Hub file), named after
    the weights, for ``bench --weights``: the weights' values do not change the time, their shapes do."""
    from ..weights import infer_task, load  # noqa: PLC0415 - only with --weights
    from ..weights.spec import classify_spec  # noqa: PLC0415

    task, _ = infer_task(spec)
    net = load(spec, task).net
    name = spec if isinstance(classify_spec(spec), str) else Path(spec).name
    return replace(net.config, name=name)


def validate_request(presets: Sequence[str | VmambaIRConfig], sizes: Sequence[int], backends: Sequence[str],
                     precisions: Sequence[str], device: torch.device) -> dict[str, str]:
    """Check every option before any timing; returns backend -> resolved backend."""
    from ..scan import BACKENDS, backend_status, resolve_backend  # noqa: PLC0415

    if not presets or not sizes or not backends or not precisions:
        raise ConfigError("bench needs at least one preset, size, backend and precision")
    for p in presets:
        if not isinstance(p, VmambaIRConfig):
            get_preset(p)
    for s in sizes:
        if s < 8 or s % 8:
            raise ConfigError(f"sizes are LQ side lengths, multiples of 8 (>= 8); got {s}")
        if s * s > DEFAULT_MAX_PIXELS:  # what restore accepts: beyond it only the allocator would answer
            raise ConfigError(f"size {s} is {s * s:,} input pixels, more than the {DEFAULT_MAX_PIXELS:,} an image "
                              "may have; give smaller sizes")
    for p in precisions:
        resolve_precision(p, device)
    status = backend_status(device.type)
    resolved = {}
    for b in backends:
        if b not in BACKENDS:
            raise ConfigError(f"unknown scan backend {b!r}; choose one of {', '.join(BACKENDS)}")
        name = resolve_backend(b, device)
        if status.get(name) is not None:
            raise BackendUnavailableError(f"scan backend {name!r} cannot run on {device.type}: {status[name]}")
        resolved[b] = name
    return resolved


def bench_input(size: int, batch: int, channels: int, device: torch.device) -> Tensor:
    """The LQ input every network of a run sees at one size (seeded: peers get the same pixels)."""
    gen = torch.Generator(device=device).manual_seed(0)
    return torch.rand((batch, channels, size, size), generator=gen, device=device)


def bench_case(net: VmambaIR, size: int, device: torch.device, dtype: torch.dtype, mode: str, *, batch: int,
               repeats: int, warmup: int) -> tuple[list[float], list[float], float | None, float | None]:
    """Time one network at one size both ways: (fused ms list, unfused ms list, fused MiB, unfused MiB)."""
    fn = _step_fn(net, bench_input(size, batch, net.config.in_channels, device), device, dtype, mode)
    fused = time_runs(fn, device, repeats=repeats, warmup=warmup)
    fused_mem = peak_memory_mib(fn, device)
    with unfused_planar_scan(net):
        unfused = time_runs(fn, device, repeats=repeats, warmup=warmup)
        unfused_mem = peak_memory_mib(fn, device)
    return fused, unfused, fused_mem, unfused_mem


def run_bench(
    presets: Sequence[str | VmambaIRConfig],
    sizes: Sequence[int],
    backends: Sequence[str] = ("auto",),
    precisions: Sequence[str] = ("fp32",),
    *,
    device: str | torch.device = "auto",
    repeats: int = 5,
    warmup: int = 2,
    train: bool = False,
    batch: int = 1,
    against: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> BenchReport:
    """Benchmark every (preset, size, backend, precision): forward (or a training step with ``train``).

    ``against`` names peer networks (``peers.PEERS``) timed on the same inputs in the same run.
    """
    dev = with_index(device) if isinstance(device, torch.device) else resolve_device(device)
    set_current_device(dev)
    if batch < 1:
        raise ConfigError(f"batch must be >= 1, got {batch}")
    resolved = validate_request(presets, sizes, backends, precisions, dev)
    against = parse_peers(",".join(against))
    mode = "train" if train else "forward"
    dtypes = {precision_name(d): d for d in (resolve_precision(p, dev) for p in precisions)}  # auto -> its name
    results: list[BenchResult] = []
    peer_ms: dict[tuple[str, int, str], float] = {}

    def peer_timings(latency_ms: float, size: int, precision: str) -> tuple[PeerTiming, ...]:
        for name in against:
            if (name, size, precision) not in peer_ms:
                if progress:
                    progress(f"peer {name} {size}x{size} {precision} {mode}")
                torch.manual_seed(0)
                peer = build_peer(name).to(dev)
                fn = _step_fn(peer, bench_input(size, batch, 3, dev), dev, dtypes[precision], mode)
                peer_ms[name, size, precision] = statistics.median(
                    time_runs(fn, dev, repeats=repeats, warmup=warmup))
        return tuple(PeerTiming(n, peer_ms[n, size, precision], latency_ms / peer_ms[n, size, precision])
                     for n in against)

    for preset in presets:
        cfg = preset if isinstance(preset, VmambaIRConfig) else get_preset(preset)
        macs = {s: count_macs(cfg, s, s, batch) for s in sizes}
        for backend in backends:
            torch.manual_seed(0)
            net = VmambaIR(cfg).set_scan_backend(backend).to(dev)
            params = sum(p.numel() for p in net.parameters())
            for precision, dtype in dtypes.items():
                for size in sizes:
                    if progress:
                        progress(f"{cfg.name} {size}x{size} {backend}->{resolved[backend]} {precision} {mode}")
                    try:
                        fused, unfused, mem, unfused_mem = bench_case(
                            net, size, dev, dtype, mode, batch=batch, repeats=repeats, warmup=warmup)
                    except Exception as error:
                        if not is_out_of_memory(error):
                            raise
                        raise DeviceMemoryError(f"{cfg.name} at {size}x{size} (batch {batch}, {precision}, {mode}) "
                                                f"does not fit in {dev} memory; give smaller sizes") from None
                    med, med_unfused = statistics.median(fused), statistics.median(unfused)
                    out_pixels = batch * (size * cfg.scale) ** 2
                    m = macs[size]
                    results.append(BenchResult(
                        preset=cfg.name, size=size, batch=batch, backend=backend, resolved_backend=resolved[backend],
                        precision=precision, mode=mode, latency_ms=med, latency_min_ms=min(fused),
                        unfused_latency_ms=med_unfused, fused_gain=med_unfused / med,
                        output_mpix_per_s=out_pixels / 1e6 / (med / 1e3),
                        peak_memory_mib=mem, unfused_peak_memory_mib=unfused_mem, parameters=params,
                        gmacs_conv_linear_einsum=m.conv_linear_einsum / 1e9, gmacs_scans=m.scans / 1e9,
                        gmacs_total=m.total / 1e9, scan_calls=m.planar_calls + m.channel_calls,
                        repeats=repeats, warmup=warmup, peers=peer_timings(med, size, precision),
                    ))
            del net
            if dev.type == "cuda":
                torch.cuda.empty_cache()
    return BenchReport(
        device=device_description(dev), torch_version=torch.__version__,
        date=_dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        flop_convention=FLOP_CONVENTION, memory_method=MEMORY_METHOD[dev.type],
        results=tuple(results), scaling=scaling_fits(results),
        notes=tuple(n for n in (_same_path_note(resolved),) if n),
    )


def _same_path_note(resolved: dict[str, str]) -> str | None:
    same = sorted({r for r in resolved.values() if r not in ("triton", "numba")})
    if not same:
        return None
    return (f"{', '.join(same)} has no fused planar kernel: fused and unfused run the same code, "
            "so its fused_gain only shows timing noise")


def scaling_fits(results: Sequence[BenchResult]) -> tuple[ScalingFit, ...]:
    """Fit time ~ pixels^exponent per (preset, backend, precision, mode) with >= 2 sizes."""
    groups: dict[tuple[str, str, str, str], list[BenchResult]] = {}
    for r in results:
        groups.setdefault((r.preset, r.backend, r.precision, r.mode), []).append(r)
    fits = []
    for (preset, backend, precision, mode), rows in groups.items():
        rows = sorted(rows, key=lambda r: r.size)
        if len({r.size for r in rows}) < 2:
            continue
        per_mpix = tuple(1e3 / r.output_mpix_per_s for r in rows)  # ms per output megapixel
        fits.append(ScalingFit(
            preset=preset, backend=backend, precision=precision, mode=mode, sizes=tuple(r.size for r in rows),
            exponent=fit_exponent([r.size**2 for r in rows], [r.latency_ms for r in rows]),
            ms_per_output_mpix=per_mpix, spread=max(per_mpix) / min(per_mpix) - 1,
        ))
    return tuple(fits)


__all__ = [
    "FLOP_CONVENTION", "MODES", "BenchReport", "BenchResult", "MacCount", "ScalingFit",
    "bench_case", "bench_input", "count_macs", "fit_exponent", "peak_memory_mib", "run_bench", "scan_cost",
    "scaling_fits", "time_runs", "unfused_planar_scan", "validate_request",
]
