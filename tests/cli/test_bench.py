"""`vmambair bench`: the CI command emits every field; the table renders; bad options fail cleanly."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from vmambair_cli.app import app
from vmambair_core.bench import BenchResult, ScalingFit
from vmambair_core.scan import resolve_backend

runner = CliRunner()


@pytest.fixture(autouse=True)
def _one_thread():
    """Small maps: thread hand-offs cost more than the convs on a busy 2-core machine."""
    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


@pytest.mark.slow
def test_ci_command_emits_every_field() -> None:
    """The documented CPU command `vmambair bench --device cpu --json` (timing runs cut to one to keep CI short)."""
    result = runner.invoke(app, ["bench", "--device", "cpu", "--sizes", "16,32", "--json", "--repeats", "1",
                                 "--warmup", "0"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert {"device", "torch_version", "date", "flop_convention", "memory_method", "results", "scaling",
            "notes"} <= set(doc)
    assert "9*B*L*D*N + B*D*L" in doc["flop_convention"]
    rows = doc["results"]
    assert {(r["preset"], r["size"]) for r in rows} == {(p, s) for p in ("realsr", "sisr", "derain") for s in (16, 32)}
    for r in rows:
        assert set(r) == set(BenchResult.__dataclass_fields__)
        assert r["resolved_backend"] == resolve_backend("auto", "cpu") and r["precision"] == "fp32"
        assert r["mode"] == "forward" and r["peers"] == []
        assert r["latency_ms"] > 0 and r["unfused_latency_ms"] > 0
        assert r["fused_gain"] == pytest.approx(r["unfused_latency_ms"] / r["latency_ms"])
        assert r["output_mpix_per_s"] > 0 and r["peak_memory_mib"] is not None
    params = {r["preset"]: r["parameters"] for r in rows}
    assert params == {"realsr": 10_497_813, "sisr": 12_028_273, "derain": 28_709_875}
    # MACs scale with pixels, up to the per-image channel-scan branch (its convs, einsums and scans)
    by = {(r["preset"], r["size"]): r for r in rows}
    for p in params:
        small, large = by[(p, 16)], by[(p, 32)]
        assert large["gmacs_conv_linear_einsum"] == pytest.approx(4 * small["gmacs_conv_linear_einsum"], rel=1e-2)
        assert 3.5 * small["gmacs_scans"] < large["gmacs_scans"] <= 4 * small["gmacs_scans"]
    assert len(doc["scaling"]) == 3
    for f in doc["scaling"]:
        assert set(f) == set(ScalingFit.__dataclass_fields__) and f["sizes"] == [16, 32]


def test_table_output() -> None:
    result = runner.invoke(app, ["bench", "--device", "cpu", "--preset", "realsr", "--sizes", "8",
                                 "--repeats", "1", "--warmup", "0"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for text in ("realsr", "8²", resolve_backend("auto", "cpu"), "fp32", "unfused ms", "gain", "MP/s out", "10.50M", "multiply-adds"):
        assert text in out, text


def test_against_peers_in_table_and_json() -> None:
    args = ["bench", "--device", "cpu", "--preset", "realsr", "--sizes", "8", "--repeats", "1", "--warmup", "0",
            "--against", "compact"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "vs compact" in result.stdout and "realesr-general-x4v3" in result.stdout
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["results"]
    (peer,) = row["peers"]
    assert peer["peer"] == "compact" and peer["ratio"] == pytest.approx(row["latency_ms"] / peer["latency_ms"])


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--sizes", "12"], "multiples of 8", 2),
        (["--sizes", "a,b"], "comma-separated integers", 2),
        (["--precision", "fp16"], "precision", 2),
        (["--preset", "realsr,nope"], "nope", 2),
        (["--backend", "triton"], "triton", 1),  # a known backend that cannot run here: not a usage error
        (["--backend", "warp"], "unknown scan backend", 2),
        (["--against", "rrdbnet,esrgan"], "unknown peer network 'esrgan'", 2),
    ],
)
def test_bad_options_fail_with_one_line(args: list[str], message: str, code: int) -> None:
    result = runner.invoke(app, ["bench", "--device", "cpu", *args])
    assert result.exit_code == code
    assert "Error:" in result.output and message in result.output
    assert "Traceback" not in result.output


def test_weights_times_what_restore_runs() -> None:
    """The bundled lite models are what users run; --weights times that network, under its name."""
    from vmambair_core.weights.registry import read_registry

    args = ["bench", "--device", "cpu", "--sizes", "8", "--repeats", "1", "--warmup", "0"]
    result = runner.invoke(app, [*args, "--weights", "realsr-lite", "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["results"]
    assert row["preset"] == "realsr-lite" and row["parameters"] == read_registry().lookup("realsr-lite").parameters
    result = runner.invoke(app, [*args, "--weights", "realsr-lite", "--preset", "sisr"])
    assert result.exit_code == 2 and "not both" in result.output
