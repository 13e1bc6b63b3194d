#!/usr/bin/env bash
# Reproduces the committed results of this folder (see README.md). Needs `npm run build`, the
# Fashion-MNIST dataset and, for web-w2a2.json, /usr/bin/chromium. Older onnxruntime-node
# versions are installed into a temporary folder (or taken from $ORT_VERSIONS_DIR/<version>).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=experiments/onnx
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
strip() { sed "s|$tmp/||g"; }   # no machine paths in the results

for op in 25 21 13; do
  node bin/gdnsq export --checkpoint models/resnet20-fashion-mnist-w2a2.safetensors --out "$tmp/w2a2-opset$op.onnx" --opset $op --verify --json
done | strip > $out/node-w2a2.jsonl
node bin/gdnsq export --checkpoint models/resnet20-fashion-mnist.safetensors --out "$tmp/fp.onnx" --verify --json | strip > $out/node-fp.jsonl

# The ONNX checker, where Debian's python3-onnx is installed (it knows opsets up to 17).
if /usr/bin/python3 -c 'import onnx' 2>/dev/null; then
  /usr/bin/python3 $out/check.py "$tmp/w2a2-opset13.onnx" "$tmp/fp.onnx" > $out/onnx-checker.txt
fi

files=("$tmp"/w2a2-opset25.onnx "$tmp"/w2a2-opset21.onnx "$tmp"/w2a2-opset13.onnx)
for v in 1.19.2 1.22.0 1.24.3; do
  dir=${ORT_VERSIONS_DIR:+$ORT_VERSIONS_DIR/$v}
  if [ -z "$dir" ]; then
    dir=$tmp/ort-$v
    mkdir -p "$dir" && echo '{}' > "$dir/package.json"
    (cd "$dir" && ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm install --no-audit --no-fund --ignore-scripts "onnxruntime-node@$v" >/dev/null)
  fi
  node $out/ort-versions.js "$dir" "${files[@]}"
done | strip > $out/ort-versions.jsonl
node $out/ort-versions.js . "${files[@]}" | strip >> $out/ort-versions.jsonl

node $out/web-verify.js > $out/web-w2a2.json
