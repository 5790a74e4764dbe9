#!/usr/bin/env bash
# Every op type the native adaptor's capability YAML quantizes gets a small model
# (tools/make_op_models.py); `qtune quantize` writes its default int8 QDQ model, the op under test
# must read a DequantizeLinear output (it really was quantized), and ONNX Runtime must give the
# same outputs as qtune's int8 execution (`qtune run --adaptor native`) on the same inputs.
# The ONNX Runtime comparison skips when onnxruntime-node is unavailable.
#   check_quantizable_ops.sh QTUNE SOURCE_DIR [ORT_CACHE_DIR]
set -uo pipefail
qtune=$1 src=$2
cache=${3:-$(cd "$(dirname "$qtune")" && pwd)/ort-node-cache}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
source "$src/tests/integration/ort_env.sh"

# The op types the native capability quantizes, from `qtune ops --json`.
mapfile -t ops < <("$qtune" ops --json | /usr/bin/python3 -c '
import json, sys
for o in json.load(sys.stdin)["ops"]:
    if "native" in o["quantizable_by"]:
        print(o["op_type"])')
[ ${#ops[@]} -gt 0 ] || { echo "FAIL: qtune ops lists nothing quantizable"; exit 1; }
/usr/bin/python3 "$src/tools/make_op_models.py" "$scratch" "${ops[@]}" > /dev/null || {
  echo "FAIL: tools/make_op_models.py has no model for one of: ${ops[*]}"; exit 1; }

fail=0
for op in "${ops[@]}"; do
  m="$scratch/$op.onnx" q="$scratch/$op.int8.onnx"
  if ! log=$("$qtune" quantize "$m" --data "$scratch/calib.yaml" --out "$q" 2>&1); then
    echo "FAIL: $op: qtune quantize: $log"; fail=1; continue
  fi
  if ! /usr/bin/python3 - "$q" <<'PY'
import sys, onnx
m = onnx.load(sys.argv[1])
dq = {o for n in m.graph.node if n.op_type == "DequantizeLinear" for o in n.output}
op = [n for n in m.graph.node if n.name == "op"][0]
sys.exit(0 if any(i in dq for i in op.input) else 1)
PY
  then
    echo "FAIL: $op: the QDQ model does not quantize the op"; fail=1; continue
  fi
  if ! log=$("$qtune" run "$q" --inputs "$scratch/in" --out "$scratch/$op.out" --adaptor native 2>&1); then
    echo "FAIL: $op: qtune run: $log"; fail=1; continue
  fi
  if [ $have_ort -eq 1 ]; then
    # One int8 step of difference (rounding of a requantized value) is within 2% of the range.
    if ! cmp=$(node "$src/tools/ort_compare.js" "$q" "$scratch/in" "$scratch/$op.out" --tol 0.02 2>&1); then
      echo "FAIL: $op: ONNX Runtime disagrees: $cmp"; fail=1; continue
    fi
    echo "ok: $op: $(echo "$cmp" | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print(", ".join("%s max |diff| %.3g of range %.3g" % (r["output"], r["max_abs_err"], r["range"]) for r in rows))')"
  else
    echo "ok: $op: quantized and run by qtune"
  fi
done
exit $fail
