"""`vmambair weights ...`: convert the authors' checkpoints, list the registry and the cache."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vmambair_core.models import PRESET_NAMES
from vmambair_core.weights import cache_status, convert_checkpoint
from vmambair_core.weights.registry import load_registry

from .errors import fail, run_guarded

weights_app = typer.Typer(help="Convert and list weights.", no_args_is_help=True)


@weights_app.command("convert")
def convert(
    src: Annotated[Path, typer.Argument(help="The authors' .pth checkpoint (or any .pth/.safetensors).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the .safetensors file.")],
    task: Annotated[str, typer.Option("--task", help=f"Preset: {', '.join(PRESET_NAMES)}.")],
    half: Annotated[bool, typer.Option("--half", help="Store float16 (half the size).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output file.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Validate a checkpoint against its preset, strip wrappers/prefixes and write .safetensors with metadata."""
    if output.suffix.lower() != ".safetensors":
        raise fail(f"--output must end in .safetensors, got {output.name}", 2)
    if output.exists() and not overwrite:
        raise fail(f"{output} exists; pass --overwrite to replace it")
    path, sha, key = run_guarded(lambda: convert_checkpoint(src, output, task, half=half), json_out=json_out)
    if json_out:
        typer.echo(json.dumps({"path": str(path), "sha256": sha, "task": task, "source_key": key}))
        return
    Console().print(f"wrote [bold]{path}[/] ({task}, from {key or 'bare state dict'})\nsha256 {sha}")


@weights_app.command("list")
def list_weights(json_out: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False) -> None:
    """The default weights of each task, where they come from and whether they are available offline."""

    def collect() -> list[dict[str, str | None]]:
        reg = load_registry()
        rows = []
        for task in PRESET_NAMES:
            e = reg.get(task)
            rows.append({"task": task, "source": e.location if e else None, "sha256": e.sha256 if e else None,
                         "status": cache_status(task)})
        return rows

    rows = run_guarded(collect, json_out=json_out)
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    t = Table(title="default weights")
    for col in ("task", "source", "sha256", "status"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["task"] or "", r["source"] or "—", (r["sha256"] or "")[:16], r["status"] or "")
    Console().print(t)
    if any(r["status"] == "unpublished" for r in rows):
        Console().print("Tasks marked 'unpublished' need --weights (a local file or OWNER/REPO/FILE[@REV]).", markup=False)
