#!/usr/bin/env bash
# Shared body of train_sisr_lite.sh / train_realsr_lite.sh: train (or continue) one lite model, export it in
# fp16 into weights/, print its SHA-256 and parameter count, and score it beside its baseline with
# `vmambair eval`. Not meant to be run directly: the per-model scripts set NAME, TASK and the defaults.
#
# Every run goes to $RUN (outside the checkout). Running the same script again continues an unfinished
# run with --resume (the config is the checkpoint's; only DEVICE and MAX_MINUTES apply), so a training
# budget can be spread over several sessions. Wall time of each invocation is appended to $RUN/walltime.tsv.
set -euo pipefail
: "${NAME:?}" "${TASK:?}" "${DIM:?}" "${BLOCKS:?}" "${ITERS:?}" "${BATCH:?}" "${PATCH:?}" "${LR:?}" "${VAL:?}" "${BENCHES:?}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
DATA="$SHARED/data"
DEVICE="${DEVICE:-cpu}"
SEED="${SEED:-0}"
RUN="${RUN:-$ROOT/../runs/$NAME}"
EXPORT="${EXPORT:-$ROOT/weights/$NAME.safetensors}"
PY="${PYTHON:-python}"
VAL_EVERY="${VAL_EVERY:-500}"
SAVE_EVERY="${SAVE_EVERY:-250}"
EVAL="${EVAL:-1}"
WORKERS="${WORKERS:-1}"
CONFIG=(); [[ -n "${EXTRA_TRAIN_CONFIG:-}" ]] && CONFIG=(--config "$EXTRA_TRAIN_CONFIG")
LIMIT=(); [[ -n "${EVAL_LIMIT:-}" ]] && LIMIT=(--limit "$EVAL_LIMIT")
MAX=(); [[ -n "${MAX_MINUTES:-}" ]] && MAX=(--max-minutes "$MAX_MINUTES")
[[ -n "${STOP_AT:-}" ]] && MAX+=(--stop-at "$STOP_AT")  # export at this iteration of the planned ITERS schedule
STAGE_ARGS=(--stage "${STAGE:-l1}"); [[ -n "${INIT:-}" ]] && STAGE_ARGS+=(--init "$INIT")  # fine-tune from INIT

log() { echo "[$(date -u +%H:%M:%S)] $*" >&2; }
machine() {  # where the time was measured, for the registry's "machine" field
  local cpu; cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1)
  echo "$(uname -m), $(getconf _NPROCESSORS_ONLN) cores${cpu:+ ($cpu)}, torch $("$PY" -c 'import torch; print(torch.__version__)')"
}
finished_iteration() {  # the newest checkpoint's iteration (0 when none)
  local latest="$RUN/checkpoints/latest"
  [[ -f "$latest" ]] && { sed -E 's/^iter_0*//; s/^$/0/' "$latest"; return; }
  echo 0
}

mkdir -p "$RUN"
t0=$SECONDS
if [[ -f "$RUN/checkpoints/latest" ]]; then
  log "$NAME: continuing $RUN from iteration $(finished_iteration) on $DEVICE"
  CMD=("$PY" -m vmambair_cli train -o "$RUN" --resume --device "$DEVICE" --workers "$WORKERS" "${MAX[@]}" --quiet)
else
  log "$NAME: new run in $RUN on $DEVICE (dim $DIM, blocks $BLOCKS, $ITERS iters, batch $BATCH x $PATCH px, lr $LR)"
  CMD=("$PY" -m vmambair_cli train --task "$TASK" "${STAGE_ARGS[@]}" -o "$RUN" --device "$DEVICE" --workers "$WORKERS" \
    --data "$DATA/sr_train/T91" --data "$DATA/sr_train/BSD200" --val "$VAL" \
    --model-dim "$DIM" --model-blocks "$BLOCKS" --iters "$ITERS" --batch-size "$BATCH" --patch-size "$PATCH" \
    --lr "$LR" --seed "$SEED" --val-every "$VAL_EVERY" --save-every "$SAVE_EVERY" --export-fp16 \
    "${CONFIG[@]}" "${MAX[@]}" --quiet)
  [[ -n "${EXTRA_TRAIN_CONFIG:-}" ]] && cp "$EXTRA_TRAIN_CONFIG" "$RUN/extra_config.toml"
fi
if [[ -n "${STOP_AT:-}" ]] && (( $(finished_iteration) >= STOP_AT )); then
  log "$NAME: $RUN is already at iteration $(finished_iteration) (STOP_AT $STOP_AT): exporting it"
else
  echo "${CMD[*]}" >>"$RUN/commands.txt"  # the exact commands, for the registry's training_command
  "${CMD[@]}"
fi
printf '%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$((SECONDS - t0))" "$DEVICE" "$(machine)" >>"$RUN/walltime.tsv"
done_at=$(finished_iteration)
total=$(awk -F'\t' '{s += $2} END {print s}' "$RUN/walltime.tsv")
if (( done_at < ${STOP_AT:-$ITERS} )); then
  log "$NAME: stopped at iteration $done_at of ${STOP_AT:-$ITERS} after ${total}s in all; run the same command again to continue"
  exit 0
fi

cp "$RUN/model.safetensors" "$EXPORT"
"$PY" - "$EXPORT" <<'PYEOF'
import dataclasses, json, sys
from vmambair_core.models import build_model
from vmambair_core.weights import read_weights
from vmambair_core.weights.metadata import config_from_metadata
from vmambair_core.weights.registry import sha256_of
path = sys.argv[1]
cfg = config_from_metadata(read_weights(path).metadata)
params = sum(p.numel() for p in build_model(cfg).parameters())
print(json.dumps({"file": path, "sha256": sha256_of(path), "parameters": params, "network": dataclasses.asdict(cfg)}, indent=2))
PYEOF
log "$NAME: exported $EXPORT; total training wall time ${total}s (per session in $RUN/walltime.tsv)"

if [[ "$EVAL" == "1" ]]; then
  for model in vmambair "${BASELINE:-bicubic}"; do
    w=(); [[ $model == vmambair ]] && w=(-t "$TASK" -w "$EXPORT")
    "$PY" -m vmambair_cli eval --bench "$BENCHES" --data-root "$DATA" --model "$model" "${w[@]}" --no-lpips \
      --device "$DEVICE" "${LIMIT[@]}" --json >"$RUN/eval_$model.json"
    "$PY" -c "import json,sys; [print(f\"{r['benchmark']:<18} {r['model']:<40} PSNR {r['mean']['psnr']:.2f} SSIM {r['mean']['ssim']:.4f} ({r['convention']['text']})\") for r in json.load(open(sys.argv[1]))['results']]" "$RUN/eval_$model.json"
  done
fi
