"""The `vmambair` command: registers each sub-command; every command lives in its own module.

A command's module (and the part of the core it drives: training, evaluation, benchmarking) is imported
only when that command runs: ``main`` registers just the command named on the command line, so a
`vmambair restore` does not load the trainer. ``app`` (tests, ``--help``) has every command.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer

import vmambair_core

from .help import tidy_option_types

COMMANDS: dict[str, tuple[str, str]] = {
    "info": ("vmambair_cli.info", "info"),
    "restore": ("vmambair_cli.restore", "restore_cmd"),
    "train": ("vmambair_cli.train", "train_cmd"),
    "bench": ("vmambair_cli.bench", "bench"),
    "eval": ("vmambair_cli.eval", "eval_cmd"),
    "weights": ("vmambair_cli.weights", "weights_app"),
}
"""Command name -> (module, attribute): a function, or a Typer app for a group of commands."""

tidy_option_types()


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vmambair {vmambair_core.__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """VmambaIR image restoration: restore, eval, train, bench."""


def build_app(commands: tuple[str, ...] = tuple(COMMANDS)) -> typer.Typer:
    """The Typer app with ``commands`` registered, in ``COMMANDS``' order (their modules imported now)."""
    built = typer.Typer(
        name="vmambair",
        help="VmambaIR image restoration: restore, eval, train, bench.",
        epilog="Exit codes (every command): 0 done, 1 failed, 2 usage error (a bad flag value), "
        "3 some images failed (restore, eval), 130 interrupted.",
        no_args_is_help=True,
        rich_markup_mode="rich",
        pretty_exceptions_show_locals=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    built.callback()(_root)
    for name in (n for n in COMMANDS if n in commands):
        module, attribute = COMMANDS[name]
        target: Any = getattr(importlib.import_module(module), attribute)
        if isinstance(target, typer.Typer):
            built.add_typer(target, name=name)
        else:
            built.command(name)(target)
    return built


def _command_named(argv: list[str]) -> str | None:
    """The command the arguments run (the first one that is not an option), if it is one of ours."""
    first = next((arg for arg in argv if not arg.startswith("-")), None)
    return first if first in COMMANDS else None


def main() -> None:
    command = _command_named(sys.argv[1:])
    build_app((command,) if command is not None else tuple(COMMANDS))()


def __getattr__(name: str) -> typer.Typer:
    """``app``: every command (built at first use, as the tests and ``--help`` of the whole CLI need it)."""
    if name == "app":
        globals()["app"] = built = build_app()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
