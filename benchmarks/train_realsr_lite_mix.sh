#!/usr/bin/env bash
# Reproduce `realsr-lite-mix` (the fidelity realsr model): realsr-lite fine-tuned with L1 on a batch mix of
# the Real-ESRGAN second-order degradation and, per image with probability MILD_PROB, the mild one
# (vmambair_core/data/degrade/mild.py, the same function as the BSD100-mild benchmark), so that lightly
# degraded photos are no longer over-smoothed. Exported to weights/realsr-lite-mix.safetensors, then scored
# on BSD100-mild and BSD100-realesrgan beside bicubic of the same LQ.
#
#   bash benchmarks/train_realsr_lite_mix.sh                # CPU (needs weights/realsr-lite.safetensors)
#   DEVICE=cuda bash benchmarks/train_realsr_lite_mix.sh    # GPU
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export NAME="${NAME:-realsr-lite-mix}" TASK=realsr STAGE=l1 INIT="${INIT:-realsr-lite}"
export DIM=16 BLOCKS=1 ITERS="${ITERS:-1500}" BATCH="${BATCH:-8}" PATCH="${PATCH:-128}" LR="${LR:-2e-4}"
export VAL="${VAL:-$ROOT/../shared/data/sr/Set5/HR}" VAL_EVERY="${VAL_EVERY:-250}"
export BENCHES="${BENCHES:-BSD100-mild,BSD100-realesrgan}"
CONF="$(mktemp -d)/$NAME.toml"
printf '[data]\nhr_crop = 256\npool_size = 32\n[mild]\nprob = %s\n' "${MILD_PROB:-0.4}" >"$CONF"
export EXTRA_TRAIN_CONFIG="$CONF"
exec bash "$(dirname "$0")/lite_train.sh"
