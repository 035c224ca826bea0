"""Trust a compiled scan kernel only after it has run once on the device: the self-test behind ``auto``.

Importable is not runnable: a Triton kernel can still fail to compile (``CompilationError``), not fit
(``OutOfResources``), fail to build its launcher (no C compiler or ``Python.h``), hit a libcuda problem,
or compute a wrong result on one Triton version (e.g. a reverse ``associative_scan``); numba can fail to
compile on a CPU it was not tested on. So the first time ``auto`` is resolved for a device, every
``auto`` backend of the table (``backends.TABLE``, in its order) that can run there runs its self-test:
a tiny forward and backward of each kernel it has (generic and fused omni for ``triton``; generic for
``mamba_ssm``) against the float64 sequential scan, a forward for ``numba``. The first backend that
passes is used; every rejected one is reported in one warning line, and ``reference`` is the last
resort. The choice is cached per device, once (``auto_choice``; ``probe_results`` and ``vmambair info``
show it). A backend asked for by name is never probed: it fails loudly instead.

Triton compiles a kernel anew for every tile configuration and input dtype, and the network launches
several (128-step chunks on big maps, 16-64 on small ones, the channel scans' own tiles, bf16/fp16
under autocast). So once ``auto`` has chosen ``triton``, each :class:`KernelVariant` (kind, tiles,
dtype, state size) is self-tested again, forward (with and without stored states) and backward, at
its first launch on a device (``variant_passes``); a variant that fails warns once, in one line, and
its calls take the reference path while the other variants keep the kernels. An out-of-memory inside
a self-test is re-raised (it says nothing about the kernel, and a later, smaller attempt tests again);
an error that leaves the CUDA context unusable (illegal address, launch failure) ends the run with
:class:`~vmambair_core.errors.DeviceFailureError` instead of being taken for a rejected backend.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..device import is_fatal_device_error, is_out_of_memory
from ..errors import DeviceFailureError
from .backends import FALLBACK, all_backends, auto_candidates, get_backend

if TYPE_CHECKING:  # triton is imported only when the self-test runs
    from .triton_scan import ScanLaunchConfig

log = logging.getLogger("vmambair")

PROBE_TOLERANCE = 1e-3
"""Max error relative to the output/gradient's largest magnitude; the kernels agree to ~1e-6 in fp32."""
HALF_TOLERANCE = 2e-2
"""The same for bf16/fp16 inputs, whose outputs and gradients are rounded to 8-11 bits (~4e-3 relative)."""

PROBE_D_STATE = 16  # the network's state size: the self-test compiles the kernels the network will run


@dataclass(frozen=True)
class ProbeResult:
    """What ``auto`` uses on one device, and why each faster backend was rejected (backend -> reason)."""

    device: str
    backend: str
    rejected: tuple[tuple[str, str], ...] = ()

    def summary(self) -> str:
        why = "; ".join(f"{name} failed its self-test ({reason})" for name, reason in self.rejected)
        if why:
            return f"{self.backend} ({why})"
        return f"{self.backend} (self-test passed)" if self.backend != FALLBACK else self.backend


@dataclass(frozen=True)
class KernelVariant:
    """One compiled form of a Triton scan kernel pair (forward and backward): Triton compiles each anew.

    ``kind``: ``scan`` (generic) or ``omni`` (fused planar); ``dtype``: the activations' dtype (u,
    delta, B, C of a scan; the map and its projection of an omni scan), parameters stay fp32.
    """

    kind: str
    config: ScanLaunchConfig
    dtype: torch.dtype
    d_state: int

    def describe(self) -> str:
        c = self.config
        dtype = str(self.dtype).removeprefix("torch.")
        return (f"{self.kind} kernel with block_d={c.block_d}, block_l={c.block_l}, num_warps={c.num_warps}, "
                f"{dtype}, d_state={self.d_state}")


AUTO_DEFER_MACS = 250_000_000
"""Scan work (multiply-adds, 9*B*L*D*N per scan) that ``auto`` runs on the fallback on a device before it
makes its choice there, unless asked first (``resolve_backend``). About the cost of numba's first use
(importing it and loading its compiled kernels, ~0.7 s on a quiet 2-core machine) in reference time: a
32-px restore (63 M with one block per level, 126 M with the two-block realsr models) never loads numba, a 64-px
one (252 M / 504 M) and anything larger does."""

_RESULTS: dict[str, ProbeResult] = {}
_DEFERRED: dict[str, int] = {}
_VARIANTS: dict[tuple[str, KernelVariant], str | None] = {}


