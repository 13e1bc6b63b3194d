#!/usr/bin/env bash
# Trains the FP teacher of the ViT grid (models/vit-fashion-mnist.safetensors): AdamW 2e-3,
# weight decay 0.05, one-cycle (15 % warm-up), 30 epochs. Validation = the last 5,000 training
# images (selection); the test split is touched once.
#   experiments/teacher/vit.sh [OUT] [--resume] [--threads N]   (extra arguments go to gdnsq train)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/teacher-vit}
[ $# -gt 0 ] && shift
exec ./bin/gdnsq train --model vit --dataset fashion-mnist --epochs 30 --batch-size 128 \
  --lr 2e-3 --optimizer adamw --weight-decay 0.05 --schedule onecycle \
  --crop-padding 2 --seed 0 --val-size 5000 --val-split tail --out "$out" "$@"
