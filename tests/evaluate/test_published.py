"""The stored published numbers equal the paper's tables in shared/spec/paper-results.md, cell for cell."""

from __future__ import annotations

from pathlib import Path

from vmambair_core.evaluate import BENCHMARKS, PUBLISHED, published_for

# Table header -> (benchmark, metric) per numeric column, in the spec's column order.
_COLUMNS = {
    "Table 1": [(s, m) for s in ("Manga109", "Set14", "General100", "Urban100", "DIV2K100") for m in ("lpips", "psnr")],
    "Table 2": [(s, m) for s in ("NTIRE2020-Track1", "AIM2019") for m in ("lpips", "psnr", "ssim")],
    "Table 3": [(s, m) for s in ("Rain100H", "Rain100L", "Test2800", "Test1200") for m in ("psnr", "ssim")],
}


def _spec_tables(spec_dir: Path) -> dict[str, dict[str, list[float]]]:
    tables: dict[str, dict[str, list[float]]] = {}
    current = None
    for line in (spec_dir / "paper-results.md").read_text().splitlines():
        if line.startswith("## Table"):
            name = line[3:].split(" —")[0]
            current = name if name in _COLUMNS else None
            tables.setdefault(name, {})
        elif current and line.startswith("|") and not line.startswith(("| method", "|---")):
            cells = [c.strip() for c in line.strip("|").split("|")]
            numbers = cells[1:]
            if current == "Table 2":
                numbers = numbers[2:]  # params, FLOPs
            tables[current][cells[0]] = [float(x) for x in numbers]
    return {k: v for k, v in tables.items() if k in _COLUMNS}


def test_every_published_cell_matches_the_spec(spec_dir: Path) -> None:
    tables = _spec_tables(spec_dir)
    assert set(tables) == set(_COLUMNS) and all(tables.values())
    seen = 0
    for table, rows in tables.items():
        for method, values in rows.items():
            assert len(values) == len(_COLUMNS[table]), (table, method)
            for (bench, metric), value in zip(_COLUMNS[table], values, strict=True):
                (row,) = published_for(bench, method)
                assert getattr(row, metric) == value, (table, method, bench, metric)
                assert row.short_source == table
                seen += 1
    paper_cells = sum(
        sum(v is not None for v in (r.psnr, r.ssim, r.lpips)) for r in PUBLISHED if r.method != "bicubic"
    )
    assert seen == paper_cells == 7 * 10 + 6 * 6 + 9 * 8


def test_bicubic_rows_and_names_are_registry_names() -> None:
    assert {r.benchmark for r in PUBLISHED} <= set(BENCHMARKS)
    (set5,) = published_for("Set5", "bicubic")
    (b100,) = published_for("BSD100", "BICUBIC")
    assert (set5.psnr, set5.ssim, b100.psnr, b100.ssim) == (28.42, 0.8104, 25.96, 0.6675)
    assert published_for("Set5", "VmambaIR") == ()  # the paper has no Set5 column
