#!/usr/bin/env bash
# The budget-planned descent on Fashion-MNIST (ResNet-20, the shipped 94.68% teacher): W4A4,
# W2A2 and W1A1, each at a 10-epoch budget (55,000 training images, batch 128: 4,300 steps)
# with the defaults (warm-up 5%, targets due at 40% of the run, ease-out, cosine LR over the
# recovery). Outputs under runs/descent/; then summary.json, descent.svg and each row's
# metrics/summary are written here. Resumable (rows.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
experiments/descent/rows.sh runs/descent "" W4A4 W2A2 W1A1
node dist/experiments/descent/summarize.js main runs/descent experiments/descent
