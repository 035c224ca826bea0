#!/usr/bin/env bash
# One GPU run (at most ~11.5 minutes of step limits, Triton compiles included) that measures the GPU
# fast path against its targets:
#   0. preflight: every module imports from this checkout (no install step: the GPU machine has no network),
#      a CUDA GPU is there, and auto's kernel self-test passes (else the run stops before measuring nothing);
#   1. Triton kernels vs the float64 reference (forward + every gradient, odd sizes, L = 4096 and > 65536, bf16);
#   2. one omni-scan layer: tile sweep, fused vs unfused (copies + same scan; + mamba-ssm if importable),
#      64x64 and 128x128 maps with 48-384 channels, forward and backward;
#   3. `vmambair bench` for the three presets (fp32 + bf16, 64/128/256 LQ, fused vs unfused in the same run);
#   4. realsr bf16 scaling 128^2 .. 1024^2 LQ; 5. a realsr training step (batch 4 x 64^2);
#   6. `vmambair train --task realsr --device cuda` for a few iterations on synthetic HR images: the
#      single-GPU real-world-degradation path (an unindexed "cuda" device), which no other step runs;
#   7. the CUDA paths the CPU tests only simulate (benchmarks/gpu_cuda_paths.py): the self-test of every
#      scan-kernel variant the presets compile (tiles x fp32/bf16/fp16, forward and backward), auto's
#      precision per GPU, the checkpoint RNG state on the real generators; a bf16 `vmambair restore
#      --device cuda:0` compared with fp32; `vmambair bench --device cuda:0` (the scaling run); a tiny
#      training run resumed with fewer GPUs visible (2+ GPUs: saved on cuda:1 of two, resumed with only
#      that one visible; one GPU: resumed with none, on the CPU);
#   8. summary.md with every table and a targets table.
# Everything lands in $OUT (JSON + markdown + log). Each step has its own timeout and saves as it goes; a
# failing step does not stop the later ones. Budget: a Triton kernel compile took 1.4-6 s per kernel on a
# 2-core CPU (benchmarks/triton_aot.py); steps 1-2 compile ~20-30 kernels each, inside their limits.
#
#   OUT=/some/dir bash benchmarks/gpu_check.sh             # on the GPU machine, from the checkout as it is
#   OUT=/tmp/smoke bash benchmarks/gpu_check.sh --cpu-smoke # same steps, toy sizes, CPU + Triton interpreter
set -uo pipefail

cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the checkout, not an installed project
OUT="${OUT:-$PWD/gpu_check_out}"
mkdir -p "$OUT"
# The device tool brings back at most 8 files from $OUT: keep the 8 results there (6 JSON, log.txt,
# summary.md); small working files (env, step status, best tiles, images) live in WORK and are copied into
# log.txt, whose "== steps ==" block lists each step's exit status and seconds.
WORK="${WORK:-$(mktemp -d)}"
MODE="gpu"
SLOW=1  # the CPU smoke run's limits are longer: one shared CPU, the Triton interpreter
[[ "${1:-}" == "--cpu-smoke" ]] && MODE="cpu" && SLOW=5
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
restore_bf16() {  # restore_bf16 DEVICE IMAGE: `vmambair restore` in bf16 and in fp32, outputs compared
  run_step restore_bf16 $((60 * SLOW)) "$PY" benchmarks/gpu_util.py restore-bf16 "$1" "$2" "$WORK/restored"
}
resume_fewer_gpus() {  # resume_fewer_gpus SAVE_ENV SAVE_DEVICE RESUME_ENV RESUME_DEVICE: tiny sisr run, then --resume
  local args=(-m vmambair_cli train --task sisr --data "$WORK/realsr_hr" -o "$WORK/resume_run" --batch-size 2
              --patch-size 64 --workers 0 --val-every 1000 --save-every 1000 --model-dim 8 --model-blocks 1 --quiet)
  run_step resume_train $((50 * SLOW)) env "$1" "$PY" "${args[@]}" --iters 2 --device "$2"
  run_step resume_fewer_gpus $((50 * SLOW)) env "$3" "$PY" "${args[@]}" --iters 3 --device "$4" --resume
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

log "start preflight (limit 60s)"
SMOKE_FLAG=(); [[ "$MODE" == "cpu" ]] && SMOKE_FLAG=(--cpu-smoke)
timeout --kill-after=10 60 "$PY" benchmarks/gpu_preflight.py "${SMOKE_FLAG[@]}" 2>&1 | tee -a "$OUT/log.txt"
preflight_rc=${PIPESTATUS[0]}
echo "preflight $preflight_rc" >>"$WORK/steps.txt"
if [[ "$preflight_rc" != "0" ]]; then
  log "preflight failed (rc=$preflight_rc, see above): nothing measured"
  { echo "== steps =="; cat "$WORK/steps.txt"; echo "== end steps =="; } | tee -a "$OUT/log.txt"
  exit 1
fi
"$PY" benchmarks/gpu_util.py images "$WORK/realsr_hr" 8 256 >>"$OUT/log.txt" 2>&1

if [[ "$MODE" == "gpu" ]]; then
  DEV=cuda
  BACKENDS="triton"
  "$PY" -c "import selective_scan_cuda" 2>/dev/null && BACKENDS="triton,mamba_ssm"
  run_step triton_check 80 "$PY" benchmarks/gpu_triton_check.py --device cuda --out "$OUT/triton_check.json"
  run_step cuda_paths 120 "$PY" benchmarks/gpu_cuda_paths.py --device cuda --out "$OUT/cuda_paths.json"
  run_step omni_bench 80 "$PY" benchmarks/gpu_omni_bench.py --device cuda --out "$OUT/omni_bench.json" \
    --tiles-out "$WORK/best_tiles.txt"
  if [[ -s "$WORK/best_tiles.txt" ]]; then
    export VMAMBAIR_TRITON_TILES="$(cat "$WORK/best_tiles.txt")"
    log "whole-network runs use VMAMBAIR_TRITON_TILES=$VMAMBAIR_TRITON_TILES"
  fi
  bench_json "$OUT/bench_presets.json" 75 --device cuda --preset realsr,sisr,derain --sizes 64,128,256 \
    --backend "$BACKENDS" --precision fp32,bf16 --repeats 10 --warmup 3
  bench_json "$OUT/bench_scaling.json" 35 --device cuda:0 --preset realsr --sizes 128,256,512,1024 \
    --backend triton --precision bf16 --repeats 3 --warmup 1  # an indexed device: the timing stream is its own
  bench_json "$OUT/bench_train.json" 30 --device cuda --train --preset realsr --sizes 64 --batch 4 \
    --backend triton --precision fp32,bf16 --repeats 5 --warmup 2
  # "cuda", not "cuda:0": a single-process run must resolve an unindexed device (training once failed on it).
  run_step realsr_train 45 "$PY" -m vmambair_cli train --task realsr --data "$WORK/realsr_hr" -o "$WORK/realsr_run" --overwrite \
    --device cuda --iters 4 --batch-size 4 --patch-size 128 --workers 0 --val-every 1000 --save-every 1000 --quiet
  restore_bf16 cuda:0 "$WORK/realsr_hr/000.png"
  NGPU=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')
  if (( NGPU >= 2 )); then  # saved on the second of two GPUs, resumed where only that one is visible
    resume_fewer_gpus "CUDA_VISIBLE_DEVICES=0,1" cuda:1 "CUDA_VISIBLE_DEVICES=1" cuda:0
  else  # one GPU: saved on it, resumed where none is visible
    resume_fewer_gpus "CUDA_VISIBLE_DEVICES=0" cuda "CUDA_VISIBLE_DEVICES=" cpu
  fi
else
  export TRITON_INTERPRET=1
  run_step triton_check 300 "$PY" benchmarks/gpu_triton_check.py --device cpu --out "$OUT/triton_check.json"
  run_step cuda_paths 300 "$PY" benchmarks/gpu_cuda_paths.py --device cpu --out "$OUT/cuda_paths.json"
  run_step omni_bench 300 "$PY" benchmarks/gpu_omni_bench.py --device cpu --out "$OUT/omni_bench.json" \
    --tiles-out "$WORK/best_tiles.txt"
  bench_json "$OUT/bench_presets.json" 300 --device cpu --preset realsr --sizes 8 --backend reference \
    --precision fp32 --repeats 1 --warmup 0
  bench_json "$OUT/bench_scaling.json" 300 --device cpu --preset realsr --sizes 8,16 --backend reference \
    --precision bf16 --repeats 1 --warmup 0
  bench_json "$OUT/bench_train.json" 300 --device cpu --train --preset realsr --sizes 8 --backend reference \
    --repeats 1 --warmup 0
  run_step realsr_train 300 "$PY" -m vmambair_cli train --task realsr --data "$WORK/realsr_hr" -o "$WORK/realsr_run" --overwrite \
    --device cpu --iters 2 --batch-size 2 --patch-size 64 --workers 0 --val-every 1000 --save-every 1000 \
    --model-dim 8 --model-blocks 1 --quiet
  "$PY" benchmarks/gpu_util.py images "$WORK/small_lq" 1 24 >>"$OUT/log.txt" 2>&1
  restore_bf16 cpu "$WORK/small_lq/000.png"
  resume_fewer_gpus "CUDA_VISIBLE_DEVICES=" cpu "CUDA_VISIBLE_DEVICES=" cpu
fi
{ echo "== realsr_train metrics =="; cat "$WORK/realsr_run/metrics.csv" 2>/dev/null || echo "(none)"; } >>"$OUT/log.txt"

"$PY" benchmarks/summarize.py "$OUT" >"$OUT/summary.md" 2>>"$OUT/log.txt"
log "summary written to $OUT/summary.md"
{ echo "== steps =="; cat "$WORK/steps.txt"; echo "== end steps =="; } | tee -a "$OUT/log.txt"
