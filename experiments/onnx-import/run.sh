#!/usr/bin/env bash
# Bring-your-own-model, measured: each PyTorch fixture (make-fixtures.py) through
# gdnsq import → eval → quantize (short W4A4 run) → export --format onnx --verify (ORT) → predict
# (packed runtime). Writes experiments/onnx-import/results.jsonl; ~2 min on 2 free cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
G=./bin/gdnsq
OUT=${OUT:-$(mktemp -d)}
RES=experiments/onnx-import/results.jsonl
: > "$RES"
# An export's JSON names its file by name and SHA-256, not by the temporary folder it was written to.
provenance() { node -e '
  const fs = require("fs"), path = require("path"), crypto = require("crypto");
  const j = JSON.parse(fs.readFileSync(0, "utf8"));
  const sha256 = crypto.createHash("sha256").update(fs.readFileSync(j.out)).digest("hex");
  console.log(JSON.stringify({ ...j, out: path.basename(j.out), sha256 }));'; }
for m in resnet mobilenetv2 vit vit-opset14; do
  $G import --from test/fixtures/onnx/$m.onnx --out "$OUT/$m.safetensors" --dataset fashion-mnist
  fp=$($G eval --checkpoint "$OUT/$m.safetensors" --json)
  fpx=$($G export --checkpoint "$OUT/$m.safetensors" --out "$OUT/$m-fp.onnx" --verify --json | provenance)
  q=$($G quantize --teacher "$OUT/$m.safetensors" --wbits 4 --abits 4 --start-bits 6 --epochs 3 --train-limit 1200 \
        --batch-size 16 --val-size 200 --out "$OUT/q-$m" --no-progress --crop-padding 0 --no-hflip 2>/dev/null | tail -1)
  ev=$($G eval --checkpoint "$OUT/q-$m/best.safetensors" --json)
  qx=$($G export --checkpoint "$OUT/q-$m/best.safetensors" --out "$OUT/$m-w4a4.onnx" --verify --json | provenance)
  pk=$($G predict --model "$OUT/q-$m/best.safetensors" --json | node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8"));console.log(JSON.stringify({top1:j.top1,img_per_s:j.img_per_s}))')
  echo "{\"model\":\"$m\",\"fp_eval\":$fp,\"fp_onnx\":$fpx,\"quantize\":$q,\"w4a4_eval\":$ev,\"w4a4_onnx\":$qx,\"packed\":$pk}" >> "$RES"
  echo "$m done"
done
rm -rf "$OUT"
