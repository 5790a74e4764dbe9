#!/usr/bin/env bash
# `qtune run` writes a model's outputs as .npy: lenet in fp32 and its int8 QDQ model on the native
# adaptor agree with ONNX Runtime on the same inputs (tools/ort_compare.js); a missing input file
# is exit code 2 naming it. `qtune run --data` feeds a three-input model (f32 rows, int64 ids,
# a shared 0-d scale) from a data YAML and writes what it fed, on which ONNX Runtime agrees too,
# and runs a model on a folder of JPEG/PNG images. The ONNX Runtime half skips when
# onnxruntime-node is unavailable.
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

# y = a + Cast<float>(ids) * scale: inputs of three element types, one of them shared.
mkdir -p "$scratch/multi"
/usr/bin/python3 - "$scratch/multi" <<'EOF'
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper
d = sys.argv[1]
g = helper.make_graph(
    [helper.make_node("Cast", ["ids"], ["idf"], to=TensorProto.FLOAT),
     helper.make_node("Mul", ["idf", "scale"], ["m"]),
     helper.make_node("Add", ["a", "m"], ["y"])],
    "three_inputs",
    [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3]),
     helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 3]),
     helper.make_tensor_value_info("scale", TensorProto.FLOAT, [])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), d + "/three.onnx")
np.random.seed(2)
np.save(d + "/a.npy", np.random.rand(5, 3).astype(np.float32))
np.save(d + "/ids.npy", np.random.randint(0, 9, (5, 3)).astype(np.int64))
np.save(d + "/scale.npy", np.array(0.25, dtype=np.float32))
with open(d + "/data.yaml", "w") as f:
    f.write("dataset:\n  format: npy\n  inputs: {scale: scale.npy, ids: ids.npy, a: a.npy}\n"
            "batch_size: 2\n")
EOF
"$qtune" run "$scratch/multi/three.onnx" --data "$scratch/multi/data.yaml" --out "$scratch/multi/out"
/usr/bin/python3 -c "
import numpy as np, sys
d = sys.argv[1]
a, ids, s = np.load(d + '/a.npy'), np.load(d + '/ids.npy'), np.load(d + '/scale.npy')
assert np.load(d + '/out/input_1.npy').dtype == np.int64
assert np.load(d + '/out/input_2.npy').shape == ()
y = np.load(d + '/out/output_0.npy')
assert y.shape == (5, 3), y.shape
assert np.array_equal(y, a + ids.astype(np.float32) * s), (y, a + ids * s)" "$scratch/multi"

images="$(cd "$src" && pwd)/tests/data/images"
printf 'dataset:\n  format: images\n  images: %s/photos\npreprocess:\n  color: gray\n  resize: [28, 28]\n  scale: 0.00392156862745098\n' \
  "$images" > "$scratch/photos.yaml"
"$qtune" run "$src/models/fashion_mnist/lenet.onnx" --data "$scratch/photos.yaml" --out "$scratch/photos"
/usr/bin/python3 -c "
import numpy as np, sys
x, y = np.load(sys.argv[1] + '/input_0.npy'), np.load(sys.argv[1] + '/output_0.npy')
assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1, x.shape
assert y.shape == (5, 10) and np.isfinite(y).all(), y.shape" "$scratch/photos"

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
# The inputs `qtune run --data` fed, in graph order, are ONNX Runtime's inputs.
node "$src/tools/ort_compare.js" "$scratch/multi/three.onnx" "$scratch/multi/out" "$scratch/multi/out" --tol 1e-6
node "$src/tools/ort_compare.js" "$src/models/fashion_mnist/lenet.onnx" "$scratch/photos" "$scratch/photos" --tol 1e-4
echo "check_run: OK"
