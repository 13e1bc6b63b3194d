#!/usr/bin/env bash
# The main job: the shipped FP ResNet-20 teacher on Fashion-MNIST, a GDNSQ run to true W4A4 with
# the budget-planned descent (3 epochs of the 55,000 training images: the plan is printed first,
# then the descent with planned vs measured bits; a few minutes on 2 cores), and the proof:
# accuracy, true bit-widths, integer grids, the report.
set -euo pipefail
cd "$(dirname "$0")/.."
teacher=${GDNSQ_TEACHER:-models/resnet20-fashion-mnist.safetensors}
out=${GDNSQ_DEMO_OUT:-runs/demo-w4a4}
echo "== gdnsq $(./bin/gdnsq --version): FP teacher $teacher"
./bin/gdnsq eval --checkpoint "$teacher"
rm -rf "$out"
echo "== GDNSQ fine-tuning to W4A4, planned for a 3-epoch budget (full runs: see experiments/)"
./bin/gdnsq quantize --teacher "$teacher" --wbits 4 --abits 4 --epochs 3 --out "$out"
echo "== the quantized checkpoint, verified"
./bin/gdnsq eval --checkpoint "$out/best.safetensors"
./bin/gdnsq report --run "$out"
echo "== outputs in $out: report.md, descent.svg, bits.svg, training.svg, summary.json, metrics.jsonl, best/last checkpoints"
