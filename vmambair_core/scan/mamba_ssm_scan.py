"""Adapter for the Mamba authors' CUDA selective scan (``selective_scan_cuda`` from mamba-ssm).

Imports only the compiled extension: ``import mamba_ssm`` would pull in Mamba2/Mamba3, transformers
and Triton kernels we never call. The extension's contract (mamba-ssm 1.x-2.x)::

    out, x, *rest = fwd(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    du, ddelta, dA, dB, dC, dD, ddelta_bias, *rest = bwd(u, delta, A, B, C, D, z, delta_bias, dout, x,
                                                          out, dz, delta_softplus, recompute_out_z)

with u/delta/B/C of one dtype and unit last stride, A/D/delta_bias fp32, B/C 4-D (b, g, n, l). It is
a comparison backend (the benchmark's baseline) and never a dependency: 2.3.2 or newer, installed
with ``pip install --no-build-isolation 'mamba-ssm>=2.3.2'`` (``availability.MAMBA_SSM_INSTALL_HINT``; a
5-30 min CUDA build when no prebuilt kernel matches; see docs/performance.md).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..errors import BackendUnavailableError, InputError
from .availability import MAMBA_SSM_INSTALL_HINT, mamba_ssm_version_problem
from .guard import device_guard

try:  # the compiled extension only; see the module docstring
    import selective_scan_cuda  # type: ignore[import-not-found]

    _IMPORT_ERROR: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the machine
    selective_scan_cuda = None
    _IMPORT_ERROR = str(exc)

INSTALL_HINT = MAMBA_SSM_INSTALL_HINT


def _require_extension() -> None:
    if selective_scan_cuda is None:
        raise BackendUnavailableError(f"scan backend 'mamba_ssm' is unavailable ({_IMPORT_ERROR}); {INSTALL_HINT}")
    too_old = mamba_ssm_version_problem()
    if too_old is not None:
        raise BackendUnavailableError(f"scan backend 'mamba_ssm' is unavailable: {too_old}")


def _require_cuda(*tensors: Tensor) -> None:
    if any(t.device.type != "cuda" for t in tensors):
        raise BackendUnavailableError("scan backend 'mamba_ssm' runs CUDA tensors only; on CPU use backend='reference'")


def _unit_stride(t: Tensor) -> Tensor:
    return t if t.stride(-1) == 1 else t.contiguous()


class SelectiveScanMambaFn(torch.autograd.Function):
    """Autograd wrapper around the extension; grads come back in each input's own dtype."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, D, delta_bias, delta_softplus):  # type: ignore[override]
        dtype = u.dtype
        squeeze_b, squeeze_c = B.dim() == 3, C.dim() == 3
        u_ = _unit_stride(u)
        delta_ = _unit_stride(delta.to(dtype))
        B_ = _unit_stride((B.unsqueeze(1) if squeeze_b else B).to(dtype))
        C_ = _unit_stride((C.unsqueeze(1) if squeeze_c else C).to(dtype))
        A_ = A.float().contiguous()
        D_ = D.float().contiguous() if D is not None else None
        bias_ = delta_bias.float().contiguous() if delta_bias is not None else None
        with device_guard(u_):
            out, x, *_ = selective_scan_cuda.fwd(u_, delta_, A_, B_, C_, D_, None, bias_, bool(delta_softplus))
        ctx.save_for_backward(u_, delta_, A_, B_, C_, D_, bias_, x)
        ctx.meta = (bool(delta_softplus), squeeze_b, squeeze_c,
                    tuple(t.dtype if t is not None else None for t in (delta, A, B, C, D, delta_bias)))
        return out

    @staticmethod
    def backward(ctx, dout):  # type: ignore[override]
        u, delta, A, B, C, D, bias, x = ctx.saved_tensors
        softplus, squeeze_b, squeeze_c, dtypes = ctx.meta
        with device_guard(u):
            du, ddelta, dA, dB, dC, dD, dbias, *_ = selective_scan_cuda.bwd(
                u, delta, A, B, C, D, None, bias, _unit_stride(dout.to(u.dtype)), x, None, None, softplus, False
            )
        if squeeze_b:
            dB = dB.squeeze(1)
        if squeeze_c:
            dC = dC.squeeze(1)
        t_delta, t_a, t_b, t_c, t_d, t_bias = dtypes
        return (du, ddelta.to(t_delta), dA.to(t_a), dB.to(t_b), dC.to(t_c),
                dD.to(t_d) if D is not None else None, dbias.to(t_bias) if bias is not None else None, None)


def selective_scan_mamba_ssm(
    u: Tensor,
    delta: Tensor,
    A: Tensor,
    B: Tensor,
    C: Tensor,
    D: Tensor | None = None,
    delta_bias: Tensor | None = None,
    delta_softplus: bool = False,
) -> Tensor:
    """Selective scan on mamba-ssm's CUDA kernel; same signature and semantics as the references.

    u, delta: (b, d, l) fp32/bf16/fp16 (delta, B and C are cast to u's dtype, as the kernel requires);
    A: (d, n); B, C: (b, g, n, l) or (b, n, l); D, delta_bias: (d,) or None. Returns (b, d, l) in u's dtype.
    """
    _require_extension()
    _require_cuda(*[t for t in (u, delta, A, B, C, D, delta_bias) if t is not None])
    if u.dtype not in (torch.float32, torch.bfloat16, torch.float16):
        raise InputError(f"mamba-ssm's kernel takes float32/bfloat16/float16 u, got {u.dtype}")
    return SelectiveScanMambaFn.apply(u, delta, A, B, C, D, delta_bias, delta_softplus)


__all__ = ["INSTALL_HINT", "SelectiveScanMambaFn", "selective_scan_mamba_ssm"]
