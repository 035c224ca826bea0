"""Packaging invariants: every sub-package is installed, core never imports the CLI."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(REPO).parts) for p in REPO.glob("vmambair_*/**/__init__.py")}
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"
    assert "vmambair_weights" in listed


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
        checks = [node for node in ast.walk(tree) if isinstance(node, ast.If) and "version_info" in ast.unparse(node.test)]
        guarded = {id(n) for node in checks for n in ast.walk(node)}
        unguarded += [f"{path.name}:{node.lineno}" for node in ast.walk(tree)
                      if isinstance(node, ast.Import) and any(a.name == "tomllib" for a in node.names)
                      and id(node) not in guarded]
    assert not unguarded, f"tomllib is 3.11+: guard these imports: {unguarded}"


def test_data_files_of_core_are_package_data() -> None:
    """Files the core reads at run time (the NIQE pristine model) must be in the wheel, not only the checkout."""
    from fnmatch import fnmatch

    globs = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["vmambair_core"]
    core = REPO / "vmambair_core"
    data = [p.relative_to(core).as_posix() for p in core.rglob("data/*")
            if p.is_file() and not (p.parent / "__init__.py").exists()]  # vmambair_core/data/ is code
    assert "metrics/data/niqe_pris_params.npz" in data
    missing = [d for d in data if not any(fnmatch(d, g) for g in globs)]
    assert not missing, f"add to [tool.setuptools.package-data] vmambair_core: {missing}"


def test_the_cuda_extra_asks_for_the_mamba_ssm_the_adapter_accepts() -> None:
    """Older mamba-ssm kernels use 32-bit strides; the extra, the runtime check and the hint agree on 2.3.2."""
    from vmambair_core.scan.availability import MAMBA_SSM_INSTALL_HINT, MAMBA_SSM_MIN  # noqa: PLC0415

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = f"mamba-ssm>={'.'.join(map(str, MAMBA_SSM_MIN))}"
    assert project["optional-dependencies"]["cuda"] == [wanted]
    assert f"--no-build-isolation '{wanted}'" in MAMBA_SSM_INSTALL_HINT
