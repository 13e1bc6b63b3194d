#!/usr/bin/env bash
# Trains the shipped FP teacher (models/resnet20-fashion-mnist.safetensors) on this machine.
# Validation = the last 5,000 training images (selection); the test split is touched once.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/teacher}
./bin/gdnsq train --model resnet20 --dataset fashion-mnist --epochs 30 --batch-size 128 \
  --lr 0.1 --optimizer sgd --momentum 0.9 --weight-decay 5e-4 --schedule onecycle \
  --crop-padding 2 --seed 0 --val-size 5000 --val-split tail --out "$out"
