"""restore against its own inputs, special files and link loops: nothing overwritten, nothing hangs."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmambair_core.data.io import read_image
from vmambair_core.errors import ConfigError, InputError
from vmambair_core.inference.restore import plan_restore

from .attacks import cli, dev_zero_link, fifo, finishes_within, one_line_error, png, symlink_loop, tiny_weights


def test_an_output_named_like_another_input_is_refused_whatever_the_flags(tmp_path: Path) -> None:
    a = png(tmp_path / "in" / "a.png", seed=1)
    b = png(tmp_path / "in" / "a_x4.png", seed=2)
    before = b.read_bytes()
    with pytest.raises(ConfigError, match="a_x4.png is an input of this run"):
        plan_restore([a, b], tmp_path / "in", suffix="_x4", ext="png")
    weights = tiny_weights(tmp_path / "w.safetensors")
    result = cli("restore", a, b, "-o", tmp_path / "in", "--suffix", "_x4", "--ext", "png", "--overwrite",
                 "-t", "sisr", "-w", weights)
    assert "is an input of this run" in one_line_error(result)
    assert b.read_bytes() == before
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["a.png", "a_x4.png"]


def test_a_fifo_and_a_dev_zero_link_in_a_folder_are_not_inputs(tmp_path: Path) -> None:
    good = png(tmp_path / "in" / "good.png")
    pipe = fifo(tmp_path / "in" / "x.png")
    zero = dev_zero_link(tmp_path / "in" / "zero.png")
    plan = plan_restore([tmp_path / "in"], tmp_path / "out")
    assert [job.source for job in plan.jobs] == [good]
    assert set(plan.ignored) == {pipe, zero}
    weights = tiny_weights(tmp_path / "w.safetensors")
    result = finishes_within(60, cli, "restore", tmp_path / "in", "-o", tmp_path / "out", "-t", "sisr", "-w", weights)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good.png"]


def test_reading_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = fifo(tmp_path / "x.png")
    with pytest.raises(InputError, match="not a regular file"):
        finishes_within(10, read_image, pipe)


def test_reading_dev_zero_is_refused_and_sizes_are_checked_before_reading(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a regular file"):
        finishes_within(10, read_image, dev_zero_link(tmp_path / "zero.png"))
    big = tmp_path / "big.png"
    with big.open("wb") as handle:  # sparse: claims 1 GiB without writing it
        handle.truncate(1 << 30)
    with pytest.raises(InputError, match="larger than any image"):
        read_image(big, max_pixels=1000)


def test_symlink_loops_among_inputs_and_as_output_are_one_line(tmp_path: Path) -> None:
    good = png(tmp_path / "in" / "good.png")
    symlink_loop(tmp_path / "in" / "a.png", tmp_path / "in" / "b.png")
    plan = plan_restore([tmp_path / "in"], tmp_path / "out")
    assert [job.source for job in plan.jobs] == [good]
    weights = tiny_weights(tmp_path / "w.safetensors")
    direct = cli("restore", tmp_path / "in" / "a.png", "-o", tmp_path / "out", "-t", "sisr", "-w", weights)
    assert one_line_error(direct).endswith("a link that leads nowhere (its target is missing, or links loop)")
    loop_out, _ = symlink_loop(tmp_path / "o1", tmp_path / "o2")
    as_output = cli("restore", good, "-o", loop_out, "-t", "sisr", "-w", weights)
    assert one_line_error(as_output).startswith(f"Error: output folder {loop_out} cannot be written")
