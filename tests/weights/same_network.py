"""One check for "these two modules are the same network": the weights, then what they compute."""

from __future__ import annotations

import torch


def assert_same_network(expected: torch.nn.Module, loaded: torch.nn.Module, x: torch.Tensor) -> None:
    """Weights equal exactly (loading copies them); outputs within float32 noise.

    Two forward passes are two computations: some CPUs do not repeat them bitwise (kernels that
    split reductions by memory alignment), so the outputs get a tolerance a few float32 ulps wide
    (relative 1e-5 plus 1e-6 for values near 0), far below what a wrong or missing weight changes.
    """
    a, b = expected.state_dict(), loaded.state_dict()
    assert list(a) == list(b)
    for k in a:
        assert torch.equal(a[k], b[k]), k
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), expected(x), rtol=1e-5, atol=1e-6)
