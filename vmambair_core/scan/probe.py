"""Trust a GPU scan kernel only after it has run once on the device: the self-test behind ``auto`` on CUDA.

Importable is not runnable: a Triton kernel can still fail to compile (``CompilationError``), not fit
(``OutOfResources``), fail to build its launcher (no C compiler or ``Python.h``), hit a libcuda problem,
or compute a wrong result on one Triton version (e.g. a reverse ``associative_scan``). So the first time
``auto`` would pick a GPU backend for a device, it runs a tiny forward and backward of every kernel that
backend has (generic and fused omni for ``triton``; generic for ``mamba_ssm``) against the float64
sequential scan. The first backend that passes is used; every rejected one is reported in one warning
line, and ``reference`` is the last resort. Results are cached per device (``probe_results``) and shown
by ``vmambair info``. A backend asked for by name is never probed: it fails loudly instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:  # triton is imported only when the self-test runs
    from .triton_scan import ScanLaunchConfig

log = logging.getLogger("vmambair")

PROBE_TOLERANCE = 1e-3
"""Max error relative to the output/gradient's largest magnitude; the kernels agree to ~1e-6 in fp32."""

GPU_BACKENDS = ("triton", "mamba_ssm")  # auto's order of preference on CUDA
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
        return f"{self.backend} (self-test passed)" if self.backend != "reference" else self.backend


_RESULTS: dict[str, ProbeResult] = {}


def _rel_err(a: Tensor | None, ref: Tensor | None) -> float:
    if a is None or ref is None:
        return 0.0 if a is None and ref is None else float("inf")
    a, ref = a.detach().double().cpu(), ref.detach().double().cpu()
    if not torch.isfinite(a).all():
        return float("inf")
    return float((a - ref).abs().max() / ref.abs().max().clamp_min(1e-30))


def _compare(kind: str, names: tuple[str, ...], fast: tuple[Tensor | None, ...],
             ref: tuple[Tensor | None, ...]) -> str | None:
    """None if every output/gradient matches, else 'wrong result: <kind> d<x> rel. error <e>'."""
    for name, a, r in zip(names, fast, ref, strict=True):
        err = _rel_err(a, r)
        if not err <= PROBE_TOLERANCE:
            return f"wrong result: {kind} {name} rel. error {err:.1e} > {PROBE_TOLERANCE:.0e}"
    return None


def _scan_problem(length: int) -> list[Tensor]:
    """A grouped selective scan (b=1, d=4, g=2) in float64 on the CPU, longer than one chunk."""
    gen = torch.Generator().manual_seed(0)
    b, d, n, g = 1, 4, PROBE_D_STATE, 2
    f64 = dict(dtype=torch.float64)
    return [torch.randn(b, d, length, generator=gen, **f64),
            torch.randn(b, d, length, generator=gen, **f64) * 0.5 - 1.0,
            -torch.exp(torch.randn(d, n, generator=gen, **f64) * 0.5),
            torch.randn(b, g, n, length, generator=gen, **f64),
            torch.randn(b, g, n, length, generator=gen, **f64),
            torch.randn(d, generator=gen, **f64),
            torch.randn(d, generator=gen, **f64) * 0.5]


