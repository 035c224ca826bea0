#!/usr/bin/env bash
# One GPU run (about 8 minutes on an H100) that measures the "Fast path" issue's targets:
#   1. Triton kernels vs the float64 reference (forward + every gradient, odd sizes, L > block, bf16);
#   2. one omni-scan layer: tile sweep, fused vs unfused (copies + same scan; + mamba-ssm if importable),
#      64x64 and 128x128 maps with 48-384 channels, forward and backward;
#   3. `vmambair bench` for the three presets (fp32 + bf16, 64/128/256 LQ, fused vs unfused in the same run);
#   4. realsr bf16 scaling 128^2 .. 1024^2 LQ; 5. a realsr training step (batch 4 x 64^2);
#   6. summary.md with every table and a targets table.
# Everything lands in $OUT (JSON + markdown + log). Each step has its own timeout, and a failing step
# does not stop the later ones.
#
#   OUT=/some/dir bash benchmarks/gpu_check.sh             # on the GPU machine (pip install --no-deps -e .)
#   OUT=/tmp/smoke bash benchmarks/gpu_check.sh --cpu-smoke # same steps, toy sizes, CPU + Triton interpreter
set -uo pipefail

cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT"
# The device tool brings back at most 8 files from $OUT: keep the 7 results there (5 JSON, log.txt,
# summary.md); small working files (env, step status, best tiles) live in WORK and are copied into
# log.txt, whose "== steps ==" block lists each step's exit status and seconds.
WORK="${WORK:-$(mktemp -d)}"
MODE="gpu"
[[ "${1:-}" == "--cpu-smoke" ]] && MODE="cpu"
PY="${PYTHON:-python}"

log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/log.txt"; }
run_step() {  # run_step NAME TIMEOUT_S CMD...  (stdout+stderr appended to the log)
  local name="$1" limit="$2"; shift 2
  local t0=$SECONDS
  log "start $name (limit ${limit}s)"
  timeout --kill-after=10 "$limit" "$@" >>"$OUT/log.txt" 2>&1
  local rc=$?
  log "end $name rc=$rc after $((SECONDS - t0))s"
  echo "$name $rc $((SECONDS - t0))" >>"$WORK/steps.txt"
  return 0
}
bench_json() {  # bench_json OUTFILE TIMEOUT_S ARGS...  (JSON on stdout -> file, progress/errors -> log)
  local file="$1" limit="$2"; shift 2
  local t0=$SECONDS
  log "start bench -> $(basename "$file") (limit ${limit}s): $*"
  timeout --kill-after=10 "$limit" "$PY" -m vmambair_cli bench "$@" --json >"$file.tmp" 2>>"$OUT/log.txt"
  local rc=$?
  if [[ $rc -eq 0 ]]; then mv "$file.tmp" "$file"; else rm -f "$file.tmp"; fi
  log "end bench $(basename "$file") rc=$rc after $((SECONDS - t0))s"
  echo "$(basename "$file") $rc $((SECONDS - t0))" >>"$WORK/steps.txt"
}

: >"$WORK/steps.txt"
{
  date -u +"%Y-%m-%d %H:%M:%S UTC"
  git rev-parse HEAD 2>/dev/null || true
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)"
  "$PY" -c "import triton; print('triton', triton.__version__)" 2>&1 || true
  "$PY" -c "import selective_scan_cuda; print('mamba-ssm selective_scan_cuda: importable')" 2>/dev/null \
    || echo "mamba-ssm selective_scan_cuda: not importable (baseline = copies + our own kernel)"
} >"$WORK/env.txt" 2>&1
cat "$WORK/env.txt" | tee -a "$OUT/log.txt"

if [[ "$MODE" == "gpu" ]]; then
  DEV=cuda
  BACKENDS="triton"
  "$PY" -c "import selective_scan_cuda" 2>/dev/null && BACKENDS="triton,mamba_ssm"
  run_step triton_check 130 "$PY" benchmarks/gpu_triton_check.py --device cuda --out "$OUT/triton_check.json"
  run_step omni_bench 120 "$PY" benchmarks/gpu_omni_bench.py --device cuda --out "$OUT/omni_bench.json" \
    --tiles-out "$WORK/best_tiles.txt"
  if [[ -s "$WORK/best_tiles.txt" ]]; then
    export VMAMBAIR_TRITON_TILES="$(cat "$WORK/best_tiles.txt")"
    log "whole-network runs use VMAMBAIR_TRITON_TILES=$VMAMBAIR_TRITON_TILES"
  fi
  bench_json "$OUT/bench_presets.json" 130 --device cuda --preset realsr,sisr,derain --sizes 64,128,256 \
    --backend "$BACKENDS" --precision fp32,bf16 --repeats 10 --warmup 3
  bench_json "$OUT/bench_scaling.json" 80 --device cuda --preset realsr --sizes 128,256,512,1024 \
    --backend triton --precision bf16 --repeats 3 --warmup 1
  bench_json "$OUT/bench_train.json" 40 --device cuda --train --preset realsr --sizes 64 --batch 4 \
    --backend triton --precision fp32,bf16 --repeats 5 --warmup 2
else
  export TRITON_INTERPRET=1
  run_step triton_check 300 "$PY" benchmarks/gpu_triton_check.py --device cpu --out "$OUT/triton_check.json"
  run_step omni_bench 300 "$PY" benchmarks/gpu_omni_bench.py --device cpu --out "$OUT/omni_bench.json" \
    --tiles-out "$WORK/best_tiles.txt"
  bench_json "$OUT/bench_presets.json" 300 --device cpu --preset realsr --sizes 8 --backend reference \
    --precision fp32 --repeats 1 --warmup 0
  bench_json "$OUT/bench_scaling.json" 300 --device cpu --preset realsr --sizes 8,16 --backend reference \
    --precision bf16 --repeats 1 --warmup 0
  bench_json "$OUT/bench_train.json" 300 --device cpu --train --preset realsr --sizes 8 --backend reference \
    --repeats 1 --warmup 0
fi

"$PY" benchmarks/summarize.py "$OUT" >"$OUT/summary.md" 2>>"$OUT/log.txt"
log "summary written to $OUT/summary.md"
{ echo "== steps =="; cat "$WORK/steps.txt"; echo "== end steps =="; } | tee -a "$OUT/log.txt"
