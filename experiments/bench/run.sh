#!/usr/bin/env bash
# Runs every benchmark once on this machine and collects their JSON lines in results.jsonl.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=experiments/bench/results.jsonl
: > "$out"
./bin/gdnsq bench engine --json --iters 9 | tee -a "$out"
./bin/gdnsq bench train --json --iters 10 | tee -a "$out"
./bin/gdnsq bench quant --json --iters 5 --rounds 3 | tee -a "$out"
./bin/gdnsq bench quantizer --json | tee -a "$out"
./bin/gdnsq bench loader | tee -a "$out"
