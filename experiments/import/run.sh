#!/usr/bin/env bash
# A PyTorch-trained ResNet-20 through `gdnsq import` → `gdnsq eval`. The PyTorch model is our FP
# teacher's weights as a plain PyTorch state dict (torch.save .pt and a hand-written
# .safetensors, test/export/torch-export.py); PyTorch's own accuracy on the test set is
# experiments/teacher/verify_pytorch.py's. Needs python3-torch.
# usage: bash experiments/import/run.sh   (writes pytorch.json, eval-pt.json, eval-safetensors.json here)
set -euo pipefail
cd "$(dirname "$0")/../.."
here=experiments/import
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
teacher=models/resnet20-fashion-mnist.safetensors
/usr/bin/python3 experiments/teacher/verify_pytorch.py "$teacher" > $here/pytorch.json
/usr/bin/python3 test/export/torch-export.py "$tmp" --from "$teacher" --in-channels 1 --classes 10 > /dev/null
norm=$(node -e 'const c = JSON.parse(require("./dist/src/engine").loadSafetensorsMetadata(process.argv[1]).gdnsq); console.log([...c.normalize.mean, ...c.normalize.std].join(","))' "$teacher")
for ext in pt safetensors; do
  bin/gdnsq import --from "$tmp/state_dict.$ext" --model resnet20 --in-channels 1 --classes 10 --normalize "$norm" \
    --dataset fashion-mnist --out "$tmp/imported-$ext.safetensors"
  bin/gdnsq eval --checkpoint "$tmp/imported-$ext.safetensors" --json > $here/eval-$ext.json
done
cat $here/pytorch.json $here/eval-pt.json $here/eval-safetensors.json