def _check_scan(fn: Callable[..., Tensor], device: torch.device, length: int) -> str | None:
    """Forward + every gradient of ``fn`` (a selective scan) vs the float64 sequential loop."""
    from .reference import selective_scan_sequential  # noqa: PLC0415

    base = _scan_problem(length)
    dy = torch.randn(base[0].shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ref_in = [t.clone().requires_grad_() for t in base]
    y_ref = selective_scan_sequential(*ref_in, True)
    g_ref = torch.autograd.grad(y_ref, ref_in, dy)
    fast_in = [t.float().to(device).requires_grad_() for t in base]
    y = fn(*fast_in, True)
    grads = torch.autograd.grad(y, fast_in, dy.float().to(device))
    names = ("y", "du", "ddelta", "dA", "dB", "dC", "dD", "ddelta_bias")
    return _compare("scan", names, (y, *grads), (y_ref, *g_ref))


def _check_omni(fn: Callable[..., Tensor], device: torch.device, side: tuple[int, int]) -> str | None:
    """Forward + every gradient of a fused planar scan vs ``planar_scan_unfused`` on the float64 loop."""
    from .cross_scan import planar_scan_unfused  # noqa: PLC0415

    gen = torch.Generator().manual_seed(2)
    b, c, n, r = 1, 2, PROBE_D_STATE, 1
    h, w = side
    f64 = dict(dtype=torch.float64)
    base = [torch.randn(b, c, h, w, generator=gen, **f64),
            torch.randn(4, r + 2 * n, c, generator=gen, **f64) * c**-0.5,
            torch.randn(4, c, r, generator=gen, **f64),
            torch.randn(4, c, generator=gen, **f64) * 0.5 - 2.0,
            torch.log(torch.arange(1, n + 1, **f64)).repeat(4 * c, 1),
            torch.randn(4 * c, generator=gen, **f64)]
    ref_in = [t.clone().requires_grad_() for t in base]
    y_ref = planar_scan_unfused(*ref_in, backend="sequential")
    dy = torch.randn(y_ref.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    g_ref = torch.autograd.grad(y_ref, ref_in, dy)
    fast_in = [t.float().to(device).requires_grad_() for t in base]
    y = fn(*fast_in)
    grads = torch.autograd.grad(y, fast_in, dy.float().to(device))
    names = ("y", "dx", "dx_proj_weight", "ddt_projs_weight", "ddt_projs_bias", "dA_logs", "dDs")
    return _compare("omni", names, (y, *grads), (y_ref, *g_ref))


def probe_config() -> ScanLaunchConfig:
    """The tiles of the network's big planar layers (or $VMAMBAIR_TRITON_TILES): the ones worth testing."""
    from .triton_scan import default_config  # noqa: PLC0415

    return default_config(4 * 96, 4096)


def _probe_triton(device: torch.device) -> str | None:
    from .triton_omni import planar_scan_triton  # noqa: PLC0415
    from .triton_scan import selective_scan_triton  # noqa: PLC0415

    cfg = probe_config()
    length = 2 * cfg.block_l + 5  # two chunks and a tail
    side = (cfg.block_l // 8 + 1, 9)  # > one chunk as well, odd width
    return (_check_scan(lambda *a: selective_scan_triton(*a, config=cfg), device, length)
            or _check_omni(lambda *a: planar_scan_triton(*a, config=cfg), device, side))


def _probe_mamba_ssm(device: torch.device) -> str | None:
    from .mamba_ssm_scan import selective_scan_mamba_ssm  # noqa: PLC0415

    return _check_scan(selective_scan_mamba_ssm, device, 300)


PROBES: dict[str, Callable[[torch.device], str | None]] = {"triton": _probe_triton, "mamba_ssm": _probe_mamba_ssm}


def probe_backend(name: str, device: torch.device) -> str | None:
    """Run backend ``name``'s self-test on ``device``: None if it passed, else a one-line reason."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(torch.inference_mode(False))
        stack.enter_context(torch.enable_grad())
        stack.enter_context(torch.autocast(device.type, enabled=False))
        try:
            return PROBES[name](device)
        except Exception as exc:  # noqa: BLE001 - every failure kind is a reason to fall back
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
    """First GPU backend that is available (``status[name] is None``) and passes its self-test, else reference.

    Warns once, in one line, when a backend that should have worked was rejected.
    """
    rejected: list[tuple[str, str]] = []
    chosen = "reference"
    for name in GPU_BACKENDS:
        if status.get(name) is not None:
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


def probe_results() -> dict[str, ProbeResult]:
    """Every device probed in this process so far (device -> result)."""
    return dict(_RESULTS)


def clear_probe_results() -> None:
    _RESULTS.clear()


__all__ = ["GPU_BACKENDS", "PROBES", "PROBE_TOLERANCE", "ProbeResult", "choose_backend", "clear_probe_results",
           "probe_backend", "probe_results"]
