#!/usr/bin/env bash
# `qtune run` writes a model's outputs as .npy: lenet in fp32 and its int8 QDQ model on the native
# adaptor agree with ONNX Runtime on the same inputs (tools/ort_compare.js); a missing input file
# is exit code 2 naming it. The ONNX Runtime half skips when onnxruntime-node is unavailable.
#   check_run.sh QTUNE SOURCE_DIR [ORT_CACHE_DIR]
set -euo pipefail
qtune=$1 src=$2
cache=${3:-$(cd "$(dirname "$qtune")" && pwd)/ort-node-cache}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/in"
/usr/bin/python3 -c "
import numpy as np, sys
np.random.seed(1)
np.save(sys.argv[1], np.random.rand(4, 1, 28, 28).astype(np.float32))" "$scratch/in/input_0.npy"

"$qtune" run "$src/models/fashion_mnist/lenet.onnx" --inputs "$scratch/in" --out "$scratch/fp32"
/usr/bin/python3 -c "
import numpy as np, sys
y = np.load(sys.argv[1])
assert y.shape == (4, 10) and y.dtype == np.float32, (y.shape, y.dtype)
assert np.isfinite(y).all()" "$scratch/fp32/output_0.npy"

set +e
"$qtune" run "$src/models/fashion_mnist/lenet.onnx" --inputs "$scratch/nowhere" --out "$scratch/x" \
  2> "$scratch/err"; rc=$?
set -e
[ $rc -eq 2 ] || { echo "missing input: exit $rc, expected 2"; exit 1; }
grep -q "nowhere/input_0.npy" "$scratch/err" || { echo "error does not name the file"; cat "$scratch/err"; exit 1; }

"$qtune" quantize "$src/models/fashion_mnist/lenet.onnx" --data "$src/examples/fashion_mnist/calib.yaml" \
  --out "$scratch/lenet.int8.onnx" > /dev/null
"$qtune" run "$scratch/lenet.int8.onnx" --inputs "$scratch/in" --out "$scratch/int8" --adaptor native

export NODE_PATH="$cache/node_modules"
if ! command -v node > /dev/null || ! node -e "require('onnxruntime-node')" > /dev/null 2>&1; then
  echo "SKIP: onnxruntime-node not installed in $cache (check_ort.sh installs it)"
  exit 0
fi
node "$src/tools/ort_compare.js" "$src/models/fashion_mnist/lenet.onnx" "$scratch/in" "$scratch/fp32" --tol 1e-4
# int8 kernels and ONNX Runtime's QDQ execution may round a few values one step apart.
node "$src/tools/ort_compare.js" "$scratch/lenet.int8.onnx" "$scratch/in" "$scratch/int8" --tol 0.02
echo "check_run: OK"
