#!/usr/bin/env bash
# Reproduce `realsr-lite-mix` (the fidelity realsr model): realsr-lite fine-tuned with L1 on a batch mix of
# the Real-ESRGAN second-order degradation and, per image with probability p, the mild one
# (vmambair_core/data/degrade/mild.py, the same function as the BSD100-mild benchmark), so that lightly
# degraded photos are no longer over-smoothed. Two stages, each a resumable run:
#   A: from realsr-lite, p = 0.4, 1500 iterations   -> ../runs/realsr-lite-mix-a.safetensors
#      (the GAN stage, train_realsr_lite_gan.sh, starts from this file)
#   B: from A, p = 0.6, 3000 iterations             -> weights/realsr-lite-mix.safetensors
# then B is scored on BSD100-mild and BSD100-realesrgan beside bicubic of the same LQ.
#
#   bash benchmarks/train_realsr_lite_mix.sh                # CPU (needs weights/realsr-lite.safetensors)
#   DEVICE=cuda bash benchmarks/train_realsr_lite_mix.sh    # GPU
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STAGE_A="${STAGE_A:-$ROOT/../runs/realsr-lite-mix-a.safetensors}"
export TASK=realsr STAGE=l1 DIM=16 BLOCKS=1 BATCH="${BATCH:-8}" PATCH="${PATCH:-128}" LR="${LR:-2e-4}"
export VAL="${VAL:-$ROOT/../shared/data/sr/Set5/HR}"
export BENCHES="${BENCHES:-BSD100-mild,BSD100-realesrgan}"

stage() {  # stage NAME INIT ITERS MILD_PROB VAL_EVERY EXPORT EVAL
  local conf; conf="$(mktemp -d)/$1.toml"
  printf '[data]\nhr_crop = 256\npool_size = 32\n[mild]\nprob = %s\n' "$4" >"$conf"
  NAME="$1" INIT="$2" ITERS="$3" VAL_EVERY="$5" EXPORT="$6" EVAL="$7" EXTRA_TRAIN_CONFIG="$conf" \
    bash "$(dirname "$0")/lite_train.sh"
}

[[ -f "$STAGE_A" ]] || stage realsr-lite-mix-a realsr-lite "${ITERS_A:-1500}" 0.4 250 "$STAGE_A" 0
[[ -f "$STAGE_A" ]] || { echo "stage A is not finished yet: run the same command again to continue it" >&2; exit 0; }
stage realsr-lite-mix "$STAGE_A" "${ITERS_B:-3000}" "${MILD_PROB:-0.6}" 500 "$ROOT/weights/realsr-lite-mix.safetensors" 1
