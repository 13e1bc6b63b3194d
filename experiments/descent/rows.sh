#!/usr/bin/env bash
# Runs rows of the descent experiments, each a `gdnsq quantize` from the shipped teacher at a
# 10-epoch budget with the planned descent's defaults. The rows without -learn-lower keep the
# lower bounds at 0 after ReLU (--no-learn-lower), the default when they were run. Resumable: a finished row (summary.json)
# is skipped, a cut-off one continues from its saved state.
#   experiments/descent/rows.sh OUT_DIR "EXTRA ARGS" ROW...
set -euo pipefail
cd "$(dirname "$0")/../.."
out_dir=$1 extra=$2
shift 2
teacher=models/resnet20-fashion-mnist.safetensors
declare -A ARGS=(
  [W4A4]="--wbits 4 --abits 4 --no-learn-lower"
  [W2A2]="--wbits 2 --abits 2 --no-learn-lower"
  [W1A1]="--wbits 1 --abits 1 --no-learn-lower"
  [W2A2-detached]="--wbits 2 --abits 2 --detach-weight-range --no-learn-lower"
  [W1A1-detached]="--wbits 1 --abits 1 --detach-weight-range --no-learn-lower"
  [W2A2-learn-lower]="--wbits 2 --abits 2 --learn-lower"
  [W1A1-learn-lower]="--wbits 1 --abits 1 --learn-lower"
)
for row in "$@"; do
  out=$out_dir/$row
  if [ -f "$out/summary.json" ]; then echo "== $row: done"; continue; fi
  if [ -f "$out/resume.safetensors" ]; then
    echo "== $row: resuming"
    ./bin/gdnsq quantize --resume "$out" --no-progress
  else
    echo "== $row: gdnsq quantize --teacher $teacher ${ARGS[$row]} --epochs 10 $extra --out $out"
    # shellcheck disable=SC2086
    ./bin/gdnsq quantize --teacher "$teacher" ${ARGS[$row]} --epochs 10 $extra --out "$out" --no-progress
  fi
done
