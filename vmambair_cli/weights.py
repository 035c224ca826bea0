"""`vmambair weights ...`: convert the authors' checkpoints, list the registry and the cache."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vmambair_core.models import PRESET_NAMES
from vmambair_core.weights import convert_checkpoint, entry_status
from vmambair_core.weights.registry import Metric, read_registry

from .errors import fail, run_guarded
from .options import JsonOpt, task_option
from .tables import print_table

weights_app = typer.Typer(help="Convert and list weights.", no_args_is_help=True)


@weights_app.command("convert")
def convert(
    src: Annotated[Path, typer.Argument(help="The authors' .pth checkpoint (or any .pth/.safetensors).")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the .safetensors file.")],
    task: Annotated[str, task_option("the preset the file holds.")],
    half: Annotated[bool, typer.Option("--half", help="Store float16 (half the size).")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output file.")] = False,
    json_out: JsonOpt = False,
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


def _metric_text(m: Metric) -> str:
    base = "" if m.baseline_psnr is None else f" ({m.baseline} {m.baseline_psnr:.2f})"
    ssim = "" if m.ssim is None else f"/{m.ssim:.4f}"
    return f"{m.benchmark} {m.psnr:.2f}{ssim}{base}"


def _rows() -> list[dict[str, Any]]:
    """One row per registered entry, plus one per task that has none (status 'unpublished')."""
    reg = read_registry()
    rows: list[dict[str, Any]] = []
    for e in reg.entries.values():
        rows.append({
            "name": e.name, "task": e.task, "default": reg.default_name(e.task) == e.name, "source": e.location,
            "sha256": e.sha256, "status": entry_status(e), "parameters": e.parameters, "licence": e.licence,
            "training_data": e.training_data, "training_command": e.training_command, "wall_time": e.wall_time,
            "machine": e.machine, "description": e.description, "metrics": [dataclasses.asdict(m) for m in e.metrics],
        })
    covered = {r["task"] for r in rows}
    rows += [{"name": None, "task": t, "default": False, "source": None, "sha256": None, "status": "unpublished",
              "metrics": []} for t in PRESET_NAMES if t not in covered]
    return rows


@weights_app.command("list")
def list_weights(json_out: JsonOpt = False) -> None:
    """Every named weights entry: task, default or not, where the file comes from, availability and metrics."""
    rows = run_guarded(_rows, json_out=json_out)
    if json_out:
        typer.echo(json.dumps(rows, indent=2))
        return
    t = Table(title="weights (use one with --weights NAME)", title_justify="left")
    for col in ("name", "task", "default", "params", "status"):
        t.add_column(col, no_wrap=True)
    t.add_column("source")
    t.add_column("metrics: PSNR/SSIM (baseline PSNR)")
    for r in rows:
        metrics = [Metric(**m) for m in r["metrics"]]
        t.add_row(escape(r["name"] or "—"), r["task"], "yes" if r["default"] else "",
                  "" if r.get("parameters") is None else f"{r['parameters']:,}", r["status"],
                  escape(r["source"] if r["status"] != "pending" and r["source"] else "—"), escape("\n".join(_metric_text(m) for m in metrics) or "—"))
    con = Console()
    print_table(con, t)
    conventions = sorted({m["convention"] for r in rows for m in r["metrics"]})
    if conventions:
        con.print(f"Metrics: PSNR (dB)/SSIM on {', '.join(conventions)}; see weights/README.md.", markup=False)
    if any(r["status"] in ("unpublished", "pending") for r in rows):
        con.print("'pending' entries have no file yet; tasks without published weights need --weights "
                  "(a local file or OWNER/REPO/FILE[@REV]).", markup=False)
