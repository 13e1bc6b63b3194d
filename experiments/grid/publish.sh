#!/usr/bin/env bash
# After grid rows finish (light work, a minute): the results table and plot, the per-row reports
# and the capacity figure (figures.ts), and the finished GDNSQ goal rows as models/ with cards.
#   experiments/grid/publish.sh [GRID_OUT]   (default runs/grid)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/grid}
config=experiments/grid/fashion-mnist-resnet20.json
./bin/gdnsq experiment results --config "$config" --out "$out"
node dist/experiments/grid/figures.js "$out" experiments/results
# The goal rows that finished and converged (--finished skips the others). W2A2 is not among
# them: models/resnet20-fashion-mnist-w2a2.safetensors stays the 20-epoch run of experiments/w2a2
# (93.65 %; the grid's 10-epoch row: 93.72 %), which the shipped ONNX file and the web demo export.
./bin/gdnsq experiment ship --config "$config" --out "$out" --rows W4A4,W3A3,W1A32,W1A1 --finished
