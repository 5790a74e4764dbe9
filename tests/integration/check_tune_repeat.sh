#!/usr/bin/env bash
# Two identical `qtune tune` runs on lenet with the performance objective choose the same config:
# latency decides acceptance as a measurement (median of timed runs with its spread and a noise
# margin, timed against the fp32 model in the same window), not as one sample, so timing noise
# does not flip verdicts. Both runs search 6 trials (timeout > 0) and must agree on every
# trial's config and on the config chosen among them, and on every trial's verdict except where
# the trial measured at the acceptance threshold in both runs (0.95-1.16x fp32, around the 5%
# margin): a threshold splits configs that fast by a few percent of noise, whatever its margin
# (one CI run measured the same config 0.99x and 1.08x fp32).
#   check_tune_repeat.sh QTUNE_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
cat > "$tmp/eval.yaml" <<YAML
dataset:
  format: idx
  images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
  labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
  limit: 2000
preprocess: {scale: 0.00392156862745098, mean: [0.2860], std: [0.3530], layout: NCHW}
batch_size: 100
YAML
cat > "$tmp/tune.yaml" <<YAML
model: $src/models/fashion_mnist/lenet.onnx
adaptor: native
data: {calibration: $ex/calib.yaml, evaluation: $tmp/eval.yaml}
metric: {name: top1}
tuning:
  strategy: basic
  accuracy_criterion: {relative: 0.01}
  exit_policy: {timeout: 300, max_trials: 6}
  objective: performance
quantization: {calibration_sampling_size: 200}
YAML
verdicts() {  # index, config hash, verdict and speed-up of every trial, then the chosen config
  /usr/bin/python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
for t in r['trials']:
    print(t['index'], t['hash'], t.get('accepted'), t.get('speedup_vs_fp32') or 0)
print('chosen', (r['chosen'] or {}).get('hash'))" "$1"
}
for run in 1 2; do
  "$qtune" tune "$tmp/tune.yaml" --out "$tmp/run$run" > "$tmp/log$run" 2>&1
  if [ ! -f "$tmp/run$run/report.json" ]; then
    echo "FAIL: run $run wrote no report"; cat "$tmp/log$run"; exit 1
  fi
  verdicts "$tmp/run$run/report.json" > "$tmp/verdicts$run"
done
if ! /usr/bin/python3 - "$tmp/verdicts1" "$tmp/verdicts2" <<'PY'
import sys
a = [l.split() for l in open(sys.argv[1])]
b = [l.split() for l in open(sys.argv[2])]
ok = len(a) == len(b) and a[-1] == b[-1]  # the same number of trials, the same chosen config
for x, y in zip(a[:-1], b[:-1]):
    if x[:2] != y[:2]:
        ok = False  # another trial index or config
    elif x[2] != y[2] and not all(0.95 <= float(v[3]) <= 1.16 for v in (x, y)):
        ok = False  # a verdict flipped away from the threshold
sys.exit(0 if ok else 1)
PY
then
  echo "FAIL: two identical runs differ (trial, config hash, accepted, speed-up; chosen)"
  paste "$tmp/verdicts1" "$tmp/verdicts2"
  tail -n 14 "$tmp/log1" "$tmp/log2"
  exit 1
fi
echo "identical runs agree: $(tail -n 1 "$tmp/verdicts1") after $(($(wc -l < "$tmp/verdicts1") - 1)) trials"
