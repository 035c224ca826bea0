"""Turn the JSON files of one gpu_check.sh run into one markdown report (tables + the fast path's targets, met or not).

    python benchmarks/summarize.py OUT > OUT/summary.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _f(v: Any, nd: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{nd}g}" if abs(v) < 1e4 else f"{v:,.0f}"
    return str(v)


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(_f(c) for c in r) + " |" for r in rows]
    return out + [""]


def _verdict(doc: dict[str, Any]) -> str:
    """'all pass' or 'FAILURES' of a check's JSON, and whether its step stopped early."""
    verdict = "all pass" if doc["all_pass"] else "FAILURES"
    if not doc.get("complete", True):
        verdict += ", INCOMPLETE: the step stopped early (see log.txt)"
    return verdict


def checks_section(doc: dict[str, Any] | None) -> list[str]:
    if doc is None:
        return ["## Correctness: no result (step failed or timed out; see log.txt)", ""]
    lines = [f"## Correctness vs float64 ({_verdict(doc)})", ""]
    rows = []
    for c in doc["checks"]:
        errs = c["errors"]
        grads = [v for k, v in errs.items() if k.startswith("d")]
        out_err = errs.get("y", errs.get("fp32"))
        rows.append([c["kind"], c["name"], c.get("dtype", "fp32/bf16"), out_err, max(grads) if grads else None,
                     "ok" if c["pass"] else "**FAIL**"])
    return lines + _table(["kind", "case", "dtype", "max rel err out", "max rel err grads", "pass"], rows)


def omni_section(doc: dict[str, Any] | None) -> list[str]:
    if doc is None:
        return ["## Omni layer: no result (step failed or timed out; see log.txt)", ""]
    lines = ["## Tile sweep (fused, fp32, "
             f"{doc['sweep_shape']['map']}² x {doc['sweep_shape']['channels']} ch)", ""]
    lines += _table(["block_d", "block_l", "warps", "fwd ms", "fwd+bwd ms", "error"],
                    [[r["block_d"], r["block_l"], r["num_warps"], r.get("fwd_ms"), r.get("fwd_bwd_ms"),
                      r.get("error", "")] for r in doc["tile_sweep"]])
    lines += [f"Best forward tiles: `{doc['best_tiles']}`", ""]
    if not doc.get("complete", True):
        lines += ["**INCOMPLETE: the step stopped early (see log.txt); tables below are partial.**", ""]
    base = "unfused_mamba_ssm" if doc.get("mamba_ssm") else "unfused_triton"
    lines += [f"## Omni layer, batch 1 (baseline for the targets: {base})", ""]
    heads = ["map", "C", "prec", "fused fwd ms", "fused bwd ms", "unfused-triton fwd", "unfused-triton bwd"]
    if doc.get("mamba_ssm"):
        heads += ["unfused-mamba fwd", "unfused-mamba bwd"]
    heads += ["gain fwd", "gain bwd", "fused fwd / exp floor"]
    rows = []
    for r in doc["layers"]:
        row = [r["map"], r["channels"], r["precision"], r["fused_fwd_ms"], r["fused_bwd_ms"],
               r["unfused_triton_fwd_ms"], r["unfused_triton_bwd_ms"]]
        if doc.get("mamba_ssm"):
            row += [r["unfused_mamba_ssm_fwd_ms"], r["unfused_mamba_ssm_bwd_ms"]]
        row += [r[f"gain_fwd_vs_{base}"], r[f"gain_bwd_vs_{base}"], r["fused_fwd_over_exp_floor"]]
        rows.append(row)
    lines += _table(heads, rows)
    if doc["scan_alone"]:
        lines += [f"## Selective scan alone ({doc['scan_alone'][0]['rows']} sequences, N=16, batch 1)", ""]
        lines += _table(["impl", "L", "fwd fp32 ms", "fwd bf16 ms", "fwd+bwd fp32 ms"],
                        [[r["impl"], r["length"], r["fwd_fp32_ms"], r["fwd_bf16_ms"], r["fwd_bwd_fp32_ms"]]
                         for r in doc["scan_alone"]])
    return lines


def cuda_paths_section(doc: dict[str, Any] | None) -> list[str]:
    """benchmarks/gpu_cuda_paths.py: every scan-kernel variant's self-test, auto precision, the RNG state."""
    if doc is None:
        return ["## CUDA paths: no result (step failed or timed out; see log.txt)", ""]
    lines = [f"## CUDA paths ({_verdict(doc)})", "", f"Checkpoint RNG state on the run GPU: {doc['rng']}", ""]
    lines += _table(["kind", "block_d", "block_l", "warps", "dtype", "N", "self-test"],
                    [[v["kind"], v["block_d"], v["block_l"], v["num_warps"], v["dtype"], v["d_state"],
                      "passed" if v["verdict"] == "passed" else f"**{v['verdict']}**"] for v in doc["variants"]])
    if doc["precision"]:
        lines += _table(["device", "GPU", "capability", "native bf16", "--precision auto"],
                        [[r["device"], r["name"], r["capability"], r["native_bf16"], r["auto"]]
                         for r in doc["precision"]])
    return lines


