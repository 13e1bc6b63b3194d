#!/usr/bin/env bash
# The main job: the shipped FP ResNet-20 teacher on Fashion-MNIST, a short GDNSQ run to true
# W4A4 on a 10k-image subset (fast settings: start at 8 bits, quantizer LR 0.05, κ = 1000;
# about 2 minutes on 2 cores), and the proof: accuracy, true bit-widths, integer grids.
set -euo pipefail
cd "$(dirname "$0")/.."
teacher=${GDNSQ_TEACHER:-models/resnet20-fashion-mnist.safetensors}
out=${GDNSQ_DEMO_OUT:-runs/demo-w4a4}
echo "== gdnsq $(./bin/gdnsq --version): FP teacher $teacher"
./bin/gdnsq eval --checkpoint "$teacher"
rm -rf "$out"
echo "== GDNSQ fine-tuning to W4A4 (3 epochs on 10,000 images; full runs: see experiments/)"
./bin/gdnsq quantize --teacher "$teacher" --wbits 4 --abits 4 --epochs 3 --train-limit 10000 \
  --start-bits 8 --qlr 0.05 --kappa 1000 --warmup-steps 30 --out "$out"
echo "== the quantized checkpoint, verified"
./bin/gdnsq eval --checkpoint "$out/best.safetensors"
./bin/gdnsq report --run "$out"
echo "== outputs in $out: report.md, bits.svg, training.svg, summary.json, metrics.jsonl, best/last checkpoints"
