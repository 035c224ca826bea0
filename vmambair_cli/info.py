"""`vmambair info`: versions, devices, scan backends and presets."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from vmambair_core.info import collect_info

from .errors import run_guarded
from .options import JsonOpt
from .tables import print_table


def info(json_out: JsonOpt = False) -> None:
    """Show torch version, devices, which scan backends can run and which `auto` picks, and the presets."""
    data = run_guarded(collect_info, json_out=json_out)
    if json_out:
        typer.echo(json.dumps(data, indent=2))
        return
    con = Console()
    con.print(f"[bold]vmambair[/] {data['vmambair']}  ·  torch {data['torch']}  ·  python {data['python']}")
    con.print(f"devices: {', '.join(data['devices'])}")
    th = data["threads"]
    numba = "" if th["numba"] is None else f", numba {th['numba']}"
    con.print(f"CPU threads: torch {th['torch']} (inter-op {th['torch_interop']}){numba}; {th['cores']} usable cores "
              "(--threads on restore, eval, train, bench)")
    t = Table(title="scan backends")
    t.add_column("backend")
    for dev in data["backends"]:
        t.add_column(dev)
    names = list(next(iter(data["backends"].values())))
    for name in names:
        t.add_row(name, *[("ok" if data["backends"][d][name] is None else escape(data["backends"][d][name]))
                          for d in data["backends"]])
    t.add_row("[bold]auto picks[/]", *[f"[bold]{data['auto'][d]}[/]" for d in data["backends"]])
    print_table(con, t)
    for dev, summary in data["self_test"].items():
        con.print(f"GPU kernel self-test on {dev}: auto uses {escape(summary)}")
    p = Table(title="presets")
    for col in ("task", "parameters", "blocks", "refine", "channel scan", "fusion", "scale"):
        p.add_column(col, no_wrap=True)
    for row in data["presets"]:
        p.add_row(row["task"], f"{row['parameters']:,}", ",".join(map(str, row["num_blocks"])), str(row["refinement"]),
                  row["channel_scan"], row["fusion"], f"x{row['scale']}")
    print_table(con, p)
    for row in data["presets"]:
        con.print(f"  [bold]{row['task']}[/]: {row['description']}")
        default = row["default_weights"]
        if default is not None:  # what restore and eval run without --weights
            con.print(f"    default weights [bold]{escape(default['name'])}[/] ({escape(default['location'])}, "
                      f"{default['parameters']:,} parameters): {escape(default['description'])}")
        else:
            con.print("    no default weights: pass --weights")
