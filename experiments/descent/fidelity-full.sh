#!/usr/bin/env bash
# The fidelity rows at the main rows' budget (10 epochs of all 55,000 training images, batch
# 128, the planned descent's defaults): the weight range detached, and every activation lower
# bound learned, at W2A2 and W1A1 — to set beside run.sh's W2A2 and W1A1. Each row ~25 min on
# free cores; resumable (rows.sh). Then fidelity-full.json and fidelity-full-<row>.summary.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
experiments/descent/rows.sh runs/descent "" W2A2-detached W1A1-detached W1A1-learn-lower W2A2-learn-lower
node dist/experiments/descent/summarize.js full runs/descent experiments/descent
