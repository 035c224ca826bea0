"""The one loader of a benchmark: it reads the record and chooses how the set's pairs are made.

* files on disk (bicubic, given or no ground truth): :func:`vmambair_core.evaluate.benchmarks.load_files`;
* a synthetic set (the record carries a :class:`~vmambair_core.evaluate.benchmarks.SyntheticRecipe`): the
  source set's HR found by ``load_files``, then its LQ generated or taken from the cache by
  :func:`vmambair_core.evaluate.synthetic.load_synthetic`.

Imports go one way (``benchmarks`` <- ``synthetic`` <- ``loader``), so the record module never imports
the generation code.
"""

from __future__ import annotations

from pathlib import Path

from vmambair_core.errors import ConfigError, InputError
from vmambair_core.evaluate.benchmarks import Benchmark, EvalSet, LqSource, get_benchmark, load_files
from vmambair_core.evaluate.synthetic import load_synthetic

__all__ = ["load_benchmark"]


def load_benchmark(bench: Benchmark | str, root: Path, *, lq_source: LqSource | None = None) -> EvalSet:
    """Find, pair and check one benchmark under ``root``; a missing or incomplete set is an ``InputError``.

    ``lq_source``: ``hr`` makes LR from HR (bicubic sets only; the default there), ``files`` reads the
    set's LQ folder (the default, and only choice, for sets whose LQ is given or generated).
    """
    bench = get_benchmark(bench) if isinstance(bench, str) else bench
    recipe = bench.synthetic
    if recipe is None:
        return load_files(bench, root, lq_source=lq_source)
    if lq_source == "hr":
        raise ConfigError(f"{bench.name} has no bicubic recipe: its LQ is the synthetic degradation")
    try:
        source = load_files(recipe.source, root, lq_source="hr")
    except InputError as exc:
        raise InputError(f"{bench.name} is made from {recipe.source}'s HR images: {exc}") from None
    return load_synthetic(bench, source)
