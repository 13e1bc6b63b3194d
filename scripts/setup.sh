#!/usr/bin/env bash
# Installs what is missing on a fresh Debian machine, then builds. Safe to run repeatedly:
# each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
dpkg -s libtorch-dev >/dev/null 2>&1 || [ -n "${LIBTORCH:-}" ] || need+=(libtorch-dev)
# Gloo's headers: ProcessGroupGloo.hpp (c10d, distributed training) includes them.
dpkg -s libgloo-dev >/dev/null 2>&1 || [ -n "${LIBTORCH:-}" ] || need+=(libgloo-dev)
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || need+=(dataset-fashion-mnist)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
# Debian's PyTorch: the tests that compare with PyTorch (test/export/import.test.ts) run it, and
# experiments/onnx-import/make-fixtures.py writes the ONNX fixtures with it.
dpkg -s python3-torch >/dev/null 2>&1 || need+=(python3-torch)
# OpenBLAS (OpenMP build, the threads libtorch's own OpenMP sets) in place of the reference BLAS
# Debian's libtorch otherwise gets: its matmul and Linear layers run 15× faster (512³ at 1 thread:
# 0.037 s → 0.0024 s). Convolutions go through oneDNN either way.
[ -n "${LIBTORCH:-}" ] || dpkg -s libopenblas0-openmp >/dev/null 2>&1 || need+=(libopenblas0-openmp)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "gdnsq setup: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "gdnsq setup: missing packages; run: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

# Optional: Debian's Chromium for the browser test (test/web skips without it).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "gdnsq setup: installing chromium (for the browser test)" >&2
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >/dev/null; } ||
      echo "gdnsq setup: could not install chromium; the browser test will be skipped" >&2
  else
    echo "gdnsq setup: the browser test will be skipped (sudo apt-get install -y chromium to run it)" >&2
  fi
fi

# onnxruntime-node ships its CPU binaries in the package; its install script would only try to
# download a CUDA provider (no network here), and playwright-core uses Debian's Chromium.
export ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# npm ci when node_modules is absent or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --ignore-scripts >/dev/null
fi

node scripts/build.js >/dev/null
