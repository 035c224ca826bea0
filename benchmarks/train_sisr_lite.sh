#!/usr/bin/env bash
# Reproduce the `sisr-lite` weights (bicubic x4 SR) from a fresh clone: L1 training of a compact VmambaIR
# (the sisr preset's design at DIM width and BLOCKS blocks per level) on T91 + BSD200 (the 291 images),
# validated on Set5, exported in fp16 to weights/sisr-lite.safetensors, then scored on Set5, Set14 and
# BSD100 beside bicubic (Y, MATLAB, crop 4).
#
#   bash benchmarks/train_sisr_lite.sh                      # CPU (the shipped weights were trained so)
#   DEVICE=cuda bash benchmarks/train_sisr_lite.sh          # the same recipe on a GPU
#   MAX_MINUTES=170 bash benchmarks/train_sisr_lite.sh      # stop in time; run again to continue (--resume)
#
# Needs ../shared/data beside the checkout (or SHARED=/path/to/shared). The run folder is ../runs/sisr-lite
# (RUN=...). Afterwards copy the printed sha256/parameters/network and the scores into weights/registry.json.
# The defaults are the configuration the shipped sisr-lite run uses (dim 16, 1 block per level, 10k iterations
# planned, batch 16 x 96-px GT patches, Adam 5e-4, the recipe's MultiStep halvings rescaled to 5k/7k, EMA 0.999).
# The first shipped export stopped early (see weights/registry.json: iterations and wall time).
set -euo pipefail
export NAME=sisr-lite TASK=sisr
export DIM="${DIM:-16}" BLOCKS="${BLOCKS:-1}" ITERS="${ITERS:-10000}" BATCH="${BATCH:-16}" PATCH="${PATCH:-96}"
export LR="${LR:-5e-4}"
export VAL="${VAL:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data/sr/Set5}"
export BENCHES="${BENCHES:-Set5,Set14,BSD100}"
exec bash "$(dirname "$0")/lite_train.sh"
