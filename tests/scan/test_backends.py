"""The table of scan backends is the one list: every consumer (dispatch, status, self-test, CLI) reads it,
and a backend added as one record works end to end."""

from __future__ import annotations

import pytest
import torch
import click
import typer.main
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core import build_model
from vmambair_core.errors import ConfigError
from vmambair_core.models.config import tiny_config
from vmambair_core.scan import (
    BACKENDS, ScanBackend, ScanKernels, backend_status, get_backend, registered, resolve_backend,
)
from vmambair_core.scan import probe
from vmambair_core.scan.backends import FAST_DTYPES, TABLE, describe_auto
from vmambair_core.scan.cross_scan import planar_scan, planar_scan_unfused
from vmambair_core.scan.reference import selective_scan_chunked

CPU = torch.device("cpu")


def planar_inputs(c: int = 3, n: int = 4, r: int = 1) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(3)
    return [torch.randn(1, c, 5, 6, generator=gen), torch.randn(4, r + 2 * n, c, generator=gen) * 0.5,
            torch.randn(4, c, r, generator=gen), torch.randn(4, c, generator=gen) - 2,
            torch.randn(4 * c, n, generator=gen), torch.randn(4 * c, generator=gen)]


class Toy:
    """A backend written as a user would add one: the chunked scan, and a 'fused' planar scan that is
    the unfused data flow over it; every call is recorded so the test sees the dispatch reach it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.self_tests: list[str] = []

    def scan(self, *args: torch.Tensor | bool | None) -> torch.Tensor:
        self.calls.append("scan")
        return selective_scan_chunked(*args)

    def planar(self, *args: torch.Tensor) -> torch.Tensor:
        self.calls.append("planar")
        return planar_scan_unfused(*args, backend="toy")

    def self_test(self, device: torch.device) -> str | None:
        self.self_tests.append(str(device))
        return None

    def record(self, **kw: object) -> ScanBackend:
        return ScanBackend("toy", lambda: ScanKernels(self.scan, self.planar, self_test=self.self_test), **kw)


def test_every_record_is_a_choice_a_status_and_in_the_help() -> None:
    names = [b.name for b in TABLE]
    assert BACKENDS == ("auto", *names)
    for device_type in ("cpu", "cuda"):
        assert list(backend_status(device_type)) == names
    cmd = typer.main.get_command(app)
    for command in ("restore", "eval", "train"):
        (param,) = [p for p in cmd.commands[command].params if p.name == "backend"]  # type: ignore[attr-defined]
        completed = param.shell_complete(click.Context(cmd.commands[command]), "")  # type: ignore[attr-defined]
        assert tuple(c.value for c in completed) == BACKENDS, command
        for name in BACKENDS:
            assert name in param.help, (command, name)
    for backend in TABLE:
        if backend.auto:  # auto's help names every backend auto may choose
            assert backend.name in describe_auto()


@pytest.mark.parametrize("command", ["restore", "eval", "train"])
def test_an_unknown_backend_is_one_line_and_exit_2(command: str, tmp_path) -> None:  # noqa: ANN001
    """The core refuses a name outside the table, in the one-line form every vmambair usage error takes."""
    import cv2
    import numpy as np

    (tmp_path / "lq").mkdir()
    cv2.imwrite(str(tmp_path / "lq" / "a.png"), np.full((16, 16, 3), 128, np.uint8))
    cv2.imwrite(str(tmp_path / "a.png"), np.full((16, 16, 3), 128, np.uint8))
    args = {"restore": ["restore", str(tmp_path / "a.png"), "-o", str(tmp_path / "out")],
            "eval": ["eval", "--lq", str(tmp_path / "lq"), "-t", "sisr"],
            "train": ["train", "-t", "sisr", "-o", str(tmp_path / "run"), "--data", str(tmp_path)]}[command]
    result = CliRunner().invoke(app, [*args, "--backend", "warp"])
    assert result.exit_code == 2, result.output
    assert "unknown scan backend 'warp'" in result.output and "Traceback" not in result.output


def test_auto_candidates_are_the_auto_records_in_table_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """choose_backend tries exactly the table's auto records the status reports usable, in table order."""
    tried: list[str] = []
    monkeypatch.setattr(probe, "probe_backend", lambda name, device: tried.append(name) or "failed")
    result = probe.choose_backend(CPU, {b.name: None for b in TABLE})
    assert tried == [b.name for b in TABLE if b.auto] and result.backend == "reference"
    probe.clear_probe_results()


