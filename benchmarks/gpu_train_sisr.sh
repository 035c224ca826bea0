#!/usr/bin/env bash
# The first real weights on a GPU: train the sisr L1 stage on T91 within a
# fixed time budget, export fp16, score Set5/BSD100 against bicubic, and hand everything back through
# $OUT within the device tool's limits (at most 8 files, 16 MiB each: the ~24 MB fp16 export comes back
# as two shards; join them with `cat sisr.safetensors.part-* > sisr.safetensors` and check the SHA-256).
#
# ../shared does not travel to the device: first copy the data into the git-ignored gpu_data/ and carry it:
#   mkdir -p gpu_data/sr && cp -r ../shared/data/sr_train/T91 gpu_data/ && cp -r ../shared/data/sr/{Set5,BSD100} gpu_data/sr/
#   device run (carry: gpu_data):  OUT=$OUT bash benchmarks/gpu_train_sisr.sh
# Smoke test on CPU (toy network, a few iterations):
#   SMOKE=1 OUT=/tmp/smoke DATA=gpu_data bash benchmarks/gpu_train_sisr.sh
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"  # the checkout, not an installed project (no network there)
OUT="${OUT:-$PWD/gpu_train_out}"
DATA="${DATA:-gpu_data}"
MINUTES="${MINUTES:-7}"
PY="${PYTHON:-python}"
RUN="${RUN:-$(mktemp -d)/sisr-l1-t91}"
mkdir -p "$OUT"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$OUT/log.txt"; }

if [[ "${SMOKE:-0}" == "1" ]]; then
  DEVICE=cpu; EXTRA=(--model-dim 8 --model-blocks 1 --iters 4 --batch-size 2 --patch-size 32 --workers 0
                     --val-every 2 --save-every 2); LIMIT=(--limit 2)
else
  DEVICE=cuda; EXTRA=(--iters 100000 --batch-size 16 --patch-size 128 --workers 8 --val-every 1000
                      --save-every 1000 --precision bf16); LIMIT=()
fi

{
  date -u +"%Y-%m-%d %H:%M:%S UTC"; git rev-parse HEAD 2>/dev/null || true
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
} 2>&1 | tee -a "$OUT/log.txt"

if [[ "$DEVICE" == "cuda" ]]; then  # every import from this checkout, a GPU, the kernel self-test; else stop
  timeout --kill-after=10 60 "$PY" benchmarks/gpu_preflight.py 2>&1 | tee -a "$OUT/log.txt"
  rc=${PIPESTATUS[0]}
  if [[ $rc -ne 0 ]]; then log "preflight failed (rc=$rc): nothing trained"; exit 1; fi
fi
log "train: sisr L1 on $DATA/T91 for at most $MINUTES min on $DEVICE"
t0=$SECONDS
"$PY" -m vmambair_cli train --task sisr --data "$DATA/T91" --val "$DATA/sr/Set5" -o "$RUN" --device "$DEVICE" \
  --max-minutes "$MINUTES" --export-fp16 --quiet "${EXTRA[@]}" >>"$OUT/log.txt" 2>&1
log "train rc=$? after $((SECONDS - t0))s"
cp "$RUN/metrics.csv" "$OUT/metrics.csv" 2>/dev/null || true
if [[ ! -s "$RUN/model.safetensors" ]]; then
  log "no export: see log.txt"; exit 1
fi
sha256sum "$RUN/model.safetensors" | tee -a "$OUT/log.txt"
split -b 15m -d "$RUN/model.safetensors" "$OUT/sisr.safetensors.part-"

for what in model bicubic; do
  if [[ $what == model ]]; then args=(--task sisr --weights "$RUN/model.safetensors" --device "$DEVICE"); else args=(--model bicubic); fi
  "$PY" -m vmambair_cli eval --bench Set5,BSD100 --data-root "$DATA/sr" "${args[@]}" "${LIMIT[@]}" --json \
    >"$OUT/eval_$what.json" 2>>"$OUT/log.txt"
  log "eval $what rc=$?"
done
ls -la "$OUT" | tee -a "$OUT/log.txt"
