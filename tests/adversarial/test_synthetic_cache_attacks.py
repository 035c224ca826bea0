"""The synthetic benchmark's cache check hashes the pixels scoring reads: re-saved files are regenerated."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.evaluate.test_synthetic import set5_twin  # noqa: F401 - fixture
from vmambair_core.evaluate import load_benchmark
from vmambair_core.evaluate import synthetic
from vmambair_core.evaluate.benchmarks import Benchmark
from vmambair_core.evaluate.runner import read_scored

from .attacks import resave_16bit, resave_mirrored_with_orientation


@pytest.mark.parametrize("tamper", [resave_mirrored_with_orientation, resave_16bit])
def test_a_cached_lq_that_decodes_otherwise_for_scoring_is_regenerated(
    set5_twin: Benchmark, data_dir: Path, tamper  # noqa: ANN001, F811
) -> None:
    first = load_benchmark(set5_twin, data_dir)
    lq = first.pairs[1].lq
    assert lq is not None
    original = read_scored(lq)
    tamper(lq)
    converted = cv2.cvtColor(cv2.imread(str(lq), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(converted, original)  # the attack: a converting decoder sees the cached pixels
    assert not np.array_equal(read_scored(lq), original)  # ... but scoring would not
    again = load_benchmark(set5_twin, data_dir)
    assert any("generated 5 LQ images" in note for note in again.notes)
    assert np.array_equal(read_scored(lq), original)
    assert again.lq_note == first.lq_note
    assert synthetic.cache_dir(set5_twin.name) == lq.parent
