#!/usr/bin/env bash
# The reduced silero VAD v5 row of the model zoo (tests/data/zoo/silero_vad_v5, no network):
#   1. fp32 parity: `qtune run` at 16 and 8 kHz against ONNX Runtime's committed outputs, within
#      1e-4 x each output's range;
#   2. `qtune tune` meets its goal (speech decisions within 1% of fp32's) with ops inside the If
#      branches quantized;
#   3. the 8 kHz branch, which calibration never reaches, stays fp32: the chosen model's 8 kHz
#      outputs equal fp32's;
#   4. when onnxruntime-node is installed (the ort.install fixture), ONNX Runtime runs the exported
#      QDQ model and agrees with qtune on it, speech decisions included.
#   check_silero_vad.sh QTUNE_BINARY SOURCE_DIR [ORT_CACHE_DIR]
set -uo pipefail
qtune=$1 src=$2
cache=${3:-$(cd "$(dirname "$qtune")" && pwd)/ort-node-cache}
data=$src/tests/data/zoo/silero_vad_v5
js=$src/tools/zoo/silero_vad.js

if ! command -v node > /dev/null 2>&1; then
  echo "SKIP: node is not installed (apt-get install nodejs)"
  exit 0
fi
export NODE_PATH=$cache/node_modules
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() {  # check WHAT COMMAND...: runs it, prints its output on failure
  local what=$1 out
  shift
  if out=$("$@" 2>&1); then
    echo "ok: $what"
  else
    echo "FAIL: $what"
    echo "$out"
    fail=1
  fi
}

for split in eval eval8k; do
  node "$js" feed "$data/model.onnx" v5 "$data/$split" "$tmp/$split/feed" || exit 1
  check "fp32 parity with ONNX Runtime ($split)" \
    bash -c "'$qtune' run '$data/model.onnx' --inputs '$tmp/$split/feed' --out '$tmp/$split/fp32' \
               > /dev/null && node '$js' compare '$tmp/$split/fp32' '$data/$split/ref' --tol 1e-4"
done

mkdir -p "$tmp/tune"
cp -r "$data"/* "$tmp/tune/"
if ! "$qtune" tune "$tmp/tune/tune.yaml" --out "$tmp/tune/out" > "$tmp/tune.log" 2>&1; then
  echo "FAIL: qtune tune did not meet the goal"
  tail -n 30 "$tmp/tune.log"
  exit 1
fi
int8=$tmp/tune/out/model.int8.onnx
report=$tmp/tune/out/report.json
node -e '
  const r = require(process.argv[1]);
  const c = r.chosen || {};
  console.log(`binary_agreement: fp32 ${r.baseline.metric}, int8 ${c.metric}, ` +
              `trials ${r.trials_evaluated}, speedup ${c.speedup_vs_fp32}`);' "$report" || fail=1
# Ops inside the If branches are quantized: the 16 kHz branch (then_branch of the outer If on
# sr == 16000) holds Conv/LSTM nodes whose weights come from DequantizeLinear, the 8 kHz branch
# none. Prints which weight ops are int8.
check "int8 weight ops inside the 16 kHz If branch, none in the 8 kHz one" /usr/bin/python3 -c "
import onnx, sys
m = onnx.load(sys.argv[1])
def weight_ops(g, out):
    made_by = {o: n.op_type for n in g.node for o in n.output}
    for n in g.node:
        if n.op_type in ('Conv', 'LSTM') and made_by.get(n.input[1]) == 'DequantizeLinear':
            out.append(n.name)
        for a in n.attribute:
            if a.type == onnx.AttributeProto.GRAPH:
                weight_ops(a.g, out)
    return out
outer = next(n for n in m.graph.node if n.op_type == 'If')
branches = {a.name: weight_ops(a.g, []) for a in outer.attribute}
print('int8 weight ops at 16 kHz:', ', '.join(branches['then_branch']))
sys.exit(0 if branches['then_branch'] and not branches['else_branch'] else 1)
" "$int8"

"$qtune" run "$int8" --inputs "$tmp/eval/feed" --out "$tmp/eval/int8" > /dev/null || fail=1
"$qtune" run "$int8" --inputs "$tmp/eval8k/feed" --out "$tmp/eval8k/int8" > /dev/null || fail=1
check "the 8 kHz branch stays fp32" node "$js" compare "$tmp/eval8k/int8" "$tmp/eval8k/fp32" --tol 0
cp "$tmp/eval/fp32/output_0.npy" "$tmp/fp32_prob.npy"
cp "$tmp/eval/int8/output_0.npy" "$tmp/int8_prob.npy"
node "$js" score "$data/eval" "$tmp/fp32_prob.npy" "$tmp/int8_prob.npy"

if node -e "require('onnxruntime-node')" > /dev/null 2>&1; then
  check "ONNX Runtime runs the QDQ model and agrees with qtune" \
    node "$src/tools/ort_compare.js" "$int8" "$tmp/eval/feed" "$tmp/eval/int8" --tol 0.02
  node "$js" run "$int8" "$tmp/eval/feed" "$tmp/eval/ort_int8" > /dev/null || fail=1
  cp "$tmp/eval/ort_int8/output_0.npy" "$tmp/ort_int8_prob.npy"
  same=$(node "$js" score "$data/eval" "$tmp/ort_int8_prob.npy" --reference "$tmp/int8_prob.npy" |
         sed -n 's/.*"agreement":\([0-9.]*\).*/\1/p')
  if awk -v a="$same" 'BEGIN { exit !(a >= 99) }'; then
    echo "ok: ONNX Runtime's speech decisions on the QDQ model agree with qtune's ($same%)"
  else
    echo "FAIL: ONNX Runtime's speech decisions on the QDQ model agree with qtune's on $same%"
    fail=1
  fi
else
  echo "SKIP: the ONNX Runtime check (onnxruntime-node is not installed)"
fi
exit $fail
