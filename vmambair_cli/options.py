"""Flags shared by several commands, declared once (hf-cli style ``Annotated`` aliases).

Names that form a closed list (tasks, precisions, scan backends) come from the core's tuples: the help text names them
and the shell completes them from there. The core refuses any other value itself (``get_preset``,
``check_precision``), so the refusal is the one-line ``Error: unknown task/preset ...`` every vmambair
error takes (a JSON document with ``--json``), exit 2, rather than the parser's own usage panel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from vmambair_core.device import PRECISIONS
from vmambair_core.scan import BACKENDS
from vmambair_core.scan.backends import describe_auto
from vmambair_core.tasks import TASKS



def _completion(names: tuple[str, ...]) -> Callable[[str], list[str]]:
    return lambda incomplete: [n for n in names if n.startswith(incomplete)]


def task_option(default: str, *decls: str) -> Any:
    """``--task`` (and ``decls``, e.g. ``-t``): help ``<the tasks>; <default>`` and completion from ``TASKS``."""
    return typer.Option("--task", *decls, help=f"{', '.join(TASKS)}; {default}", autocompletion=_completion(TASKS))


def precision_option(default: str, names: tuple[str, ...] = PRECISIONS) -> Any:
    """``--precision``: help ``<the precisions>; <default>`` and completion from ``PRECISIONS``."""
    return typer.Option("--precision", help=f"{', '.join(names)}; {default}", autocompletion=_completion(names))


WeightsOpt = Annotated[
    str | None,
    typer.Option("--weights", "-w", help="A registry name (vmambair weights list), a local .safetensors/.pth file, or a Hub file hf://OWNER/REPO/FILE, optionally @REV (see README); default: the task's published weights."),
]
DeviceOpt = Annotated[str, typer.Option("--device", help="auto, cpu, cuda, cuda:N or mps (Apple GPUs; the pure-PyTorch scan).")]
PrecisionOpt = Annotated[str, precision_option("auto: bf16 on capable GPUs, fp32 on a CPU.")]
BACKEND_HELP = f"Scan backend: {', '.join(BACKENDS)}; auto: {describe_auto()} (see vmambair info)."
"""Built from the core's table of backends (``vmambair_core.scan.backends``), so it cannot go stale."""
def backend_option() -> Any:
    """``--backend``: help and completion from the table of backends."""
    return typer.Option("--backend", help=BACKEND_HELP, autocompletion=_completion(BACKENDS))


BackendOpt = Annotated[str, backend_option()]
TileOpt = Annotated[
    int | None,
    typer.Option("--tile", help="Tile size in input pixels; 0 or unset: automatic (on a CPU, tiles are chosen up front when the whole image would not fit in memory; on a GPU, only after an out-of-memory)."),
]
TileOverlapOpt = Annotated[int, typer.Option("--tile-overlap", help="Overlap between tiles in input pixels.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout (messages and progress go to stderr).")]
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
