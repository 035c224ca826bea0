"""``import vmambair_core`` turns on PyTorch's huge pages for large CPU tensors, unless the user chose."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = "import os, vmambair_core; print(os.environ.get('THP_MEM_ALLOC_ENABLE'))"


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("0", "0"), ("1", "1")])
def test_thp_setting_is_set_before_torch_loads_and_respects_the_user(given: str | None, expected: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    if given is not None:
        env["THP_MEM_ALLOC_ENABLE"] = given
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


def test_torch_is_not_imported_before_the_setting() -> None:
    """PyTorch reads the variable once, at load: vmambair_core must set it before its first torch import."""
    probe = ("import sys, builtins\n"
             "real = builtins.__import__\n"
             "def spy(name, *a, **k):\n"
             "    if name == 'torch' or name.startswith('torch.'):\n"
             "        import os; assert os.environ.get('THP_MEM_ALLOC_ENABLE') == '1', 'torch imported first'\n"
             "    return real(name, *a, **k)\n"
             "builtins.__import__ = spy\n"
             "import vmambair_core\n")
    env = {k: v for k, v in os.environ.items() if k != "THP_MEM_ALLOC_ENABLE"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
