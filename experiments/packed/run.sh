#!/usr/bin/env bash
# Packs the shipped W2A2 ResNet-20 (exportPacked, the library call behind `export --format packed`),
# records file and layer sizes, and evaluates the packed file and the original with `gdnsq eval`.
# usage: bash experiments/packed/run.sh   (writes sizes.json, eval-packed.json, eval-original.json here)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=experiments/packed
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
src=models/resnet20-fashion-mnist-w2a2.safetensors
node -e '
const { deploy } = require("./dist/src");
const fs = require("fs");
const [src, out] = process.argv.slice(1);
const e = deploy.exportPacked(src, out);
const sum = (k) => e.layers.reduce((s, l) => s + l[k], 0);
const header = 8 + Number(fs.readFileSync(out).readBigUInt64LE(0));
console.log(JSON.stringify({
  source: src, source_bytes: fs.statSync(src).size, packed_bytes: e.bytes, packed_header_bytes: header,
  quantized_layers: e.layers.length, quantized_params: sum("params"), bits: [...new Set(e.layers.map((l) => l.bits))],
  quantized_fp32_bytes: sum("fp32Bytes"), quantized_packed_bytes: sum("packedBytes"),
  ratio_quantized: sum("packedBytes") / sum("fp32Bytes"), ratio_file: e.bytes / fs.statSync(src).size,
  layers: e.layers,
}, null, 1));
' "$src" "$tmp/w2a2.packed.safetensors" > $here/sizes.json
bin/gdnsq eval --checkpoint "$tmp/w2a2.packed.safetensors" --json > $here/eval-packed.json
bin/gdnsq eval --checkpoint "$src" --json > $here/eval-original.json
cat $here/eval-packed.json $here/eval-original.json
