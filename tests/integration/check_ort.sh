#!/usr/bin/env bash
# ONNX Runtime runs qtune's exported QDQ models and agrees with qtune on their accuracy: each
# bundled model is quantized by `qtune quantize`, evaluated by `qtune eval` and by
# tools/ort_eval.js (onnxruntime-node) on the same file; top-1 may differ by at most 0.3 points.
# Skips (exit 0, "SKIP: ...") when node/npm, the npm registry or the dataset are unavailable.
#   check_ort.sh QTUNE_BINARY SOURCE_DIR [CACHE_DIR]
set -uo pipefail
qtune=$1 src=$2
cache=${3:-$(cd "$(dirname "$qtune")" && pwd)/ort-node-cache}
max_diff=0.3
models=(lenet resnet vit)
data_dir=/usr/share/datasets/fashion-mnist

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool is not installed (apt-get install nodejs npm)"
    exit 0
  fi
done
for f in t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz train-images-idx3-ubyte.gz; do
  if [ ! -f "$data_dir/$f" ]; then
    echo "SKIP: $data_dir/$f missing (Debian package dataset-fashion-mnist)"
    exit 0
  fi
done

# onnxruntime-node is installed once into the build tree and reused by later runs.
"$(dirname "$0")/install_ort.sh" "$cache"
export NODE_PATH="$cache/node_modules"
if ! node -e "require('onnxruntime-node')" >/dev/null 2>&1; then
  echo "SKIP: onnxruntime-node is not available"
  exit 0
fi
echo "onnxruntime-node $(node -p "require('onnxruntime-node/package.json').version")"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
top1_of() { sed -n 's/.*"top1": *\([-0-9.eE+]*\).*/\1/p' <<<"$1" | head -n1; }

for m in "${models[@]}"; do
  out="$tmp/$m.int8.onnx"
  if ! log=$("$qtune" quantize "$src/models/fashion_mnist/$m.onnx" \
               --data "$src/examples/fashion_mnist/calib.yaml" --adaptor native --out "$out" 2>&1); then
    echo "FAIL: $m: qtune quantize failed: $log"
    fail=1
    continue
  fi
  if ! q=$("$qtune" eval "$out" --data "$src/examples/fashion_mnist/test.yaml" --adaptor native \
             --json 2>&1); then
    echo "FAIL: $m: qtune eval failed: $q"
    fail=1
    continue
  fi
  if ! o=$(node "$src/tools/ort_eval.js" "$out" "$data_dir/t10k-images-idx3-ubyte.gz" \
             "$data_dir/t10k-labels-idx1-ubyte.gz" --batch 100 2>&1); then
    echo "FAIL: $m: ONNX Runtime failed on the QDQ model: $o"
    fail=1
    continue
  fi
  qt=$(top1_of "$q") ot=$(top1_of "$o")
  if [ -z "$qt" ] || [ -z "$ot" ]; then
    echo "FAIL: $m: could not read top1 (qtune: $q) (ORT: $o)"
    fail=1
    continue
  fi
  if awk -v a="$qt" -v b="$ot" -v m="$max_diff" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= m) }'; then
    verdict=ok
  else
    verdict=FAIL
    fail=1
  fi
  echo "$verdict: $m int8 QDQ top-1: qtune $qt%, ONNX Runtime $ot% (max diff $max_diff)"
done
exit $fail