def _rel_err(a: Tensor | None, ref: Tensor | None) -> float:
    if a is None or ref is None:
        return 0.0 if a is None and ref is None else float("inf")
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    if not torch.isfinite(a).all():
        return float("inf")
    return float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def _compare(kind: str, names: tuple[str, ...], fast: tuple[Tensor | None, ...],
             ref: tuple[Tensor | None, ...], tolerance: float = PROBE_TOLERANCE) -> str | None:
    """None if every output/gradient matches, else 'wrong result: <kind> d<x> rel. error <e>'."""
    for name, a, r in zip(names, fast, ref, strict=True):
        err = _rel_err(a, r)
        if not err <= tolerance:
            return f"wrong result: {kind} {name} rel. error {err:.1e} > {tolerance:.0e}"
    return None


def _tolerance(dtype: torch.dtype) -> float:
    return PROBE_TOLERANCE if dtype == torch.float32 else HALF_TOLERANCE


def _scan_problem(length: int, d_state: int) -> list[Tensor]:
    """A grouped selective scan (b=1, d=4, g=2) in float64 on the CPU, longer than one chunk."""
    gen = torch.Generator().manual_seed(0)
    b, d, n, g = 1, 4, d_state, 2
    f64 = dict(dtype=torch.float64)
    return [torch.randn(b, d, length, generator=gen, **f64),
            torch.randn(b, d, length, generator=gen, **f64) * 0.5 - 1.0,
            -torch.exp(torch.randn(d, n, generator=gen, **f64) * 0.5),
            torch.randn(b, g, n, length, generator=gen, **f64),
            torch.randn(b, g, n, length, generator=gen, **f64),
            torch.randn(d, generator=gen, **f64),
            torch.randn(d, generator=gen, **f64) * 0.5]


