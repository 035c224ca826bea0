"""The scan backends as one table: every fact about a backend is in its record here.

=============  ========  ===============  ====================  ===================  =========  ===========
name           devices   dtypes           plain scan            fused planar scan    auto       needs
=============  ========  ===============  ====================  ===================  =========  ===========
reference      any       fp64/32/bf16/16  chunked PyTorch       none (unfused)       fallback   -
sequential     any       fp64/32/bf16/16  the plain loop        none (unfused)       never      -
numba          cpu       fp32/bf16/fp16   numba_scan            numba_scan           self-test  numba
triton         cuda      fp32/bf16/fp16   triton_scan           triton_omni          self-test  triton
mamba_ssm      cuda      fp32/bf16/fp16   mamba_ssm_scan        none (unfused)       self-test  mamba-ssm
=============  ========  ===============  ====================  ===================  =========  ===========

``auto`` takes, per device, the first ``auto=True`` record (in table order) that can run there and
passes its self-test (``probe.choose_backend``), else ``reference``; inputs of a dtype the choice does
not take (float64) stay on ``reference``. Everything else reads this table: ``selective_scan`` and
``cross_scan.planar_scan`` (dispatch), ``availability.backend_status`` (``vmambair info``), the self-test,
and the CLI's ``--backend`` choices and help.

Adding a backend is one record plus one module. For a CUDA scan ``foo`` write ``scan/foo_scan.py``
with ``selective_scan_foo`` (the reference's signature and semantics; optionally ``planar_scan_foo``
with ``cross_scan.planar_scan_unfused``'s arguments), then append to ``TABLE``::

    def _foo() -> ScanKernels:
        from .foo_scan import planar_scan_foo, selective_scan_foo
        from .probe import scan_self_test

        return ScanKernels(selective_scan_foo, planar_scan_foo, self_test=scan_self_test(selective_scan_foo))

    ScanBackend("foo", _foo, devices=("cuda",), dtypes=FAST_DTYPES, auto=True, requires="foo",
                install_hint="install it with `pip install foo`")

Modules are imported by the loader (``load``) at first use only: a backend that is not installed
costs nothing until it is asked for. A backend registered for a while (``registered``: tests, the MAC
counter of ``bench``) works everywhere a table name does, but is not one of the user-facing ``BACKENDS``.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import BackendUnavailableError, ConfigError
from .availability import MAMBA_SSM_INSTALL_HINT, mamba_ssm_version_problem

ScanFn = Callable[..., Tensor]
"""(u, delta, A, B, C, D, delta_bias, delta_softplus) -> y, as ``reference.selective_scan_sequential``."""
PlanarFn = Callable[..., Tensor]
"""(x, x_proj_weight, dt_projs_weight, dt_projs_bias, A_logs, Ds) -> merged map, as
``cross_scan.planar_scan_unfused``."""
SelfTest = Callable[[torch.device], "str | None"]
"""Run the kernels once on a device: None if they passed, else a one-line reason (raising also fails)."""
VariantGate = Callable[[str, Tensor, Tensor], bool]
"""(kind ``scan``/``omni``, activations, A) -> whether ``auto`` may launch the kernel compiled for them."""

_DEVICE_WORDS = {"cpu": "the CPU", "cuda": "a CUDA GPU"}
ALL_DTYPES = (torch.float64, torch.float32, torch.bfloat16, torch.float16)
FAST_DTYPES = (torch.float32, torch.bfloat16, torch.float16)


@dataclass(frozen=True)
class ScanKernels:
    """What a backend's module provides, loaded at its first use."""

    scan: ScanFn
    planar: PlanarFn | None = None
    """The fused 4-direction planar scan; None: ``planar_scan_unfused`` over ``scan``."""
    self_test: SelfTest | None = None
    """Required when the record has ``auto=True``."""
    variant_gate: VariantGate | None = None
    """For kernels compiled per launch shape (Triton): each form is self-tested before ``auto`` uses it."""


@dataclass(frozen=True)
class ScanBackend:
    """One backend: where it runs, what it needs, and how to load its kernels."""

    name: str
    load: Callable[[], ScanKernels]
    """Imports the backend's module (ImportError: not installed) and returns its kernels."""
    devices: tuple[str, ...] | None = None
    """Device types it runs on; None: every device torch runs on."""
    dtypes: tuple[torch.dtype, ...] = ALL_DTYPES
    """Input dtypes ``auto`` may send to it."""
    auto: bool = False
    """``auto`` may choose it (after its self-test), in table order."""
    requires: str | None = None
    """Module that must be importable (looked up, not imported, for ``vmambair info``)."""
    package: str | None = None
    """What to install when ``requires`` is missing, as its users know it (default: ``requires``)."""
    install_hint: str = ""
    problem: Callable[[], str | None] | None = None
    """Any other reason it must not run (e.g. a too-old version), or None."""

    def unavailable(self, device_type: str) -> str | None:
        """Why it cannot run on ``device_type`` before any self-test (installed? right device?), or None."""
        if self.requires is not None and importlib.util.find_spec(self.requires) is None:
            return f"{self.package or self.requires} is not installed ({self.install_hint})"
        if self.problem is not None and (problem := self.problem()) is not None:
            return problem
        if self.devices is None:  # plain PyTorch: wherever the tensors are
            return None
        if device_type not in self.devices:
            return f"runs on {' or '.join(_DEVICE_WORDS.get(d, d) for d in self.devices)} only"
        if device_type == "cuda" and not torch.cuda.is_available():
            return "needs a CUDA GPU"
        return None

    def kernels(self) -> ScanKernels:
        """The loaded kernels, or ``BackendUnavailableError`` with the install hint when they cannot import."""
        try:
            return self.load()
        except ImportError as exc:
            hint = f"; {self.install_hint}" if self.install_hint else ""
            raise BackendUnavailableError(f"scan backend {self.name!r} is unavailable: {exc}{hint}") from None


