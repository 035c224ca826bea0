"""Flags shared by several commands, declared once (hf-cli style ``Annotated`` aliases)."""

from __future__ import annotations

from typing import Annotated

import typer

from vmambair_core.device import PRECISIONS
from vmambair_core.scan import BACKENDS, BackendName
from vmambair_core.scan.backends import describe_auto
from vmambair_core.tasks import TASKS

TaskOpt = Annotated[str, typer.Option("--task", "-t", help=f"Preset: {', '.join(TASKS)}.")]
WeightsOpt = Annotated[
    str | None,
    typer.Option("--weights", "-w", help="A registry name (vmambair weights list), a local .safetensors/.pth file, or a Hub file hf://OWNER/REPO/FILE, optionally @REV (see README); default: the task's published weights."),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps (Apple GPUs; the pure-PyTorch scan).")]
PrecisionOpt = Annotated[
    str, typer.Option("--precision", help=f"{', '.join(PRECISIONS)}; auto: bf16 on capable GPUs, fp32 on a CPU.")
]
BACKEND_HELP = f"Scan backend: {', '.join(BACKENDS)}; auto: {describe_auto()} (see vmambair info)."
"""Built from the core's table of backends (``vmambair_core.scan.backends``), so it cannot go stale."""
BackendOpt = Annotated[BackendName, typer.Option("--backend", help=BACKEND_HELP)]
TileOpt = Annotated[
    int | None,
    typer.Option("--tile", help="Tile size in input pixels; 0 or unset: automatic (on a CPU, tiles are chosen up front when the whole image would not fit in memory; on a GPU, only after an out-of-memory)."),
]
TileOverlapOpt = Annotated[int, typer.Option("--tile-overlap", help="Overlap between tiles in input pixels.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (progress goes to stderr).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars or tables.")]
ThreadsOpt = Annotated[
    int | None,
    typer.Option("--threads", min=1, help="CPU threads (default: torch's choice, see `vmambair info`); 1 is often faster on a busy CPU."),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show Python tracebacks for errors.")]

StrengthOpt = Annotated[
    float | None,
    typer.Option("--strength", min=0.0, max=1.0, help="Blend the weights with their partner model (same network): 1 = the weights as they are, 0 = the partner (realsr: sharp GAN model <-> faithful L1 model). Default: no blend."),
]
PartnerOpt = Annotated[
    str | None,
    typer.Option("--partner", help="The model at --strength 0 (default: the registry partner of --weights)."),
]
