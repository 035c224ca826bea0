"""``run_eval``: one call checks, scores and writes the CSV; the report carries the exit status and the JSON."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image

from vmambair_core.evaluate import EvalRequest
from vmambair_core.evaluate.run import CSV_COLUMNS, EvalOutputs, EvalPlan, run_eval
from vmambair_core.outcome import EXIT_OK


def test_one_call_scores_and_writes_the_csv(tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    gt.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 255, (48, 40, 3), dtype=np.uint8)).save(gt / f"{name}.png")
    plans: list[EvalPlan] = []
    ticks: list[str] = []
    report = run_eval(EvalRequest(gt_dir=gt, model="bicubic", task="sisr"), EvalOutputs(csv=tmp_path / "rows.csv"),
                      on_ready=plans.append, on_image=lambda data: ticks.append(data.name))
    assert len(plans) == 1 and plans[0].weights_lines == [] and len(ticks) == 2
    assert report.exit_code == EXIT_OK and not report.failed
    assert [r["benchmark"] for r in report.to_dict()["results"]] == [report.results[0].benchmark]  # type: ignore[index]
    rows = list(csv.DictReader((tmp_path / "rows.csv").open()))
    assert tuple(rows[0]) == CSV_COLUMNS and [r["image"] for r in rows] == ["a", "b"]
