"""Published VmambaIR weights as data: the registry (``registry.json``) and the small bundled files.

This is the repository folder ``weights/``, installed as the package ``vmambair_weights`` (pyproject's
``package-dir``) so that a plain ``pip install`` carries the registry and the bundled defaults. It holds
data and two paths, no code. Not to be confused with ``vmambair_core.weights``, the code that reads,
checks, converts and loads weights files (its ``registry`` module reads ``REGISTRY_FILE`` here).
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
REGISTRY_FILE = ROOT / "registry.json"
