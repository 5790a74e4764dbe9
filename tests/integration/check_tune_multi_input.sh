#!/usr/bin/env bash
# Tuning a model with three inputs whose evaluation set mixes a folder of JPEG/PNG images with
# .npy files: an image tensor (resized and cropped as torchvision does), a shared f32 offset and
# per-sample int64 ids. In process and as a coordinator with a worker that fetches everything by
# hash (the image folder packed into one file, the labels text file as .npy), both runs meet the
# goal and choose the same config; `qtune eval` of the written model reads the same data YAML.
#   check_tune_multi_input.sh QTUNE_BINARY SOURCE_DIR
set -uo pipefail
qtune=$1 src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
  wait 2> /dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
cp "$qtune" "$tmp/qtune-bin" && qtune="$tmp/qtune-bin"  # immune to a concurrent rebuild
export QTUNE_CAPABILITIES_DIR="$src/capabilities" XDG_CACHE_HOME="$tmp/xdg"
fail=0
images="$src/tests/data/images"

/usr/bin/python3 - "$tmp" <<'PY' || { echo "FAIL: cannot build the model (python3-onnx)"; exit 1; }
import sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
d = sys.argv[1]
rng = np.random.default_rng(3)
init = [numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3, "w1"),
        numpy_helper.from_array(rng.standard_normal(8).astype(np.float32) * 0.1, "b1"),
        numpy_helper.from_array(rng.standard_normal((8, 5)).astype(np.float32), "w2"),
        numpy_helper.from_array(rng.standard_normal(5).astype(np.float32) * 0.1, "b2")]
nodes = [helper.make_node("Conv", ["image", "w1", "b1"], ["c"], pads=[1, 1, 1, 1], name="conv"),
         helper.make_node("Relu", ["c"], ["r"], name="relu"),
         helper.make_node("GlobalAveragePool", ["r"], ["p"], name="pool"),
         helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
         helper.make_node("Gemm", ["f", "w2", "b2"], ["g"], name="fc"),
         helper.make_node("Cast", ["ids"], ["idf"], to=TensorProto.FLOAT, name="cast"),
         helper.make_node("Mul", ["idf", "offset"], ["m"], name="mul"),
         helper.make_node("Add", ["g", "m"], ["logits"], name="add")]
g = helper.make_graph(
    nodes, "three_inputs",
    [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 12, 12]),
     helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 5]),
     helper.make_tensor_value_info("offset", TensorProto.FLOAT, [5])],
    [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 5])], init)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), d + "/model.onnx")
np.save(d + "/ids.npy", rng.integers(0, 3, (5, 5)).astype(np.int64))
np.save(d + "/offset.npy", np.full(5, 0.05, np.float32))
PY
cat > "$tmp/data.yaml" <<YAML
dataset:
  format: images
  inputs:
    image: $images/photos
    ids: {file: ids.npy, format: npy}
    offset: {file: offset.npy, format: npy, shared: true}
  labels: $images/labels.txt
preprocess:
  resize: 16
  center_crop: 12
  scale: 0.00392156862745098
  mean: [0.485, 0.456, 0.406]
  std: [0.229, 0.224, 0.225]
batch_size: 2
YAML
cat > "$tmp/tune.yaml" <<YAML
model: model.onnx
adaptor: native
data: {calibration: data.yaml, evaluation: data.yaml}
metric: {name: cosine}
tuning:
  strategy: basic
  accuracy_criterion: {relative: 0.01}
  exit_policy: {timeout: 0, max_trials: 10}
  objective: accuracy
quantization: {calibration_sampling_size: 5}
YAML

chosen_hash() {
  tr -d '\n' < "$1/report.json" | sed -n 's/.*"chosen": {\([^}]*\)}.*/\1/p' |
    sed -n 's/.*"hash": *"\([0-9a-f]*\)".*/\1/p'
}

"$qtune" tune "$tmp/tune.yaml" --out "$tmp/seq" > "$tmp/seq.log" 2>&1
rc=$?
want=$(chosen_hash "$tmp/seq")
if [ $rc -ne 0 ] || [ -z "$want" ]; then echo "FAIL: in-process tune exit $rc"; tail -n 20 "$tmp/seq.log"; exit 1; fi
echo "in-process: chose $want"

"$qtune" coordinator "$tmp/tune.yaml" --bind "tcp://127.0.0.1:*" --out "$tmp/dist" > "$tmp/coord.log" 2>&1 &
coord=$!
pids+=("$coord")
for _ in $(seq 300); do grep -q "listening on" "$tmp/coord.log" && break; sleep 0.1; done
ep=$(sed -n 's/.*listening on \(tcp:[^ ]*\).*/\1/p' "$tmp/coord.log" | head -n1)
[ -n "$ep" ] || { echo "FAIL: the coordinator did not start"; cat "$tmp/coord.log"; exit 1; }
"$qtune" worker --connect "$ep" --threads 1 --cache "$tmp/cache" > "$tmp/worker.log" 2>&1 &
worker=$!
pids+=("$worker")
wait "$coord"
rc=$?
wait "$worker"
wrc=$?
got=$(chosen_hash "$tmp/dist" 2>/dev/null)
if [ $rc -ne 0 ] || [ $wrc -ne 0 ] || [ "$got" != "$want" ]; then
  echo "FAIL: distributed: coordinator exit $rc, worker exit $wrc, chose '$got', in-process '$want'"
  tail -n 20 "$tmp/coord.log" "$tmp/worker.log"; fail=1
else
  echo "distributed (worker with its own cache): chose $got"
fi
for f in eval_input_0.npy eval_labels.npy; do
  [ -f "$tmp/dist/packed/$f" ] || { echo "FAIL: no packed $f"; fail=1; }
done
if grep -q "not sent by the coordinator" "$tmp/worker.log"; then
  echo "FAIL: the worker missed a file"; fail=1
fi

out=$("$qtune" eval "$tmp/seq/model.int8.onnx" --data "$tmp/data.yaml" --adaptor native --json)
echo "$out" | grep -q '"samples": 5,' || { echo "FAIL: eval of the written model: $out"; fail=1; }

[ $fail -eq 0 ] && echo "check_tune_multi_input: OK"
exit $fail
