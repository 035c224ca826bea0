"""Peer networks for `vmambair bench --against`: Real-ESRGAN's two x4 generators
(:mod:`vmambair_core.models.realesrgan`) with random weights, timed on the same input in the same run as
VmambaIR, so a user sees on their own hardware how VmambaIR's time compares.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from ..errors import ConfigError
from ..models.realesrgan import RRDBNet, SRVGGNetCompact


PEERS: dict[str, tuple[str, Callable[[], nn.Module]]] = {
    "rrdbnet": ("Real-ESRGAN RRDBNet x4plus (23 RRDB, 64 feat, 32 grow)", RRDBNet),
    "compact": ("Real-ESRGAN SRVGGNetCompact realesr-general-x4v3 (32 convs, 64 feat)", SRVGGNetCompact),
}


@dataclass(frozen=True)
class PeerTiming:
    """A peer's median latency on the same input, mode and precision, and VmambaIR's time over it."""

    peer: str
    latency_ms: float
    ratio: float  # VmambaIR latency / peer latency: below 1 means VmambaIR is faster


def build_peer(name: str) -> nn.Module:
    """A peer network with random weights (seeded by the caller), in eval mode."""
    if name not in PEERS:
        raise ConfigError(f"unknown peer network {name!r}; choose from {', '.join(PEERS)}")
    return PEERS[name][1]().eval()


def parse_peers(text: str | None) -> list[str]:
    """'rrdbnet,compact' -> validated names (empty for None or '')."""
    names = [t.strip() for t in (text or "").split(",") if t.strip()]
    for name in names:
        if name not in PEERS:
            raise ConfigError(f"unknown peer network {name!r} for --against; choose from {', '.join(PEERS)}")
    return names


__all__ = ["PEERS", "PeerTiming", "build_peer", "parse_peers"]
