#!/usr/bin/env bash
# Reproduce `realsr-lite-mix` (the fidelity realsr model): realsr-lite fine-tuned with L1 on a batch mix of
# the Real-ESRGAN second-order degradation and, per image with probability p, the mild one
# (vmambair_core/data/degrade/mild.py, the same function as the BSD100-mild benchmark), so that lightly
# degraded photos are no longer over-smoothed; then deepened to two blocks per level and trained on.
# Eight steps, each a resumable run whose export the next one starts from (all in ../runs):
#   A:  from realsr-lite, one block per level, p = 0.4, 1500 iterations, Adam 2e-4  -> realsr-lite-mix-a
#   B:  from A, p = 0.6, 3000 iterations, Adam 2e-4                                 -> realsr-lite-mix-b
#   grow: B deepened to two blocks per level, the new blocks identity (benchmarks/grow_weights.py:
#       the file computes exactly what B computes)                                  -> realsr-lite-mix-g0
#   G1: p = 0.6, 3000 iterations, Adam 2e-4                                         -> realsr-lite-mix-g1
#   G2: p = 0.6, 2400 iterations, Adam 1e-4                                         -> realsr-lite-mix-g2
#       (the GAN stage, train_realsr_lite_gan.sh, starts from this file)
#   G3: p = 0.7, 2400 iterations, Adam 1e-4, seed 3                                 -> realsr-lite-mix-g3
#   G4: p = 0.8, 1800 iterations, Adam 1e-4, seed 4                                 -> realsr-lite-mix-g4
#   G5: p = 0.8, 1200 iterations, Adam 5e-5, seed 5                                 -> weights/realsr-lite-mix
# (Adam halved at 50 % and 70 % of each step's iterations; batch 8 x 128 px from 256-px HR crops), then G5 is
# scored on BSD100-mild and BSD100-realesrgan beside bicubic of the same LQ.
#
#   bash benchmarks/train_realsr_lite_mix.sh                # CPU (needs weights/realsr-lite.safetensors)
#   DEVICE=cuda bash benchmarks/train_realsr_lite_mix.sh    # GPU
# An interrupted step continues when the same command is run again.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${RUNS:-$ROOT/../runs}"
mkdir -p "$RUNS"
export TASK=realsr STAGE=l1 DIM=16 BATCH="${BATCH:-8}" PATCH="${PATCH:-128}"
export VAL="${VAL:-$ROOT/../shared/data/sr/Set5/HR}"
export BENCHES="${BENCHES:-BSD100-mild,BSD100-realesrgan}"

step() {  # step NAME INIT BLOCKS ITERS LR MILD_PROB SEED [EXPORT EVAL]: one resumable L1 run, skipped once finished
  local export="${8:-$RUNS/$1.safetensors}" conf
  # finished = the run's own export exists (EXPORT may be the shipped file, present in every checkout)
  [[ -f "$RUNS/$1/model.safetensors" && -f "$export" ]] && return 0
  conf="$(mktemp -d)/$1.toml"
  printf '[data]\nhr_crop = 256\npool_size = 32\n[mild]\nprob = %s\n' "$6" >"$conf"
  NAME="$1" INIT="$2" BLOCKS="$3" ITERS="$4" LR="$5" SEED="$7" RUN="$RUNS/$1" EXPORT="$export" EVAL="${9:-0}" \
    VAL_EVERY=600 EXTRA_TRAIN_CONFIG="$conf" bash "$ROOT/benchmarks/lite_train.sh"
  [[ -f "$RUNS/$1/model.safetensors" ]] || { echo "$1 is not finished yet: run the same command again to continue it" >&2; exit 0; }
}

step realsr-lite-mix-a realsr-lite 1 1500 2e-4 0.4 0
step realsr-lite-mix-b "$RUNS/realsr-lite-mix-a.safetensors" 1 3000 2e-4 0.6 0
[[ -f "$RUNS/realsr-lite-mix-g0.safetensors" ]] || "${PYTHON:-python}" "$ROOT/benchmarks/grow_weights.py" \
  "$RUNS/realsr-lite-mix-b.safetensors" "$RUNS/realsr-lite-mix-g0.safetensors" --blocks 2
step realsr-lite-mix-g1 "$RUNS/realsr-lite-mix-g0.safetensors" 2 3000 2e-4 0.6 0
step realsr-lite-mix-g2 "$RUNS/realsr-lite-mix-g1.safetensors" 2 2400 1e-4 0.6 0
step realsr-lite-mix-g3 "$RUNS/realsr-lite-mix-g2.safetensors" 2 2400 1e-4 0.7 3
step realsr-lite-mix-g4 "$RUNS/realsr-lite-mix-g3.safetensors" 2 1800 1e-4 0.8 4
step realsr-lite-mix "$RUNS/realsr-lite-mix-g4.safetensors" 2 1200 5e-5 0.8 5 "$ROOT/weights/realsr-lite-mix.safetensors" 1
