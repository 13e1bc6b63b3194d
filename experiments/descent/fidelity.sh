#!/usr/bin/env bash
# Fidelity to the authors' code, every row at one smaller budget (10 epochs of the first 5,000
# Fashion-MNIST training images at batch 64: 790 steps; the planned descent's defaults):
# W2A2 and W1A1 with the weight range passing its gradient (the reference, our default) or
# detached (our old default), and with every activation lower bound learned (the reference)
# instead of fixed at 0 after ReLU. Outputs under runs/fidelity/; then fidelity.json here.
set -euo pipefail
cd "$(dirname "$0")/../.."
experiments/descent/rows.sh runs/fidelity "--train-limit 5000 --batch-size 64" \
  W2A2 W2A2-detached W1A1 W1A1-detached W2A2-learn-lower W1A1-learn-lower
node dist/experiments/descent/summarize.js fidelity runs/fidelity experiments/descent
