"""The README's first screen is what CI runs, and the example images it restores ship with their provenance."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _first_screen_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8").split("## What works today")[0]
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line and not line.startswith("#")]


def test_ci_runs_the_install_main_job_and_test_commands_of_the_first_screen() -> None:
    commands = _first_screen_commands()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    install = [c for c in commands if c.startswith("pip install -e")]
    assert install == ['pip install -e . && vmambair restore examples/ -o restored/',
                       'pip install -e ".[test]" && python -m pytest -q']
    assert all(c in ci for c in install)  # exactly the lines, not variants of them
    assert commands[0].startswith("pip install torch") and "cpu" in commands[0]  # the CPU build comes first


def test_example_images_are_listed_with_their_checksums() -> None:
    listed = (REPO / "examples" / "README.md").read_text(encoding="utf-8")
    images = sorted(p for p in (REPO / "examples").iterdir() if p.suffix.lower() in (".png", ".jpg"))
    assert 2 <= len(images) <= 3
    for image in images:
        assert f"`{image.name}`" in listed and hashlib.sha256(image.read_bytes()).hexdigest() in listed
        assert image.stat().st_size < 100_000  # small: the main job takes seconds on a CPU
    assert "Licence" in listed and "Provenance" in listed
