#!/usr/bin/env bash
# Reproduce the grown fidelity trial in the model card (not shipped): `realsr-lite-mix` (stage B) deepened to
# two blocks per level with identity blocks (benchmarks/grow_weights.py: the file computes exactly what
# realsr-lite-mix computes), then trained with stage B's data recipe (60 % mild images):
#   G1: 3000 iterations, Adam 2e-4 halved at 1500 and 2100    -> ../runs/realsr-lite-grown-1.safetensors
#   G2: from G1, 2400 iterations, Adam 1e-4 halved at 1200, 1680 -> ../runs/realsr-lite-grown-2.safetensors
# each scored on BSD100-mild and BSD100-realesrgan beside bicubic. Each stage is a resumable run.
#
#   bash benchmarks/train_realsr_lite_grown.sh                # CPU
#   DEVICE=cuda bash benchmarks/train_realsr_lite_grown.sh    # GPU
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
RUNS="${RUNS:-$ROOT/../runs}"
mkdir -p "$RUNS"
GROWN="$RUNS/realsr-lite-grown-0.safetensors"
[[ -f "$GROWN" ]] || "${PYTHON:-python}" "$ROOT/benchmarks/grow_weights.py" realsr-lite-mix "$GROWN" --blocks 2
export TASK=realsr STAGE=l1 DIM=16 BLOCKS=2 BATCH="${BATCH:-8}" PATCH="${PATCH:-128}"
export VAL="${VAL:-$ROOT/../shared/data/sr/Set5/HR}" VAL_EVERY=600
export BENCHES="${BENCHES:-BSD100-mild,BSD100-realesrgan}"
CONF="$(mktemp -d)/grown.toml"
printf '[data]\nhr_crop = 256\npool_size = 32\n[mild]\nprob = 0.6\n' >"$CONF"

stage() {  # stage NAME INIT ITERS LR
  NAME="$1" INIT="$2" ITERS="$3" LR="$4" RUN="$RUNS/$1" EXPORT="$RUNS/$1.safetensors" EXTRA_TRAIN_CONFIG="$CONF" \
    bash "$ROOT/benchmarks/lite_train.sh"
}
[[ -f "$RUNS/realsr-lite-grown-1.safetensors" ]] || stage realsr-lite-grown-1 "$GROWN" 3000 2e-4
[[ -f "$RUNS/realsr-lite-grown-1.safetensors" ]] || exit 0  # unfinished: run the same command again
stage realsr-lite-grown-2 "$RUNS/realsr-lite-grown-1.safetensors" 2400 1e-4
