#!/usr/bin/env bash
# Every bad input to every subcommand exits 2 with a message that names the culprit (the file
# and place, or the flag) and what would be valid; none crashes, none exits 3. A table: one
# case per line, then checks that need more than one command.
#   check_bad_input.sh QTUNE SOURCE_DIR
set -uo pipefail
qtune=$(realpath "$1")
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
cases=0

lenet=$src/models/fashion_mnist/lenet.onnx
calib=$src/examples/fashion_mnist/calib.yaml
test_yaml=$src/examples/fashion_mnist/test.yaml
images=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
labels=/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz

# --- the bad files ------------------------------------------------------------------------
head -c 300 /dev/urandom > "$tmp/garbage.onnx"
head -c 1000 "$lenet" > "$tmp/truncated.onnx"
: > "$tmp/empty.onnx"
mkdir -p "$tmp/dir.onnx"
# Data YAMLs: a wrong value, an unknown key, bad YAML, numbers out of range, missing and broken
# dataset files.
printf 'dataset:\n  format: idxx\n' > "$tmp/bad_format.yaml"
printf 'dataset: {format: idx, images: %s, labels: %s}\nbatchsize: 10\n' "$images" "$labels" > "$tmp/unknown_key.yaml"
printf 'dataset: {format: idx, images: %s\n' "$images" > "$tmp/syntax.yaml"
printf 'dataset: {format: idx, images: %s, labels: %s}\nbatch_size: 0\n' "$images" "$labels" > "$tmp/batch0.yaml"
printf 'dataset: {format: idx, images: %s, labels: %s}\npreprocess: {mean: [0.1, 0.2], std: [0.3]}\n' "$images" "$labels" > "$tmp/mean_std.yaml"
printf 'dataset: {format: idx, images: %s/no_such.gz}\n' "$tmp" > "$tmp/missing_images.yaml"
head -c 200 /dev/urandom > "$tmp/garbage.gz"
printf 'dataset: {format: idx, images: %s/garbage.gz}\n' "$tmp" > "$tmp/garbage_images.yaml"
gzip -dc "$images" | head -c 5000 > "$tmp/truncated.idx"
printf 'dataset: {format: idx, images: %s/truncated.idx}\n' "$tmp" > "$tmp/truncated_images.yaml"
printf 'not an npy file at all' > "$tmp/garbage.npy"
printf 'dataset: {format: npy, images: %s/garbage.npy}\n' "$tmp" > "$tmp/garbage_npy.yaml"
# Tuning YAMLs.
tune_head() { printf 'model: %s\ndata: {calibration: %s, evaluation: %s}\n' "$1" "$calib" "$test_yaml"; }
{ tune_head "$lenet"; printf 'tuning: {strategy: annealing}\n'; } > "$tmp/bad_strategy.yaml"
{ tune_head "$lenet"; printf 'quantization:\n  op_type_dict: {LSTM: {precision: fp32}}\n'; } > "$tmp/bad_space.yaml"
{ tune_head "$lenet"; printf 'tunning: {}\n'; } > "$tmp/unknown_tune_key.yaml"
{ tune_head "$lenet"; printf 'metric: {name: top3}\n'; } > "$tmp/bad_metric.yaml"
{ tune_head "$lenet"; printf 'tuning: {exit_policy: {max_trials: 0}}\n'; } > "$tmp/bad_trials.yaml"
{ tune_head "$lenet"; printf 'adaptor: tpu\n'; } > "$tmp/bad_adaptor.yaml"
{ tune_head "$lenet"; printf 'tuning: [strategy\n'; } > "$tmp/tune_syntax.yaml"
tune_head "$tmp/garbage.onnx" > "$tmp/garbage_model.yaml"
tune_head "$tmp/no_such.onnx" > "$tmp/missing_model.yaml"
printf 'model: %s\ndata: {evaluation: %s/missing_images.yaml}\n' "$lenet" "$tmp" > "$tmp/bad_data_ref.yaml"
printf 'model: %s\ndata: {evaluation: %s/no_such_data.yaml}\n' "$lenet" "$tmp" > "$tmp/missing_data.yaml"
: > "$tmp/empty_tune.yaml"
printf -- '- just\n- a list\n' > "$tmp/list_tune.yaml"
# tune_cfg files.
printf 'calib_sampling_size: 100\nops:\n  /conv1/Conv: {precision: int9}\n' > "$tmp/bad_cfg.yaml"
printf 'calib_sampling_size: 100\nops:\n  /no/such/Conv: {precision: fp32}\n' > "$tmp/unknown_op.yaml"
printf 'calib_sampling_size: 100\nops:\n  /conv1/Conv: {precision: fp32}\n  /conv2/Conv: {precision: fp32}\n  /fc1/Gemm: {precision: fp32}\n  /fc2/Gemm: {precision: fp32}\n' > "$tmp/no_int8.yaml"
# Capability YAMLs.
mkdir -p "$tmp/caps_syntax" "$tmp/caps_key"
cp "$src"/capabilities/*.yaml "$tmp/caps_syntax/" && printf 'version: [1\n' > "$tmp/caps_syntax/native.yaml"
cp "$src"/capabilities/*.yaml "$tmp/caps_key/" && sed -i '0,/^\(\s*\)\([a-z_]*\):/s//\1no_such_key:/' "$tmp/caps_key/native.yaml"
# Keys.
"$qtune" keygen "$tmp/good" > /dev/null || { echo "FAIL: qtune keygen"; exit 1; }
printf 'not a key\n' > "$tmp/garbage.key"
mkdir -p "$tmp/no_pubs" "$tmp/bad_pubs"
printf 'short\n' > "$tmp/bad_pubs/w.pub"
# run inputs.
mkdir -p "$tmp/no_inputs" "$tmp/bad_inputs"
cp "$tmp/garbage.npy" "$tmp/bad_inputs/input_0.npy"
# conformance exclusions.
printf 'test_abs\n' > "$tmp/exclusions.txt"

# --- the table: CODE<TAB>PATTERN<TAB>ARGUMENTS (word-split; no spaces inside one argument) ------
run_case() {  # run_case CODE PATTERN ARGS...
  local code=$1 pattern=$2
  shift 2
  cases=$((cases + 1))
  out=$(cd "$tmp" && env $env_prefix "$qtune" "$@" 2>&1 < /dev/null)
  got=$?
  if [ "$got" -ne "$code" ] || ! grep -qF -- "$pattern" <<<"$out"; then
    echo "FAIL: qtune $* -> exit $got (want $code, message with '$pattern'): $out"
    fail=1
  else
    echo "ok: qtune $* -> exit $got: $(head -n1 <<<"$out")"
  fi
}
env_prefix=""
while IFS=$'\t' read -r code pattern args; do
  [ -z "$code" ] || [ "${code:0:1}" = "#" ] && continue
  eval "set -- $args"
  run_case "$code" "$pattern" "$@"
done <<EOF
# command line: unknown commands and options, missing and malformed values
2	unknown command 'frobnicate'	frobnicate
2	unknown option --no-such-flag	eval $lenet --data $test_yaml --no-such-flag
2	option --data needs a value	eval $lenet --data
2	needs --data DATA.yaml	eval $lenet
2	expects one MODEL.onnx	eval --data $test_yaml
2	--limit expects a positive integer, got '0'	eval $lenet --data $test_yaml --limit 0
2	--threads expects a positive integer, got 'many'	eval $lenet --data $test_yaml --threads many
2	option --json takes no value	ops --json=yes
2	takes no operand	ops extra
2	expects one MODEL.onnx	check
2	expects one CONFIG.yaml	tune
2	expects one CONFIG.yaml	tune $tmp/bad_strategy.yaml $tmp/bad_space.yaml
2	--workers expects a positive integer, got 'two'	tune $tmp/bad_strategy.yaml --workers two
2	needs --bind ENDPOINT	coordinator $tmp/bad_strategy.yaml
2	--heartbeat-ms expects milliseconds from 10 to 60000, got '-5'	coordinator $tmp/bad_strategy.yaml --bind tcp://127.0.0.1:0 --heartbeat-ms -5
2	--trial-deadline-s expects a positive integer, got '0'	coordinator $tmp/bad_strategy.yaml --bind tcp://127.0.0.1:0 --trial-deadline-s 0
2	--max-inflight-mb: at most 1048576	coordinator $tmp/bad_strategy.yaml --bind tcp://127.0.0.1:0 --max-inflight-mb 99999999
2	--progress-every: expected a positive number of seconds, got '0'	tune $src/examples/fashion_mnist/lenet.tune.yaml --out $tmp/tune_out --progress-every 0
2	--trial-deadline-s: at most a week	tune $tmp/bad_strategy.yaml --workers 1 --trial-deadline-s 999999999
2	unknown option --max-inflight-mb	tune $tmp/bad_strategy.yaml --max-inflight-mb 5
2	accepts connections from other hosts	coordinator $tmp/bad_strategy.yaml --bind tcp://*:0
2	--curve and --insecure exclude each other	coordinator $tmp/bad_strategy.yaml --bind tcp://*:0 --curve --insecure
2	--curve needs --curve-secret FILE	coordinator $tmp/bad_strategy.yaml --bind tcp://*:0 --curve
2	needs --connect ENDPOINT	worker
2	--threads expects a positive integer, got '0'	worker --connect tcp://127.0.0.1:1 --threads 0
2	--cache and --shared-path exclude each other	worker --connect tcp://127.0.0.1:1 --cache $tmp --shared-path
2	--cache-max-bytes expects a positive integer, got 'x'	worker --connect tcp://127.0.0.1:1 --cache-max-bytes x
2	option --allow-metric-command takes no value	worker --connect tcp://127.0.0.1:1 --allow-metric-command=yes
2	leaves this host	worker --connect tcp://192.0.2.1:5555
2	--timeout-ms expects a positive integer, got 'x'	health --connect tcp://127.0.0.1:1 --timeout-ms x
2	expects one OUT_PREFIX	keygen
2	--top expects a positive integer, got '0'	diagnose $tmp/bad_strategy.yaml --top 0
2	--rank-by expects isolated or accumulated, got 'worst'	diagnose $tmp/bad_strategy.yaml --rank-by worst
2	--samples expects a positive integer, got '1e3'	diagnose $tmp/bad_strategy.yaml --samples 1e3
2	expects one MODEL.onnx	quantize --data $calib --out $tmp/o.onnx
2	needs --data CALIB.yaml and --out OUT.onnx	quantize $lenet --data $calib
2	needs --out DIR	run $lenet --inputs $tmp
2	needs either --inputs DIR or --data DATA.yaml	run $lenet --inputs $tmp --data $test_yaml --out $tmp/run_out
2	needs either --inputs DIR or --data DATA.yaml	run $lenet --out $tmp/run_out
2	--limit needs --data	run $lenet --inputs $tmp --limit 3 --out $tmp/run_out
2	--limit expects a positive integer, got '0'	run $lenet --data $test_yaml --limit 0 --out $tmp/run_out
2	expects one OUT_DIR	report
2	not a directory	report $tmp/no_such_run
2	no journal: not the output directory	report $tmp
2	unknown option --html	report $tmp --html
2	expects at least one DIR	conformance
2	expects kernels, peak, model or dispatch	bench
2	expects kernels, peak, model or dispatch	bench fastest
2	usage: qtune bench model MODEL.onnx	bench model
2	/nonexist.onnx: cannot open	bench model /nonexist.onnx
2	--batch expects a positive integer, got '0'	bench model models/fashion_mnist/lenet.onnx --batch 0
2	--runs expects a positive integer, got 'x'	bench model models/fashion_mnist/lenet.onnx --runs x
2	--seconds expects a positive number, got 'abc'	bench peak --seconds abc
2	--threads expects a positive integer, got 'x'	bench kernels --threads x
2	--workers expects	bench dispatch --workers 1,x
2	takes no operand	version now
2	no command 'nope'	help nope
2	unknown option --html	help --html
# models
2	garbage.onnx	eval $tmp/garbage.onnx --data $test_yaml
2	truncated.onnx	eval $tmp/truncated.onnx --data $test_yaml
2	empty.onnx	eval $tmp/empty.onnx --data $test_yaml
2	dir.onnx	eval $tmp/dir.onnx --data $test_yaml
2	no_such.onnx	eval $tmp/no_such.onnx --data $test_yaml
2	garbage.onnx	eval $tmp/garbage.onnx --data $test_yaml --adaptor onednn
2	garbage.onnx	check $tmp/garbage.onnx
2	garbage.onnx	caps $tmp/garbage.onnx
2	garbage.onnx	run $tmp/garbage.onnx --inputs $tmp/no_inputs --out $tmp/run_out
2	garbage.onnx	quantize $tmp/garbage.onnx --data $calib --out $tmp/o.onnx
# data YAMLs and dataset files
2	bad_format.yaml:2	eval $lenet --data $tmp/bad_format.yaml
2	unknown_key.yaml:2	eval $lenet --data $tmp/unknown_key.yaml
2	syntax.yaml:	eval $lenet --data $tmp/syntax.yaml
2	batch0.yaml:2	eval $lenet --data $tmp/batch0.yaml
2	mean_std.yaml:2	eval $lenet --data $tmp/mean_std.yaml
2	no_such.gz	eval $lenet --data $tmp/missing_images.yaml
2	garbage.gz	eval $lenet --data $tmp/garbage_images.yaml
2	truncated.idx	eval $lenet --data $tmp/truncated_images.yaml
2	garbage.npy	eval $lenet --data $tmp/garbage_npy.yaml
2	no_such_data.yaml	eval $lenet --data $tmp/no_such_data.yaml
2	garbage.gz	quantize $lenet --data $tmp/garbage_images.yaml --out $tmp/o.onnx
2	input_0.npy: missing	run $lenet --inputs $tmp/no_inputs --out $tmp/run_out
2	input_0.npy	run $lenet --inputs $tmp/bad_inputs --out $tmp/run_out
# tuning YAMLs, through every command that reads one
2	bad_strategy.yaml:3:20: tuning.strategy: unknown strategy 'annealing'	tune $tmp/bad_strategy.yaml --out $tmp/tune_out
2	bad_space.yaml:4:	tune $tmp/bad_space.yaml --out $tmp/tune_out
2	unknown_tune_key.yaml:3:1: tunning: unknown key (expected one of	tune $tmp/unknown_tune_key.yaml --out $tmp/tune_out
2	bad_metric.yaml:3:16: metric.name: 'top3' is not one of	tune $tmp/bad_metric.yaml --out $tmp/tune_out
2	bad_trials.yaml:3:36	tune $tmp/bad_trials.yaml --out $tmp/tune_out
2	bad_adaptor.yaml:3:10: adaptor: unknown adaptor 'tpu' (known:	tune $tmp/bad_adaptor.yaml --out $tmp/tune_out
2	tune_syntax.yaml:	tune $tmp/tune_syntax.yaml --out $tmp/tune_out
2	garbage_model.yaml:1:8: model: $tmp/garbage.onnx: not a valid ONNX model	tune $tmp/garbage_model.yaml --out $tmp/tune_out
2	missing_model.yaml:1:8: model: $tmp/no_such.onnx: cannot open	tune $tmp/missing_model.yaml --out $tmp/tune_out
2	bad_data_ref.yaml:2:20: data.evaluation: $tmp/no_such.gz: cannot open	tune $tmp/bad_data_ref.yaml --out $tmp/tune_out
2	missing_data.yaml:2:20: data.evaluation: $tmp/no_such_data.yaml: cannot open	tune $tmp/missing_data.yaml --out $tmp/tune_out
2	empty_tune.yaml	tune $tmp/empty_tune.yaml --out $tmp/tune_out
2	list_tune.yaml:1:1	tune $tmp/list_tune.yaml --out $tmp/tune_out
2	no_such_config.yaml	tune $tmp/no_such_config.yaml --out $tmp/tune_out
2	bad_strategy.yaml:3:20	coordinator $tmp/bad_strategy.yaml --bind tcp://127.0.0.1:0 --out $tmp/tune_out
2	bad_space.yaml:4:	diagnose $tmp/bad_space.yaml --out $tmp/tune_out
2	garbage_model.yaml:1:8: model: $tmp/garbage.onnx	diagnose $tmp/garbage_model.yaml --out $tmp/tune_out
2	tune_syntax.yaml:	diagnose $tmp/tune_syntax.yaml --out $tmp/tune_out
2	bad_data_ref.yaml:2:20: data.evaluation: $tmp/no_such.gz	diagnose $tmp/bad_data_ref.yaml --out $tmp/tune_out
# tune_cfg files
2	bad_cfg.yaml:3	quantize $lenet --data $calib --tune-cfg $tmp/bad_cfg.yaml --out $tmp/o.onnx
2	unknown_op.yaml: tune_cfg op '/no/such/Conv'	quantize $lenet --data $calib --tune-cfg $tmp/unknown_op.yaml --out $tmp/o.onnx
2	bad_cfg.yaml:3	diagnose $src/examples/fashion_mnist/lenet.tune.yaml --tune-cfg $tmp/bad_cfg.yaml --out $tmp/tune_out
2	unknown_op.yaml: tune_cfg op '/no/such/Conv'	diagnose $src/examples/fashion_mnist/lenet.tune.yaml --tune-cfg $tmp/unknown_op.yaml --out $tmp/tune_out
2	no op is int8	diagnose $src/examples/fashion_mnist/lenet.tune.yaml --tune-cfg $tmp/no_int8.yaml --out $tmp/tune_out
2	unknown adaptor 'nope'	quantize $lenet --data $calib --adaptor nope --out $tmp/o.onnx
# key files
2	garbage.key	coordinator $tmp/bad_strategy.yaml --bind tcp://*:0 --curve --curve-secret $tmp/garbage.key --curve-allow $tmp/good.pub
2	no_such.key	coordinator $tmp/bad_strategy.yaml --bind tcp://*:0 --curve --curve-secret $tmp/no_such.key --curve-allow $tmp/good.pub
2	holds no *.pub key file	coordinator $tmp/bad_strategy.yaml --bind tcp://*:0 --curve --curve-secret $tmp/good.key --curve-allow $tmp/no_pubs
2	w.pub	coordinator $tmp/bad_strategy.yaml --bind tcp://*:0 --curve --curve-secret $tmp/good.key --curve-allow $tmp/bad_pubs
2	garbage.key	worker --connect tcp://127.0.0.1:1 --curve --curve-secret $tmp/garbage.key --curve-server-key $tmp/good.pub
2	garbage.key	worker --connect tcp://127.0.0.1:1 --curve --curve-secret $tmp/good.key --curve-server-key $tmp/garbage.key
2	garbage.key	health --connect tcp://127.0.0.1:1 --curve --curve-secret $tmp/garbage.key --curve-server-key $tmp/good.pub
2	good.key	keygen $tmp/good
2	no_such_dir	keygen $tmp/no_such_dir/k
# conformance inputs
2	no_such_exclusions.txt	conformance $tmp --exclusions $tmp/no_such_exclusions.txt
EOF

# Capability YAMLs come from QTUNE_CAPABILITIES_DIR: a broken one is named with its place.
env_prefix="QTUNE_CAPABILITIES_DIR=$tmp/caps_syntax"
run_case 2 "caps_syntax/native.yaml:" caps "$lenet"
run_case 2 "caps_syntax/native.yaml:" quantize "$lenet" --data "$calib" --out "$tmp/o.onnx"
env_prefix="QTUNE_CAPABILITIES_DIR=$tmp/caps_key"
run_case 2 "caps_key/native.yaml:" caps "$lenet"
# A flag variable of the environment that is no flag value is named.
env_prefix="QTUNE_RESUME=maybe"
run_case 2 "QTUNE_RESUME" tune "$tmp/bad_strategy.yaml"
env_prefix="QTUNE_QUIET=loud"
run_case 2 "QTUNE_QUIET" tune "$tmp/bad_strategy.yaml"
# The size limits come from the environment for every command.
env_prefix="QTUNE_MAX_TENSOR_BYTES=abc"
run_case 2 "QTUNE_MAX_TENSOR_BYTES: expects a positive number of bytes, got 'abc'" eval "$lenet" --data "$test_yaml"
env_prefix="QTUNE_MAX_MODEL_BYTES=1000"
run_case 2 "lenet.onnx" check "$lenet"
env_prefix=""

# Nothing was left behind by the rejected runs.
[ ! -e "$tmp/o.onnx" ] || { echo "FAIL: a failed quantize left o.onnx behind"; fail=1; }
[ ! -e "$tmp/tune_out" ] || { echo "FAIL: a rejected config left tune_out behind"; fail=1; }

echo "$cases bad inputs checked"
exit $fail
