#!/usr/bin/env bash
# Malformed models, data configs and arguments must exit 2 with a message naming the culprit,
# never crash.
set -uo pipefail
qtune=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

expect() {  # expect CODE PATTERN -- command...
  local code=$1 pattern=$2
  shift 3
  out=$("$@" 2>&1)
  got=$?
  if [ "$got" -ne "$code" ] || ! grep -q -- "$pattern" <<<"$out"; then
    echo "FAIL: $* -> exit $got (want $code), output: $out"
    fail=1
  else
    echo "ok: $* -> exit $got: $(head -n1 <<<"$out")"
  fi
}

head -c 300 /dev/urandom > "$tmp/garbage.onnx"
expect 2 "garbage.onnx" -- "$qtune" eval "$tmp/garbage.onnx" --data "$src/examples/fashion_mnist/test.yaml"
head -c 1000 "$src/models/fashion_mnist/lenet.onnx" > "$tmp/truncated.onnx"
expect 2 "truncated.onnx" -- "$qtune" eval "$tmp/truncated.onnx" --data "$src/examples/fashion_mnist/test.yaml"
printf 'dataset:\n  format: idxx\n' > "$tmp/bad.yaml"
expect 2 "bad.yaml:2" -- "$qtune" eval "$src/models/fashion_mnist/lenet.onnx" --data "$tmp/bad.yaml"
expect 2 "unknown option" -- "$qtune" eval "$src/models/fashion_mnist/lenet.onnx" --no-such-flag
expect 2 "unknown command" -- "$qtune" frobnicate

abs_src=$(cd "$src" && pwd)
lenet="$abs_src/models/fashion_mnist/lenet.onnx" calib="$abs_src/examples/fashion_mnist/calib.yaml"
expect 2 "unknown adaptor 'nope'" -- "$qtune" quantize "$lenet" --data "$calib" --adaptor nope --out "$tmp/o.onnx"
printf 'calib_sampling_size: 100\nops:\n  /conv1/Conv: {precision: int9}\n' > "$tmp/bad_cfg.yaml"
expect 2 "bad_cfg.yaml:3" -- "$qtune" quantize "$lenet" --data "$calib" --tune-cfg "$tmp/bad_cfg.yaml" --out "$tmp/o.onnx"
printf 'calib_sampling_size: 100\nops:\n  /no/such/Conv: {precision: fp32}\n' > "$tmp/unknown_op.yaml"
expect 2 "/no/such/Conv" -- "$qtune" quantize "$lenet" --data "$calib" --tune-cfg "$tmp/unknown_op.yaml" --out "$tmp/o.onnx"
[ ! -e "$tmp/o.onnx" ] || { echo "FAIL: a failed quantize left $tmp/o.onnx behind"; fail=1; }
expect 2 "garbage.onnx" -- "$qtune" eval "$tmp/garbage.onnx" --data "$src/examples/fashion_mnist/test.yaml" --adaptor onednn
printf 'model: %s\ndata: {evaluation: %s}\ntuning: {strategy: annealing}\n' "$lenet" "$abs_src/examples/fashion_mnist/test.yaml" > "$tmp/bad_tune.yaml"
expect 2 "bad_tune.yaml:3:20" -- "$qtune" tune "$tmp/bad_tune.yaml" --out "$tmp/tune_out"
printf 'model: %s\ndata: {evaluation: %s}\nquantization:\n  op_type_dict: {LSTM: {precision: fp32}}\n' "$lenet" "$abs_src/examples/fashion_mnist/test.yaml" > "$tmp/bad_space.yaml"
expect 2 "bad_space.yaml:4:" -- "$qtune" tune "$tmp/bad_space.yaml" --out "$tmp/tune_out"
printf 'model: %s\ndata: {evaluation: %s}\n' "$tmp/garbage.onnx" "$abs_src/examples/fashion_mnist/test.yaml" > "$tmp/garbage_model.yaml"
expect 2 "garbage.onnx" -- "$qtune" tune "$tmp/garbage_model.yaml" --out "$tmp/tune_out"
[ ! -e "$tmp/tune_out" ] || { echo "FAIL: a rejected tune config left $tmp/tune_out behind"; fail=1; }
exit $fail
