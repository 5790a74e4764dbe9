#!/usr/bin/env bash
# `qtune bench model` and how eval/bench run a model, through the real binary: fp32 and QDQ lenet
# are timed at the batch asked for (median within min..max, CPU time and peak RSS reported);
# a QDQ model runs on the native int8 kernels by default and as fake-quant only with
# --reference; bad options are exit code 2 naming what is wrong.
#   check_bench_model.sh QTUNE SOURCE_DIR
set -uo pipefail
qtune=$1 src=$2
model=$src/models/fashion_mnist/lenet.onnx
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { if ! eval "$1"; then echo "FAIL: $2"; fail=1; fi; }
field() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)[sys.argv[1]])" "$1"; }

out=$("$qtune" bench model "$model" --batch 3 --threads 1 --warmup 1 --runs 4 --json)
check '[ "$(field batch <<<"$out")" = 3 ] && [ "$(field runtime <<<"$out")" = native ]' "fp32: $out"
check '/usr/bin/python3 -c "
import json, sys
d = json.loads(sys.argv[1])
assert d[\"runs\"] == 4 and d[\"warmup\"] == 1
assert 0 < d[\"min_ms\"] <= d[\"median_ms\"] <= d[\"max_ms\"], d
assert d[\"cpu_ms\"] > 0 and d[\"peak_rss_kb\"] > 0 and d[\"peak_rss_kb\"] >= d[\"model_rss_kb\"]
" "$out"' "fp32 figures do not hold together: $out"
out=$("$qtune" bench model "$model" --shape input=2x1x28x28 --runs 2 --reference --json)
check '[ "$(field batch <<<"$out")" = 2 ] && [ "$(field runtime <<<"$out")" = reference ]' "--shape/--reference: $out"
text=$("$qtune" bench model "$model" --runs 2)
check 'grep -q "median .* ms per batch (min .*, max .*) .* peak RSS" <<<"$text"' "text output: $text"

expect2() {  # expect2 WHAT_IN_MESSAGE ARGS...
  local what=$1; shift
  "$qtune" bench model "$@" > /dev/null 2> "$tmp/err"
  local rc=$?
  check '[ $rc = 2 ] && grep -q -- "$what" "$tmp/err"' "bench model $*: exit $rc, want 2 and '$what': $(cat "$tmp/err")"
}
expect2 "has no input 'x'" "$model" --shape x=1x1x28x28
expect2 "expected NAME=DxDx" "$model" --shape input
expect2 "rank 2" "$model" --shape input=1x784
expect2 "exclude each other" "$model" --reference --adaptor native
expect2 "nothing.onnx" "$src/nothing.onnx"
expect2 "positive integer" "$model" --runs 0
expect2 "usage" "$model" extra

data=$src/examples/fashion_mnist
if [ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  "$qtune" quantize "$model" --data "$data/calib.yaml" --out "$tmp/lenet.int8.onnx" > /dev/null
  out=$("$qtune" bench model "$tmp/lenet.int8.onnx" --batch 2 --runs 2 --json)
  check '[ "$(field batch <<<"$out")" = 2 ]' "QDQ: $out"
  # eval runs a QDQ model on the int8 kernels unless asked for the reference path.
  "$qtune" eval "$tmp/lenet.int8.onnx" --data "$data/test.yaml" --limit 100 --profile \
    > /dev/null 2> "$tmp/prof"
  check 'grep -q "^qtune::QConv " "$tmp/prof" && ! grep -q "^Conv " "$tmp/prof"' \
    "default eval of a QDQ model is not on the int8 kernels: $(cat "$tmp/prof")"
  "$qtune" eval "$tmp/lenet.int8.onnx" --data "$data/test.yaml" --limit 100 --profile --reference \
    > /dev/null 2> "$tmp/prof"
  check 'grep -q "^Conv " "$tmp/prof" && ! grep -q "qtune::" "$tmp/prof"' \
    "eval --reference does not run the QDQ graph as written: $(cat "$tmp/prof")"
else
  echo "SKIP (part): the Fashion-MNIST data is missing; the QDQ half is not checked"
fi
[ $fail = 0 ] && echo "bench model: timings, runtimes and bad input as expected"
exit $fail