def test_a_registered_backend_runs_the_planar_and_plain_scans_and_equals_the_reference() -> None:
    toy = Toy()
    x = planar_inputs()
    expected = planar_scan_unfused(*x, backend="reference")
    with registered(toy.record()):
        assert resolve_backend("toy", CPU) == "toy" and get_backend("toy").name == "toy"
        y = planar_scan(*x, backend="toy")
        assert toy.calls == ["planar", "scan"]  # the record's fused planar scan, then its plain scan
        torch.testing.assert_close(y, expected, rtol=0, atol=0)
        net = build_model(tiny_config("sisr")).eval()
        img = torch.rand(1, 3, 8, 8)
        with torch.no_grad():
            ref = net.set_scan_backend("reference")(img)
            out = net.set_scan_backend("toy")(img)
        torch.testing.assert_close(out, ref, rtol=0, atol=0)
        assert toy.calls.count("planar") > 1 and toy.calls.count("scan") > toy.calls.count("planar")
    with pytest.raises(ConfigError, match="unknown scan backend 'toy'"):  # gone after the block
        resolve_backend("toy", CPU)


def test_a_registered_auto_backend_is_self_tested_then_chosen() -> None:
    toy = Toy()
    probe.clear_probe_results()
    try:
        with registered(toy.record(devices=("cpu",), dtypes=FAST_DTYPES, auto=True)):
            result = probe.choose_backend(CPU, {"toy": None})
            assert result.backend == "toy" and toy.self_tests == ["cpu"]
            assert resolve_backend("auto", CPU, torch.float32) == "toy"  # the one cache holds the choice
            assert resolve_backend("auto", CPU, torch.float64) == "reference"
    finally:
        probe.clear_probe_results()


def test_names_are_unique_and_unknown_names_list_the_choices() -> None:
    with pytest.raises(ConfigError, match="already exists"), registered(Toy().record()), registered(Toy().record()):
        pass
    with pytest.raises(ConfigError, match="already exists"), registered(ScanBackend("numba", lambda: None)):  # type: ignore[arg-type, return-value]
        pass
    with pytest.raises(ConfigError, match="choose one of auto, reference, sequential, numba"):
        get_backend("warp")


def test_auto_waits_for_work_that_repays_its_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small auto scans on a device nobody resolved auto for run the reference without choosing (a 32-px
    restore never loads numba); once their work passes the budget auto chooses, once, and keeps it."""
    x = planar_inputs()
    macs = 9 * 4 * x[0].numel() * x[4].shape[1]
    probe.clear_probe_results()
    monkeypatch.setattr(probe, "AUTO_DEFER_MACS", 2 * macs)
    chosen: list[str] = []
    real = probe.choose_backend
    monkeypatch.setattr(probe, "choose_backend", lambda device, status: chosen.append(str(device)) or real(device, status))
    try:
        reference = planar_scan_unfused(*x, backend="reference")
        for _ in range(2):
            torch.testing.assert_close(planar_scan(*x), reference, rtol=0, atol=0)
        assert chosen == [] and probe.probe_results() == {}
        planar_scan(*x)  # past the budget: auto's choice is made now
        assert chosen == ["cpu"] and resolve_backend("auto", CPU) == probe.probe_results()["cpu"].backend
        planar_scan(*x)
        assert chosen == ["cpu"]
    finally:
        probe.clear_probe_results()
