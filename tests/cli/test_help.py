"""Every help screen at 80 columns: nothing cut, no value placeholder on flags, choices named in the text."""

from __future__ import annotations

import re

import pytest
import typer.main
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.scan import BACKENDS

runner = CliRunner()
COMMANDS = ["restore", "eval", "train", "bench", "info", "weights list", "weights convert"]


def _help(command: str) -> str:
    r = runner.invoke(app, [*command.split(), "--help"], env={"COLUMNS": "80"}, terminal_width=80)
    assert r.exit_code == 0, r.output
    return r.output


def _params(command: str) -> list:  # noqa: ANN401
    cmd = typer.main.get_command(app)
    for part in command.split():
        cmd = cmd.commands[part]  # type: ignore[attr-defined]
    return cmd.params


def _unboxed(text: str) -> str:
    """The help text with the table's borders and line breaks taken out, for finding phrases."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


@pytest.mark.parametrize("command", COMMANDS)
def test_help_fits_80_columns_and_shows_no_bool_placeholder(command: str) -> None:
    text = _help(command)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text and "<bool>" not in text and "<str>" not in text
    flat = _unboxed(text)
    for param in _params(command):
        desc = param.type_descriptor  # type: ignore[attr-defined]
        for choice in (desc.choices or ()) if desc.is_choice else ():  # the placeholder column is gone: the help text names each choice
            assert re.search(rf"\b{re.escape(str(choice))}\b", param.help or ""), (command, param.name, choice)
    assert "[default: 134217728]" not in flat


def test_backend_choices_come_from_the_core_and_flags_do_not_clash() -> None:
    for command in ("restore", "eval"):
        flat = _unboxed(_help(command))
        assert ", ".join(BACKENDS) in flat, command
    assert "about 134 MP" in _unboxed(_help("restore"))
    bench_backend = next(p for p in _params("bench") if p.name == "backend")
    assert "-b" not in bench_backend.opts  # -b is eval's --bench
    assert "-b" in next(p for p in _params("eval") if p.name == "bench").opts


def test_a_flag_given_a_value_is_not_read_as_its_value() -> None:
    text = _unboxed(_help("restore"))
    assert re.search(r"--tta x8 self-ensemble", text)  # no placeholder between a flag and its help
    assert "0 or unset: automatic" in text and "on a CPU, tiles are chosen up front" in text
