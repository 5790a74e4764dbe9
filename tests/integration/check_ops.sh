#!/usr/bin/env bash
# `qtune ops` lists the registry (text and JSON agree on the count, Conv is quantizable by both
# adaptors); `qtune check` passes a bundled model and names every unsupported node of a model
# that has some, with exit code 1, and a missing file with exit code 2.
set -euo pipefail
qtune=$1 src=$2
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

text=$("$qtune" ops)
count=$(echo "$text" | sed -n 's/^\([0-9]*\) operator types$/\1/p')
json=$("$qtune" ops --json)
json_count=$(echo "$json" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["op_types"])')
[ "$count" = "$json_count" ] || { echo "ops: text says $count, json says $json_count"; exit 1; }
echo "$json" | /usr/bin/python3 -c '
import json, sys
ops = {o["op_type"]: o for o in json.load(sys.stdin)["ops"]}
conv = ops["Conv"]
assert set(conv["quantizable_by"]) >= {"native", "onednn"}, conv
assert all(k["since"] <= k["until"] for o in ops.values() for k in o["kernels"])
'
echo "ops: $count operator types"

"$qtune" check "$src/models/fashion_mnist/resnet.onnx"

# A model with two ops no runtime has: both are named at once.
/usr/bin/python3 - "$scratch/bad.onnx" <<'PY'
import sys
from onnx import helper as h, TensorProto as T
g = h.make_graph([h.make_node("NoSuchOpA", ["x"], ["y"], name="first", domain="example.org"),
                  h.make_node("NoSuchOpB", ["y"], ["z"], name="second", domain="example.org")],
                 "g", [h.make_tensor_value_info("x", T.FLOAT, [1])],
                 [h.make_tensor_value_info("z", T.FLOAT, [1])])
m = h.make_model(g, opset_imports=[h.make_opsetid("", 13), h.make_opsetid("example.org", 1)])
open(sys.argv[1], "wb").write(m.SerializeToString())
PY
set +e
out=$("$qtune" check "$scratch/bad.onnx"); rc=$?
set -e
echo "$out"
[ $rc -eq 1 ] || { echo "check: exit $rc, expected 1"; exit 1; }
echo "$out" | grep -q "node 'first' (NoSuchOpA)" || { echo "check: first node not named"; exit 1; }
echo "$out" | grep -q "node 'second' (NoSuchOpB)" || { echo "check: second node not named"; exit 1; }

# libonnx's checker objects to a Concat without its required axis.
/usr/bin/python3 - "$scratch/concat.onnx" <<'PY'
import sys
from onnx import helper as h, TensorProto as T
g = h.make_graph([h.make_node("Concat", ["x", "x"], ["y"], name="cat")], "g",
                 [h.make_tensor_value_info("x", T.FLOAT, [2])],
                 [h.make_tensor_value_info("y", T.FLOAT, [4])])
open(sys.argv[1], "wb").write(h.make_model(g, opset_imports=[h.make_opsetid("", 13)]).SerializeToString())
PY
"$qtune" check "$scratch/concat.onnx" --json | /usr/bin/python3 -c '
import json, sys
r = json.load(sys.stdin)
assert r["checker"] != "ok" and "axis" in r["checker"], r
assert r["unsupported"] == [], r
'

set +e
"$qtune" check "$scratch/missing.onnx" 2> "$scratch/err"; rc=$?
set -e
[ $rc -eq 2 ] || { echo "check of a missing file: exit $rc, expected 2"; exit 1; }
grep -q "missing.onnx" "$scratch/err" || { echo "check: error does not name the file"; exit 1; }
echo "check_ops: OK"
