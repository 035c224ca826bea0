"""What a ``--weights`` value names: a local file, a Hub file, or a registry name, decided before any I/O.

A typo in a local path must never turn into a Hub request (and, offline, a confusing cache error), so
anything that looks like a path is one:

* ``hf://OWNER/REPO/FILE[@REV]``: a Hub file, always;
* a path: starts with ``.``, ``/`` or ``~``, or its first part has a file extension (``model.pth``,
  ``net_g.safetensors``), or its first part exists here (``runs/`` of ``runs/sisr/model.safetensors``);
* ``OWNER/REPO/FILE[@REV]`` that is none of the above: a Hub file (the short form);
* a bare name (no ``/``, no extension): a name in the weights registry.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .hub import HUB_SCHEME, HubRef, parse_hub_ref

# A letter-led suffix: ``.pth``, ``.safetensors``, ``.pt2``; not the ``.2`` of ``v1.2``.
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]*$")


def looks_like_path(spec: str) -> bool:
    """True where ``spec`` must be a local file (see the module docstring)."""
    if spec.startswith((".", "/", "~", os.sep)) or (os.altsep is not None and spec.startswith(os.altsep)):
        return True
    first = re.split(r"[/\\]", spec, maxsplit=1)[0]
    return bool(_EXTENSION.search(first)) or Path(first).exists()


def classify_spec(spec: str | os.PathLike[str]) -> Path | HubRef | str:
    """A local ``Path``, a ``HubRef``, or (a bare name) the registry name itself.

    Path objects are always local, and so is a string with ``/`` that cannot be ``OWNER/REPO/FILE``.
    """
    if not isinstance(spec, str):
        return Path(spec).expanduser()
    if spec.startswith(HUB_SCHEME):
        return parse_hub_ref(spec)
    if looks_like_path(spec):
        return Path(spec).expanduser()
    if "/" not in spec and "\\" not in spec:
        return spec
    parts = spec.split("@", 1)[0].split("/")
    if "\\" in spec or len(parts) < 3 or not all(parts):
        return Path(spec)  # OWNER/REPO/FILE needs three non-empty parts: anything else is a path
    return parse_hub_ref(spec)
