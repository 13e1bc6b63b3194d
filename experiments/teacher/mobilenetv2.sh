#!/usr/bin/env bash
# Trains the FP teacher of the MobileNetV2 grid (models/mobilenetv2-fashion-mnist.safetensors):
# the ResNet-20 teacher's recipe (run.sh), SGD 0.1 one-cycle, 30 epochs. Validation = the last
# 5,000 training images (selection); the test split is touched once.
#   experiments/teacher/mobilenetv2.sh [OUT] [--resume] [--threads N]   (extra arguments go to gdnsq train)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/teacher-mobilenetv2}
[ $# -gt 0 ] && shift
exec ./bin/gdnsq train --model mobilenetv2 --dataset fashion-mnist --epochs 30 --batch-size 128 \
  --lr 0.1 --optimizer sgd --momentum 0.9 --weight-decay 5e-4 --schedule onecycle \
  --crop-padding 2 --seed 0 --val-size 5000 --val-split tail --out "$out" "$@"
