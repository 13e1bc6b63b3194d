#!/usr/bin/env bash
# The whole ResNet-20 / Fashion-MNIST grid (experiments/grid/fashion-mnist-resnet20.json),
# resumable: run it again after a stop and it skips the finished rows and continues the stopped
# one from its resume.safetensors. Results are merged into experiments/results/
# fashion-mnist-resnet20.{json,md} after every row.
#   background:  nohup experiments/grid/run.sh > runs/grid.log 2>&1 &
#   progress:    experiments/grid/run.sh runs/grid --status
#   stop:        kill -INT <pid> (or -TERM): the row saves its state, exit 130
# Extra arguments go to `gdnsq experiment grid` (e.g. --rows W2A2,W2A2-fixed, --threads 2).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-runs/grid}
[ $# -gt 0 ] && shift
# exec: the pid the caller sees is the runner's, so a signal to it reaches the training loop.
exec nice -n 19 ./bin/gdnsq experiment grid --config experiments/grid/fashion-mnist-resnet20.json --out "$out" "$@"
