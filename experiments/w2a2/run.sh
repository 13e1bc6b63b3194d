#!/usr/bin/env bash
# GDNSQ W2A2 from the shipped FP teacher, with the reference defaults (GDNSQ.md §4, §7):
# RAdam lr 1e-3 (weights) / 1e-2 (quantizer parameters), κ = 2, warm-up 300 steps, batch 128,
# start at 10 bits, first conv / last linear / shortcuts FP, BatchNorm kept, symmetric-KL
# distillation, noise-scale STE. Outputs (summary.json, metrics.jsonl) are copied here.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/w2a2}
./bin/gdnsq quantize --teacher models/resnet20-fashion-mnist.safetensors --wbits 2 --abits 2 \
  --epochs 20 --out "$out"
./bin/gdnsq eval --checkpoint "$out/$(node -p "require('./$out/summary.json').checkpoint")"
./bin/gdnsq report --run "$out"
