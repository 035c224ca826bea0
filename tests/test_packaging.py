"""Packaging invariants: every sub-package and every data file the code opens is installed, core never
imports the CLI."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def _setuptools() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]


def _package_folder(package: str) -> Path:
    """Where a listed package lives in the checkout (``package-dir`` maps ``vmambair_weights`` to ``weights/``)."""
    top, *rest = package.split(".")
    return REPO.joinpath(_setuptools().get("package-dir", {}).get(top, top), *rest)


def _code_files() -> list[Path]:
    return [p for top in ("vmambair_core", "vmambair_cli", "weights") for p in (REPO / top).rglob("*.py")
            if "__pycache__" not in p.parts]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """Every folder under vmambair_core/ and vmambair_cli/ that holds Python code is a package listed in
    ``[tool.setuptools] packages`` (a folder left out installs as nothing, and its imports fail only after
    ``pip install``), and every listed package is a folder with an ``__init__.py``."""
    listed = set(_setuptools()["packages"])
    folders = {p.parent for p in _code_files() if p.parts[len(REPO.parts)] != "weights"}
    found = {".".join(f.relative_to(REPO).parts) for f in folders}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    without_init = sorted(str(f.relative_to(REPO)) for f in folders if not (f / "__init__.py").is_file())
    assert not without_init, f"add an __init__.py (namespace packages are not listed): {without_init}"
    stale = sorted(p for p in listed if not (_package_folder(p) / "__init__.py").is_file())
    assert not stale, f"listed in [tool.setuptools] packages but no such package: {stale}"
    assert "vmambair_weights" in listed and _package_folder("vmambair_weights") == REPO / "weights"


def _opened_data_files() -> dict[str, list[str]]:
    """Package -> data files (relative to the package folder) that the code names: a string constant equal to
    the file's name (``joinpath("data", "niqe_pris_params.npz")``, ``ROOT / "registry.json"``) or a
    ``bundled`` file of the registry; and everything in a ``data/`` folder beside the code."""
    import json

    constants = {node.value for path in _code_files() for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    registry = json.loads((REPO / "weights" / "registry.json").read_text())
    constants |= {e["bundled"] for e in registry["weights"].values() if e.get("bundled")}
    opened: dict[str, list[str]] = {}
    for package in _setuptools()["packages"]:
        folder = _package_folder(package)
        top = package.split(".")[0]
        for path in folder.iterdir():
            if path.is_file() and path.suffix != ".py" and path.name in constants:
                rel = path.relative_to(_package_folder(top)).as_posix()
                opened.setdefault(top, []).append(rel)
        data = folder / "data"  # a data folder beside the code (metrics/data/), not itself a package
        if data.is_dir() and not (data / "__init__.py").exists():
            opened.setdefault(top, []).extend(p.relative_to(_package_folder(top)).as_posix() for p in data.iterdir()
                                              if p.is_file())
    return opened


def test_every_data_file_the_code_opens_is_package_data() -> None:
    """Files the code reads at run time (the NIQE pristine model, the weights registry and the bundled weights
    it names) must be in the wheel, not only in the checkout; and no package-data pattern matches nothing."""
    from fnmatch import fnmatch

    globs = _setuptools()["package-data"]
    opened = _opened_data_files()
    assert "metrics/data/niqe_pris_params.npz" in opened["vmambair_core"]
    assert {"registry.json", "sisr-lite.safetensors"} <= set(opened["vmambair_weights"])
    missing = sorted(f"{top}: {rel}" for top, files in opened.items() for rel in files
                     if not any(fnmatch(rel, g) for g in globs.get(top, ())))
    assert not missing, f"add to [tool.setuptools.package-data]: {missing}"
    unmatched = sorted(f"{top}: {g}" for top, patterns in globs.items() for g in patterns
                       if not any(fnmatch(p.relative_to(_package_folder(top)).as_posix(), g)
                                  for p in _package_folder(top).rglob("*") if p.is_file()))
    assert not unmatched, f"package-data patterns that match no file: {unmatched}"


def test_core_never_imports_cli() -> None:
    offenders = []
    for path in (REPO / "vmambair_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(("vmambair_cli", "typer"))]
    assert not offenders


def test_python_310_floor_has_its_toml_parser() -> None:
    """requires-python allows 3.10, which has no tomllib: every import of it is guarded by a version
    check that falls back to tomli, and tomli is a dependency on exactly those versions."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.10"
    assert any(d.replace(" ", "").startswith("tomli>=") and "python_version<'3.11'" in d.replace(" ", "")
               for d in project["dependencies"])
    unguarded = []
    for path in (REPO / "vmambair_core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        checks = [node for node in ast.walk(tree)
                  if isinstance(node, ast.If) and "version_info" in ast.unparse(node.test)]
        guarded = {id(n) for node in checks for n in ast.walk(node)}
        unguarded += [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                      if isinstance(node, ast.Import) and any(a.name == "tomllib" for a in node.names)
                      and id(node) not in guarded]
    assert not unguarded, f"tomllib is 3.11+: guard these imports: {unguarded}"


def test_the_cuda_extra_asks_for_the_mamba_ssm_the_adapter_accepts() -> None:
    """Older mamba-ssm kernels use 32-bit strides; the extra, the runtime check and the hint agree on 2.3.2."""
    from vmambair_core.scan.availability import MAMBA_SSM_INSTALL_HINT, MAMBA_SSM_MIN  # noqa: PLC0415

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = f"mamba-ssm>={'.'.join(map(str, MAMBA_SSM_MIN))}"
    assert project["optional-dependencies"]["cuda"] == [wanted]
    assert f"--no-build-isolation '{wanted}'" in MAMBA_SSM_INSTALL_HINT


def test_shipped_text_cites_only_what_ships_and_every_section_exists() -> None:
    """Code, docstrings and the registry cite ``docs/architecture.md §N`` (in the repository) rather than
    notes outside it (``../shared/...``, ``official-arch.md``), which no checkout of the wheel has; and every
    cited section exists there."""
    import re

    arch = (REPO / "docs" / "architecture.md").read_text()
    sections = set(re.findall(r"^## (\d+)\.", arch, re.M)) | set(re.findall(r"^\*\*(\d+\.\d+) ", arch, re.M))
    shipped = [*_code_files(), REPO / "weights" / "registry.json"]
    outside, unknown = [], []
    for path in shipped:
        text = path.read_text()
        rel = path.relative_to(REPO).as_posix()
        notes = r"official-arch|\.\./shared|shared/spec|shared/notes|ecosystem\.md"
        outside += [f"{rel}: {m}" for m in re.findall(notes, text)]
        for cited in re.findall(r"architecture\.md``? §(\d+(?:\.\d+)?)", text):
            if cited not in sections:
                unknown.append(f"{rel}: §{cited}")
    assert not outside, f"cite docs/architecture.md instead: {outside}"
    assert not unknown, f"no such section in docs/architecture.md: {unknown}"
    assert {"1", "2", "2.4", "3", "6", "7", "8"} <= sections