# --------------------------------------------------------------------------------------------- loaders


def _reference() -> ScanKernels:
    from .reference import selective_scan_chunked  # noqa: PLC0415

    return ScanKernels(selective_scan_chunked)


def _sequential() -> ScanKernels:
    from .reference import selective_scan_sequential  # noqa: PLC0415

    return ScanKernels(selective_scan_sequential)


def _numba() -> ScanKernels:
    from .numba_scan import planar_scan_numba, probe, selective_scan_numba  # noqa: PLC0415 - imports numba

    return ScanKernels(selective_scan_numba, planar_scan_numba, self_test=lambda _device: probe())


def _triton() -> ScanKernels:
    from .probe import self_test_triton, triton_variant_passes  # noqa: PLC0415
    from .triton_omni import planar_scan_triton  # noqa: PLC0415 - imports triton
    from .triton_scan import selective_scan_triton  # noqa: PLC0415

    return ScanKernels(selective_scan_triton, planar_scan_triton, self_test=self_test_triton,
                       variant_gate=triton_variant_passes)


def _mamba_ssm() -> ScanKernels:
    from .mamba_ssm_scan import selective_scan_mamba_ssm  # noqa: PLC0415 - imports the CUDA extension
    from .probe import scan_self_test  # noqa: PLC0415

    return ScanKernels(selective_scan_mamba_ssm, self_test=scan_self_test(selective_scan_mamba_ssm))


# --------------------------------------------------------------------------------------------- the table

TABLE: tuple[ScanBackend, ...] = (
    ScanBackend("reference", _reference),
    ScanBackend("sequential", _sequential),
    ScanBackend("numba", _numba, devices=("cpu",), dtypes=FAST_DTYPES, auto=True, requires="numba",
                install_hint="install it with `pip install numba`"),
    ScanBackend("triton", _triton, devices=("cuda",), dtypes=FAST_DTYPES, auto=True, requires="triton",
                install_hint="install it with `pip install triton`"),
    ScanBackend("mamba_ssm", _mamba_ssm, devices=("cuda",), dtypes=FAST_DTYPES, auto=True,
                requires="selective_scan_cuda", package="mamba-ssm", install_hint=MAMBA_SSM_INSTALL_HINT,
                problem=mamba_ssm_version_problem),
)
FALLBACK = "reference"
"""What ``auto`` runs when no self-tested backend can (every device, every dtype)."""

BACKENDS: tuple[str, ...] = ("auto", *(b.name for b in TABLE))
"""The names a user may pass (``--backend``): ``auto`` and every record of the table."""

_REGISTERED: dict[str, ScanBackend] = {}


def all_backends() -> tuple[ScanBackend, ...]:
    """The table, then any backend ``registered`` for now."""
    return TABLE + tuple(_REGISTERED.values())


def get_backend(name: str) -> ScanBackend:
    """The record of a concrete backend; ``ConfigError`` naming the choices for an unknown name."""
    for backend in all_backends():
        if backend.name == name:
            return backend
    raise ConfigError(f"unknown scan backend {name!r}; choose one of {', '.join(BACKENDS)}")


def check_backend_name(name: str) -> None:
    """Refuse an unknown backend name (``auto`` included in the known ones) with the choices."""
    if name != "auto":
        get_backend(name)


def auto_candidates(device_type: str) -> tuple[ScanBackend, ...]:
    """The backends ``auto`` may self-test on ``device_type``, in order of preference."""
    return tuple(b for b in all_backends() if b.auto and (b.devices is None or device_type in b.devices))


def describe_auto() -> str:
    """How ``auto`` chooses, from the table, in one line (the CLI's ``--backend`` help)."""
    by_device: dict[str, list[str]] = {}
    for backend in (b for b in TABLE if b.auto):
        for device in backend.devices or ("any device",):
            by_device.setdefault(device, []).append(backend.name)
    order = "; ".join(f"{device}: {', then '.join(names)}" for device, names in by_device.items())
    return f"the first to pass its self-test ({order}), else {FALLBACK}"


@contextlib.contextmanager
def registered(backend: ScanBackend) -> Iterator[ScanBackend]:
    """Make ``backend`` usable by name inside the ``with`` block (a toy backend, a shape-only counter)."""
    if any(b.name == backend.name for b in all_backends()) or backend.name == "auto":
        raise ConfigError(f"scan backend {backend.name!r} already exists")
    _REGISTERED[backend.name] = backend
    try:
        yield backend
    finally:
        del _REGISTERED[backend.name]


__all__ = [
    "ALL_DTYPES", "BACKENDS", "FALLBACK", "FAST_DTYPES", "TABLE", "PlanarFn", "ScanBackend", "ScanFn",
    "ScanKernels", "SelfTest", "VariantGate", "all_backends", "auto_candidates", "check_backend_name",
    "describe_auto", "get_backend", "registered",
]
