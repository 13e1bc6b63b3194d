#!/usr/bin/env bash
# Inference speed and size of every quantized model under models/ in one run: the packed
# low-bit runtime vs the FP32 model in libtorch vs the FP32 and Q/DQ ONNX exports in
# onnxruntime-node, threads 1 and 2, batch 1 and 256, plus per-layer kernel times.
# Run on an otherwise idle machine (no training sharing the cores).
set -euo pipefail
cd "$(dirname "$0")/../.."
./bin/gdnsq bench infer --json --iters 10 > experiments/infer/results.json
node -e '
const r = require("./experiments/infer/results.json");
for (const x of r.rows) console.log([x.model, x.runtime, x.threads, x.batch, x.img_per_s.toFixed(0), x.latency_ms.toFixed(2), x.bytes].join("\t"));
console.log(JSON.stringify(r.ratios, null, 1));'
