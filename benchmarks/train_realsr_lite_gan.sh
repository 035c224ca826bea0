#!/usr/bin/env bash
# Reproduce `realsr-lite-gan` (the perceptual realsr model): the GAN stage on top of the fidelity model's
# lineage (step G2 of train_realsr_lite_mix.sh, two blocks per level), on a CPU.
# No VGG19 file can be downloaded here, so the perceptual term is the discriminator's feature matching
# (pix2pixHD); the U-Net discriminator with spectral norm is narrowed to DISC features; the GAN weight is
# Real-ESRGAN's 0.1; a penalty on the output's period-4 pattern (loss.pattern) and the EMA
# weights keep the pixel-shuffle checkerboard away; GT is USM-sharpened for the pixel term as in Real-ESRGAN;
# a MILD_PROB share of the images gets the mild degradation. Scored on BSD100-realesrgan/BSD100-mild (PSNR)
# and RealSRSet (NIQE and the fixed-pattern amplitude) by benchmarks/realsr_quality.sh.
#
#   bash benchmarks/train_realsr_lite_gan.sh                # CPU, from step G2 of train_realsr_lite_mix.sh
#   GAN_WEIGHT=0.05 LR=5e-5 INIT=realsr-lite BLOCKS=1 ...   # the slower variant tried (g1 in the model card)
#   DEVICE=cuda bash benchmarks/train_realsr_lite_gan.sh    # GPU
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
export NAME="${NAME:-realsr-lite-gan}" TASK=realsr STAGE=gan INIT="${INIT:-$ROOT/../runs/realsr-lite-mix-g2.safetensors}"
[[ "$INIT" != */* || -f "$INIT" ]] || { echo "$INIT is missing: run benchmarks/train_realsr_lite_mix.sh first (its step G2)" >&2; exit 2; }
export DIM=16 BLOCKS="${BLOCKS:-2}" ITERS="${ITERS:-1000}" BATCH="${BATCH:-4}" PATCH="${PATCH:-128}" LR="${LR:-1e-4}"
export VAL="${VAL:-$ROOT/../shared/data/sr/Set5/HR}" VAL_EVERY="${VAL_EVERY:-250}"
export BENCHES="${BENCHES:-BSD100-realesrgan,BSD100-mild,RealSRSet}"
CONF="$(mktemp -d)/$NAME.toml"
cat >"$CONF" <<TOML
[data]
hr_crop = 256
pool_size = 32
[loss]
perceptual = 0.0
gan = ${GAN_WEIGHT:-0.1}
feature_matching = ${FM_WEIGHT:-1.0}
pattern = ${PATTERN_WEIGHT:-10.0}
usm_gt = true
disc_features = ${DISC:-32}
[mild]
prob = ${MILD_PROB:-0.3}
TOML
export EXTRA_TRAIN_CONFIG="$CONF"
exec bash "$(dirname "$0")/lite_train.sh"