def bench_section(title: str, doc: dict[str, Any] | None) -> list[str]:
    if doc is None:
        return [f"## {title}: no result (step failed or timed out; see log.txt)", ""]
    lines = [f"## {title}", "", f"{doc['device']} · torch {doc['torch_version']} · {doc['date']}", ""]
    lines += _table(
        ["preset", "LQ", "batch", "backend", "prec", "mode", "ms", "unfused ms", "fused gain", "MP/s out",
         "peak MiB", "unfused peak MiB", "GMACs"],
        [[r["preset"], r["size"], r["batch"], r["resolved_backend"], r["precision"], r["mode"], r["latency_ms"],
          r["unfused_latency_ms"], r["fused_gain"], r["output_mpix_per_s"], r["peak_memory_mib"],
          r["unfused_peak_memory_mib"], r["gmacs_total"]] for r in doc["results"]])
    if doc["scaling"]:
        lines += _table(["preset", "backend", "prec", "mode", "sizes", "exponent", "ms / output MP", "spread"],
                        [[f["preset"], f["backend"], f["precision"], f["mode"], ",".join(map(str, f["sizes"])),
                          f["exponent"], ", ".join(f"{v:.1f}" for v in f["ms_per_output_mpix"]), f["spread"]]
                         for f in doc["scaling"]])
    return lines


def targets_section(omni: dict[str, Any] | None, presets: dict[str, Any] | None,
                    scaling: dict[str, Any] | None) -> list[str]:
    lines = ["## Targets (GPU fast path)", ""]
    rows = []
    if omni and omni["layers"]:
        base = "unfused_mamba_ssm" if omni.get("mamba_ssm") else "unfused_triton"
        fwd = min(r[f"gain_fwd_vs_{base}"] for r in omni["layers"] if r["precision"] == "fp32")
        bwd = min(r[f"gain_bwd_vs_{base}"] for r in omni["layers"] if r["precision"] == "fp32")
        floor = [r["fused_fwd_over_exp_floor"] for r in omni["layers"]
                 if r["precision"] == "fp32" and r["map"] == 64 and r["channels"] == 96]
        rows += [[f"layer fwd >= 3x vs {base} (worst fp32 case)", fwd, fwd >= 3],
                 [f"layer bwd >= 2x vs {base} (worst fp32 case)", bwd, bwd >= 2]]
        if floor:
            rows.append(["fused fwd within 2x of the exp floor (64² x 96)", floor[0], floor[0] <= 2])
    if presets:
        hits = [r for r in presets["results"] if r["preset"] == "realsr" and r["size"] == 256
                and r["precision"] == "bf16" and r["resolved_backend"] == "triton"]
        if hits:
            rows.append(["realsr 256² bf16 fwd >= 2x vs unfused", hits[0]["fused_gain"], hits[0]["fused_gain"] >= 2])
    if scaling:
        for f in scaling["scaling"]:
            per = f["ms_per_output_mpix"]
            mean = sum(per) / len(per)
            dev = max(abs(v / mean - 1) for v in per)  # largest deviation from the mean time per pixel
            rows.append([f"{f['preset']} {f['precision']} time/pixel within ±15% of its mean "
                         f"({','.join(map(str, f['sizes']))})", dev, dev <= 0.15])
    rows = [[name, value, "yes" if met else "**no**"] for name, value, met in rows]
    return lines + _table(["target", "measured", "met"], rows)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    env = _load(out / "triton_check.json") or _load(out / "omni_bench.json") or {}
    checks, omni = _load(out / "triton_check.json"), _load(out / "omni_bench.json")
    presets, scaling, train = (_load(out / f"bench_{n}.json") for n in ("presets", "scaling", "train"))
    lines = ["# vmambair GPU check", ""]
    if env.get("device") == "cpu":
        lines += ["**CPU smoke run** (Triton interpreter, toy sizes): it exercises every step; its timings say "
                  "nothing about GPU speed and the targets below are not meaningful.", ""]
    if env.get("environment"):
        lines += ["```", json.dumps(env["environment"], indent=1), "```", ""]
    lines += targets_section(omni, presets, scaling)
    lines += checks_section(checks) + cuda_paths_section(_load(out / "cuda_paths.json")) + omni_section(omni)
    lines += bench_section("Presets (vmambair bench)", presets)
    lines += bench_section("realsr scaling, bf16 (vmambair bench)", scaling)
    lines += bench_section("Training step (vmambair bench --train)", train)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
