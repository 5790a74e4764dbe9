#!/usr/bin/env bash
# Installs onnxruntime-node (npm, --ignore-scripts: its postinstall fetches GPU parts from an
# unreachable host) into CACHE_DIR once; later runs reuse it. Exit 0 when it loads afterwards or
# cannot be had here (prints SKIP: node/npm missing, registry unreachable), so the tests that
# need it decide for themselves.
#   install_ort.sh CACHE_DIR
set -uo pipefail
cache=$1
export NODE_PATH="$cache/node_modules"
for tool in node npm; do
  command -v "$tool" > /dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 0; }
done
if node -e "require('onnxruntime-node')" > /dev/null 2>&1; then
  echo "onnxruntime-node $(node -p "require('onnxruntime-node/package.json').version") in $cache"
  exit 0
fi
mkdir -p "$cache"
echo "installing onnxruntime-node into $cache"
if ! log=$(timeout 900 npm install --ignore-scripts --no-audit --no-fund --prefix "$cache" \
             onnxruntime-node 2>&1); then
  echo "$log" | tail -n 5
  echo "SKIP: npm install onnxruntime-node failed (registry unreachable?)"
  exit 0
fi
if ! err=$(node -e "require('onnxruntime-node')" 2>&1); then
  echo "$err" | tail -n 5
  echo "SKIP: onnxruntime-node installed but cannot load on this platform"
fi
exit 0
