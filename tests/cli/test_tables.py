"""Every table at 80 columns and in a pipe (CliRunner is not a terminal): each number a user came for is
printed whole, never cut to "30.…" or wrapped inside a value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import vmambair_cli.bench as cli_bench
from vmambair_cli.app import app

runner = CliRunner()
ENV = {"COLUMNS": "80"}


def _run(*args: str) -> str:
    r = runner.invoke(app, list(args), env=ENV, terminal_width=80)
    assert r.exit_code == 0, r.output
    if "--json" in args:
        return r.stdout
    table_lines = [line for line in r.stdout.splitlines() if any(ch in line for ch in "│┃━─")]
    assert all(len(line.rstrip()) <= 80 for line in table_lines)  # prose lines may soft-wrap
    assert "…" not in r.stdout
    return r.stdout


def _tokens(text: str) -> set[str]:
    """Whitespace-separated words, with the table's borders and separators taken out."""
    for ch in "│┃|;()":
        text = text.replace(ch, " ")
    return set(text.split())


def _has(text: str, number: str) -> bool:
    return any(number == t or number in t.split("/") for t in _tokens(text))


def test_weights_list_stacks_and_shows_every_number() -> None:
    rows = json.loads(_run("weights", "list", "--json"))
    text = _run("weights", "list")
    for row in rows:
        if row["name"]:
            assert row["name"] in _tokens(text)
        if row.get("parameters"):
            assert _has(text, f"{row['parameters']:,}"), row["name"]
        for m in row["metrics"]:
            for number in (f"{m['psnr']:.2f}", f"{m['ssim']:.4f}", f"{m['baseline_psnr']:.2f}"):
                assert _has(text, number), (row["name"], m["benchmark"], number)


def test_eval_table_shows_every_number(data_dir: Path) -> None:
    args = ("eval", "--bench", "Set5", "--model", "bicubic", "--data-root", str(data_dir / "sr"), "--limit", "1")
    (res,) = json.loads(_run(*args, "--json"))["results"]
    text = _run(*args)
    assert _has(text, f"{res['mean']['psnr']:.2f}") and _has(text, f"{res['mean']['ssim']:.4f}")
    for p in res["published"]:
        if p["method"] in ("VmambaIR", "bicubic"):
            assert _has(text, f"{p['psnr']:.2f}") and _has(text, f"{p['ssim']:.4f}"), p


def test_info_shows_parameter_counts_and_default_weights() -> None:
    data = json.loads(_run("info", "--json"))
    text = _run("info")
    for preset in data["presets"]:
        assert _has(text, f"{preset['parameters']:,}")
        assert _has(text, preset["default_weights"]["name"]), preset["task"]  # the bundled weights are listed
    assert "GAN-trained" not in text  # the shipped sisr-lite is L1-trained; the preset line names the recipe


def test_bench_table_shows_every_number(monkeypatch: pytest.MonkeyPatch) -> None:
    real, reports = cli_bench.run_bench, []

    def once(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - the same measured report for both renderings
        if not reports:
            reports.append(real(*args, **kwargs))
        return reports[0]

    monkeypatch.setattr(cli_bench, "run_bench", once)
    torch.set_num_threads(1)
    args = ("bench", "--device", "cpu", "--preset", "realsr", "--sizes", "8,16", "--repeats", "1", "--warmup", "0",
            "--against", "compact")
    doc = json.loads(_run(*args, "--json"))
    text = _run(*args)
    for r in doc["results"]:
        for number in (f"{r['latency_ms']:.2f}", f"{r['unfused_latency_ms']:.2f}", f"{r['fused_gain']:.2f}×",
                       f"{r['output_mpix_per_s']:.3g}", f"{r['parameters'] / 1e6:.2f}M", f"{r['gmacs_total']:.2f}",
                       f"{r['peers'][0]['ratio']:.2f}×"):
            assert _has(text, number), (r["size"], number)
    for f in doc["scaling"]:
        assert _has(text, f"{f['exponent']:.2f}") and _has(text, f"{f['spread']:.0%}")
        for v in f["ms_per_output_mpix"]:
            assert f"{v:.1f}" in text
