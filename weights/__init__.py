"""Published VmambaIR weights: the registry (``registry.json``) and any small bundled files.

Installed as the package ``vmambair_weights`` so that a plain ``pip install`` carries the registry and
the bundled defaults; ``vmambair_core.weights.registry`` reads it.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
REGISTRY_FILE = ROOT / "registry.json"
