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
node -e '
  const s = require(process.argv[1]);
  const pt = (x) => (100 * x).toFixed(2) + " %";
  console.log(`== FP ${pt(s.fp_top1)} → W${s.wbits}A${s.abits} ${pt(s.quant_top1)} (${(100 * (s.quant_top1 - s.fp_top1)).toFixed(2)} pt), ` +
    `true bits W ${s.wbits_max} / A ${s.abits_max}, ${s.converged ? "converged" : "NOT converged"}, ${s.epochs_run} epochs in ${Math.round(s.wall_seconds)} s`);
' "$PWD/$out/summary.json"
echo "== the report: $out/report.md (plots: descent, capacity, bits, training; .svg and .png), summary.json, metrics.jsonl, best/last checkpoints"
echo "== for context, the grid at a 10-epoch budget (experiments/results/fashion-mnist-resnet20.md):"
grep '^|' experiments/results/fashion-mnist-resnet20.md | cut -d'|' -f2-5,8,10 | sed 's/$/|/'
