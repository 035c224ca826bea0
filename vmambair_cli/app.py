"""The `vmambair` command: registers each sub-command; every command lives in its own module."""

from __future__ import annotations

from typing import Annotated

import typer

import vmambair_core

from .bench import bench
from .eval import eval_cmd
from .help import tidy_option_types
from .info import info
from .restore import restore_cmd
from .train import train_cmd
from .weights import weights_app

tidy_option_types()

app = typer.Typer(
    name="vmambair",
    help="VmambaIR image restoration: restore, eval, train, bench.",
    epilog="Exit codes (every command): 0 done, 1 failed, 2 usage error (a bad flag value), "
    "3 some images failed (restore, eval), 130 interrupted.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"vmambair {vmambair_core.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """VmambaIR image restoration: restore, eval, train, bench."""


app.command("info")(info)
app.command("restore")(restore_cmd)
app.command("train")(train_cmd)
app.command("bench")(bench)
app.command("eval")(eval_cmd)
app.add_typer(weights_app, name="weights")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
