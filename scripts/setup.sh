#!/usr/bin/env bash
# Installs what is missing on a fresh Debian machine, then builds. Safe to run repeatedly:
# each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
dpkg -s libtorch-dev >/dev/null 2>&1 || [ -n "${LIBTORCH:-}" ] || need+=(libtorch-dev)
dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || need+=(dataset-fashion-mnist)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v python3 >/dev/null 2>&1 || need+=(python3)
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

# npm ci when node_modules is absent or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --ignore-scripts >/dev/null
fi

node scripts/build.js >/dev/null
