"""The peer networks of `bench --against`: the published parameter counts and an x4 output."""

from __future__ import annotations

import pytest
import torch

from vmambair_core.errors import ConfigError
from vmambair_core.bench.peers import PEERS, build_peer, parse_peers


@pytest.mark.parametrize(("name", "params"), [("rrdbnet", 16_697_987), ("compact", 1_213_296)])
def test_published_parameter_counts(name: str, params: int) -> None:
    with torch.device("meta"):
        net = build_peer(name)
    assert sum(p.numel() for p in net.parameters()) == params


@pytest.mark.parametrize("name", list(PEERS))
def test_x4_output_of_an_odd_input(name: str) -> None:
    torch.manual_seed(0)
    net = build_peer(name)
    x = torch.rand(2, 3, 5, 7)
    with torch.no_grad():
        y = net(x)
    assert y.shape == (2, 3, 20, 28) and torch.isfinite(y).all()


def test_compact_adds_the_nearest_upsampled_input() -> None:
    """SRVGGNetCompact's output is body + nearest x4 of the input: zero body weights leave the input."""
    net = build_peer("compact")
    with torch.no_grad():
        for p in net.body.parameters():
            p.zero_()
        x = torch.rand(1, 3, 3, 4)
        y = net(x)
    assert torch.equal(y, x.repeat_interleave(4, 2).repeat_interleave(4, 3))


def test_unknown_peer_is_a_config_error() -> None:
    assert parse_peers("rrdbnet, compact") == ["rrdbnet", "compact"] and parse_peers(None) == []
    with pytest.raises(ConfigError, match="choose from rrdbnet, compact"):
        parse_peers("rrdbnet,swinir")
    with pytest.raises(ConfigError):
        build_peer("swinir")