def _check_scan(fn: Callable[..., Tensor], device: torch.device, length: int, dtype: torch.dtype = torch.float32,
                d_state: int | None = None) -> str | None:
    """Forward (inference and training launches) + every gradient of ``fn`` (a selective scan) with u, delta,
    B, C in ``dtype`` vs the float64 sequential loop on the same (rounded) values."""
    from .reference import selective_scan_sequential  # noqa: PLC0415

    base = _scan_problem(length, PROBE_D_STATE if d_state is None else d_state)
    low = [t.to(dtype if i in (0, 1, 3, 4) else torch.float32) for i, t in enumerate(base)]
    dy = torch.randn(base[0].shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(dtype)
    ref_in = [t.double().requires_grad_() for t in low]
    y_ref = selective_scan_sequential(*ref_in, True)
    g_ref = torch.autograd.grad(y_ref, ref_in, dy.double())
    fast_in = [t.to(device).requires_grad_() for t in low]
    with torch.no_grad():  # the launch inference makes: no chunk states stored, a kernel of its own
        y_infer = fn(*[t.detach() for t in fast_in], True)
    y = fn(*fast_in, True)
    grads = torch.autograd.grad(y, fast_in, dy.to(device))
    names = ("y (no grad)", "y", "du", "ddelta", "dA", "dB", "dC", "dD", "ddelta_bias")
    return _compare("scan", names, (y_infer, y, *grads), (y_ref, y_ref, *g_ref), _tolerance(dtype))


def _check_omni(fn: Callable[..., Tensor], device: torch.device, side: tuple[int, int],
                dtype: torch.dtype = torch.float32, d_state: int | None = None) -> str | None:
    """Forward (inference and training launches) + every gradient of a fused planar scan, its map and
    projection in ``dtype``, vs ``planar_scan_unfused`` on the float64 loop with the same (rounded) values."""
    from .cross_scan import planar_scan_unfused  # noqa: PLC0415

    gen = torch.Generator().manual_seed(2)
    b, c, n, r = 1, 2, PROBE_D_STATE if d_state is None else d_state, 1
    h, w = side
    f64 = dict(dtype=torch.float64)
    base = [torch.randn(b, c, h, w, generator=gen, **f64),
            torch.randn(4, r + 2 * n, c, generator=gen, **f64) * c**-0.5,
            torch.randn(4, c, r, generator=gen, **f64),
            torch.randn(4, c, generator=gen, **f64) * 0.5 - 2.0,
            torch.log(torch.arange(1, n + 1, **f64)).repeat(4 * c, 1),
            torch.randn(4 * c, generator=gen, **f64)]
    low = [t.to(dtype if i < 2 else torch.float32) for i, t in enumerate(base)]
    ref_in = [t.double().requires_grad_() for t in low]
    y_ref = planar_scan_unfused(*ref_in, backend="sequential")
    dy = torch.randn(y_ref.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    g_ref = torch.autograd.grad(y_ref, ref_in, dy)
    fast_in = [t.to(device).requires_grad_() for t in low]
    with torch.no_grad():
        y_infer = fn(*[t.detach() for t in fast_in])
    y = fn(*fast_in)
    grads = torch.autograd.grad(y, fast_in, dy.float().to(device))
    names = ("y (no grad)", "y", "dx", "dx_proj_weight", "ddt_projs_weight", "ddt_projs_bias", "dA_logs", "dDs")
    return _compare("omni", names, (y_infer, y, *grads), (y_ref, y_ref, *g_ref), _tolerance(dtype))


def probe_config() -> ScanLaunchConfig:
    """The tiles of the network's big planar layers (or $VMAMBAIR_TRITON_TILES): the ones worth testing."""
    from .triton_scan import default_config  # noqa: PLC0415

    return default_config(4 * 96, 4096)


def _run_variant(device: torch.device, variant: KernelVariant) -> str | None:
    """The self-test of one kernel variant: a problem of two chunks and a tail, at the variant's tiles."""
    from .triton_omni import planar_scan_triton  # noqa: PLC0415
    from .triton_scan import selective_scan_triton  # noqa: PLC0415

    cfg = variant.config
    if variant.kind == "scan":
        return _check_scan(lambda *a: selective_scan_triton(*a, config=cfg), device, 2 * cfg.block_l + 5,
                           variant.dtype, variant.d_state)
    side = (cfg.block_l // 8 + 1, 9)  # > one chunk as well, odd width
    return _check_omni(lambda *a: planar_scan_triton(*a, config=cfg), device, side, variant.dtype, variant.d_state)


def check_variant(device: torch.device, variant: KernelVariant) -> str | None:
    """Self-test ``variant`` on ``device`` once per process: None if it passed, else a one-line reason."""
    key = (str(device), variant)
    if key not in _VARIANTS:
        _VARIANTS[key] = _guarded(device, lambda: _run_variant(device, variant))
    return _VARIANTS[key]


def variant_passes(device: torch.device, variant: KernelVariant) -> bool:
    """Whether ``auto`` may launch ``variant`` on ``device`` (self-tested at its first launch; the first
    failure warns in one line, and the caller runs the reference path for it from then on)."""
    key = (str(device), variant)
    known = key in _VARIANTS
    reason = check_variant(device, variant)
    if reason is not None and not known:
        log.warning("vmambair: scan self-test failed on %s for the %s (%s); those scans use the reference "
                    "path instead", device, variant.describe(), reason)
    return reason is None


def triton_variant_passes(kind: str, activations: Tensor, A: Tensor) -> bool:
    """Whether ``auto`` may launch the Triton ``kind`` kernel (``scan`` or ``omni``) as these inputs would
    compile it: each (tiles, dtype, state size) is self-tested at its first launch on a device."""
    if kind == "scan":
        from .triton_scan import launch_config  # noqa: PLC0415
    else:
        from .triton_omni import launch_config  # noqa: PLC0415
    variant = KernelVariant(kind, launch_config(activations, A), activations.dtype, A.shape[1])
    return variant_passes(activations.device, variant)


def self_test_triton(device: torch.device) -> str | None:
    """The generic and the fused omni kernel at the network's tiles, float32 (``ScanKernels.self_test``)."""
    cfg, n = probe_config(), PROBE_D_STATE
    return (check_variant(device, KernelVariant("scan", cfg, torch.float32, n))
            or check_variant(device, KernelVariant("omni", cfg, torch.float32, n)))


def scan_self_test(fn: Callable[..., Tensor]) -> Callable[[torch.device], str | None]:
    """The self-test of a plain selective scan ``fn``: forward and every gradient over 300 steps."""
    return lambda device: _check_scan(fn, device, 300)


def _run_self_test(name: str, device: torch.device) -> str | None:
    test = get_backend(name).load().self_test  # an import failure is this backend's failure, too
    return None if test is None else test(device)


def probe_backend(name: str, device: torch.device) -> str | None:
    """Run backend ``name``'s self-test on ``device``: None if it passed, else a one-line reason."""
    return _guarded(device, lambda: _run_self_test(name, device))


def _guarded(device: torch.device, test: Callable[[], str | None]) -> str | None:
    """Run a self-test with gradients on and autocast off, wherever it is called from (inference mode,
    an autocast region); a failure becomes its one-line reason, except the two that are not the kernel's:
    out-of-memory is re-raised, and an error that poisons the CUDA context ends the run."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode(False))
        stack.enter_context(torch.enable_grad())
        stack.enter_context(torch.autocast(device.type, enabled=False))
        try:
            return test()
        except Exception as exc:  # noqa: BLE001 - every other failure kind is a reason to fall back
            if is_out_of_memory(exc):
                raise
            if is_fatal_device_error(exc):
                raise DeviceFailureError(
                    f"{device} failed while self-testing the scan kernels ({one_line(exc)}); the GPU cannot be "
                    "used by this process any more: run again, or with --backend reference"
                ) from None
            return one_line(exc)


def one_line(exc: BaseException) -> str:
    """``Type: first line`` of an exception (plus its last line when the first only says where, as Triton's
    CompilationError does: 'at 12:4:' ... source ... 'the actual error')."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    text = lines[0] if lines else ""
    if len(lines) > 1 and text.endswith(":"):
        text = f"{text} ... {lines[-1]}"
    return f"{type(exc).__name__}: {text}"[:240]


def choose_backend(device: torch.device, status: Mapping[str, str | None]) -> ProbeResult:
    """First ``auto`` backend of the table that ``status`` reports usable (``None``; names it leaves out are
    not tried) and that passes its self-test on ``device``, else the fallback (``reference``).

    Warns once, in one line, when a backend that should have worked was rejected.
    """
    rejected: list[tuple[str, str]] = []
    chosen = FALLBACK
    for name in (b.name for b in all_backends() if b.auto):
        if status.get(name, "not reported") is not None:
            continue
        reason = probe_backend(name, device)
        if reason is None:
            chosen = name
            break
        rejected.append((name, reason))
    result = ProbeResult(str(device), chosen, tuple(rejected))
    if rejected:
        failed = "; ".join(f"{name}: {reason}" for name, reason in rejected)
        log.warning("vmambair: scan self-test failed on %s (%s); using scan backend '%s' instead", device, failed,
                    chosen)
    _RESULTS[str(device)] = result
    return result


def auto_choice(device: torch.device) -> ProbeResult:
    """``auto``'s backend on ``device`` (one with an index for CUDA): chosen by ``choose_backend`` at the
    first call, then one dict lookup. The one cache of that choice in the process."""
    key = str(device)
    result = _RESULTS.get(key)
    if result is None:
        from .availability import usable_before_self_test  # noqa: PLC0415

        result = _RESULTS[key] = choose_backend(device, usable_before_self_test(device.type))
    return result


def defer_auto(device: torch.device, macs: int) -> bool:
    """Whether an ``auto`` scan of ``macs`` multiply-adds on ``device`` should run on the fallback because
    ``auto``'s choice there is not made yet and the work so far does not repay making it (``AUTO_DEFER_MACS``)."""
    key = str(device)
    if key in _RESULTS:
        return False
    spent = _DEFERRED.get(key, 0) + macs
    if spent > AUTO_DEFER_MACS:
        return False
    _DEFERRED[key] = spent
    return True


def pin_auto(device: torch.device, backend: str) -> None:
    """Make ``auto`` take ``backend`` on ``device`` without a self-test (CPU smoke runs of GPU paths, tests);
    ``clear_probe_results`` undoes it."""
    _RESULTS[str(device)] = ProbeResult(str(device), get_backend(backend).name)


def auto_dtype_ok(device_type: str, dtype: torch.dtype) -> bool:
    """Whether any ``auto`` backend for ``device_type`` takes ``dtype`` (float64: none; no self-test needed)."""
    return any(dtype in b.dtypes for b in auto_candidates(device_type))


def probe_results() -> dict[str, ProbeResult]:
    """Every device ``auto`` was resolved for in this process so far (device -> result)."""
    return dict(_RESULTS)


def variant_results() -> dict[tuple[str, KernelVariant], str | None]:
    """Every kernel variant self-tested so far: (device, variant) -> None (passed) or the reason it failed."""
    return dict(_VARIANTS)


def clear_probe_results() -> None:
    _RESULTS.clear()
    _DEFERRED.clear()
    _VARIANTS.clear()


__all__ = [
    "AUTO_DEFER_MACS", "HALF_TOLERANCE", "PROBE_TOLERANCE", "KernelVariant", "ProbeResult", "auto_choice",
    "auto_dtype_ok", "check_variant", "defer_auto", "choose_backend", "clear_probe_results", "pin_auto",
    "probe_backend", "probe_results", "scan_self_test", "self_test_triton", "triton_variant_passes",
    "variant_passes", "variant_results",
]
