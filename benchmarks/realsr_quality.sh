#!/usr/bin/env bash
# The realsr quality table of the model card: for each method, PSNR/SSIM on BSD100-realesrgan (heavy) and
# BSD100-mild (light), NIQE and the fixed-pattern amplitude on the 20 RealSRSet photos (both lower is
# better), seconds per image, parameters. One `vmambair eval --json` per method into $OUT, then a table.
#
#   bash benchmarks/realsr_quality.sh bicubic realsr-lite realsr-lite-mix x4plus=../shared/peers/RealESRGAN_x4plus_fp16.pth
#   bash benchmarks/realsr_quality.sh 'blend0.5=realsr-lite-gan@0.5'      # --strength 0.5 with its registry partner
#   PARTNER=fidelity.safetensors bash benchmarks/realsr_quality.sh 'b0.5=gan.safetensors@0.5'  # two files
#
# A method is `bicubic`, a registry name, a weights file (VmambaIR or Real-ESRGAN), LABEL=SPEC, or
# LABEL=SPEC@S (the blend --strength S of SPEC with its partner: the registry's, or the file $PARTNER).
# Results already in $OUT are reused (delete a JSON to measure it again). OMP threads default to 1 (shared
# machines); time per image is the method call alone, on whatever else this machine was doing.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/../runs/realsr_quality}"
DATA="${DATA:-$ROOT/../shared/data}"
BENCHES="${BENCHES:-BSD100-realesrgan,BSD100-mild,RealSRSet}"
PY="${PYTHON:-python}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
mkdir -p "$OUT"
files=()
for method in "$@"; do
  label="${method%%=*}"; spec="${method#*=}"
  json="$OUT/$(echo "$label" | tr '/ ' '__').json"
  files+=("$label=$json")
  [[ -s "$json" ]] && continue
  args=(--bench "$BENCHES" --data-root "$DATA" --no-lpips --threads "$OMP_NUM_THREADS" --json)
  if [[ "$spec" == bicubic ]]; then
    args+=(--model bicubic)
  else
    strength=""; [[ "$spec" == *@* ]] && { strength="${spec##*@}"; spec="${spec%@*}"; }
    args+=(-t realsr -w "$spec"); [[ -n "$strength" ]] && args+=(--strength "$strength")
    [[ -n "$strength" && -n "${PARTNER:-}" ]] && args+=(--partner "$PARTNER")
  fi
  echo "[$(date -u +%H:%M:%S)] $label: vmambair eval ${args[*]}" >&2
  "$PY" -m vmambair_cli eval "${args[@]}" >"$json.tmp" && mv "$json.tmp" "$json"
done
"$PY" "$(dirname "$0")/realsr_quality.py" "${files[@]}"
