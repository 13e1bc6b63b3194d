#!/usr/bin/env bash
# The main job: the shipped FP ResNet-20 teacher on Fashion-MNIST, a short GDNSQ run to true
# W4A4 on a 10k-image subset (fast settings: quantizer LR 0.05, κ = 200), and the proof:
# accuracy, true bit-widths, integer grids.
set -euo pipefail
cd "$(dirname "$0")/.."
teacher=${GDNSQ_TEACHER:-models/resnet20-fashion-mnist.safetensors}
out=${GDNSQ_DEMO_OUT:-runs/demo-w4a4}
echo "== gdnsq $(./bin/gdnsq --version): FP teacher $teacher"
./bin/gdnsq eval --checkpoint "$teacher"
rm -rf "$out"
echo "== GDNSQ fine-tuning to W4A4 (3 epochs on 10,000 images; full runs: see experiments/)"
./bin/gdnsq quantize --teacher "$teacher" --wbits 4 --abits 4 --epochs 3 --train-limit 10000 \
  --qlr 0.05 --kappa 200 --warmup-steps 50 --out "$out"
echo "== the quantized checkpoint, verified"
./bin/gdnsq eval --checkpoint "$out/best.safetensors"
echo "== outputs in $out: summary.json, metrics.jsonl, best/last checkpoints"
