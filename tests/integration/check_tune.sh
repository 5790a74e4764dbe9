#!/usr/bin/env bash
# `qtune tune` end to end on the bundled models: the run writes model.int8.onnx, best_tune_cfg.yaml
# and report.json; the written model evaluates (int8, native kernels) to exactly the metric the
# report chose (within 0.3 when ops were tuned to bf16: the QDQ file runs them in fp32); the
# written tune_cfg reproduces the chosen config hash; the exit code agrees
# with goal_met. Timing decides the performance objective, so that run only checks consistency.
#   check_tune.sh QTUNE_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"

write_cfg() {  # write_cfg FILE STRATEGY OBJECTIVE LOSS MODEL
  cat > "$1" <<YAML
model: $src/models/fashion_mnist/$5.onnx
adaptor: native
data: {calibration: $ex/calib.yaml, evaluation: $ex/test.yaml}
metric: {name: top1}
tuning:
  strategy: $2
  accuracy_criterion: {relative: $4}
  exit_policy: {timeout: 0, max_trials: 40}
  objective: $3
YAML
}

# The last run's goal (0.01% of resnet's fp32 top-1) is tighter than the default int8 config
# reaches: bisect must find another calibration recipe or fall ops back to meet it.
for run in "bisect accuracy 0.01 0 lenet" "basic accuracy 0.0001 0 lenet" \
           "bisect performance 0.01 any lenet" "bisect accuracy 0.0001 0 resnet"; do
  read -r strategy objective loss want model <<<"$run"
  out="$tmp/$model-$strategy-$objective-$loss"
  write_cfg "$tmp/tune.yaml" "$strategy" "$objective" "$loss" "$model"
  "$qtune" tune "$tmp/tune.yaml" --out "$out" > "$tmp/log" 2>&1
  rc=$?
  tail -n 3 "$tmp/log"
  report="$out/report.json"
  if [ ! -f "$report" ]; then echo "FAIL: $strategy/$objective: no report (rc $rc)"; cat "$tmp/log"; fail=1; continue; fi
  goal=$(tr -d '\n' < "$report" | json_field goal_met)
  if { [ "$goal" = true ] && [ $rc -ne 0 ]; } || { [ "$goal" = false ] && [ $rc -ne 1 ]; } ||
     { [ "$want" = 0 ] && [ $rc -ne 0 ]; }; then
    echo "FAIL: $strategy/$objective: exit $rc with goal_met=$goal"; fail=1; continue
  fi
  chosen=$(tr -d '\n' < "$report" | sed -n 's/.*"chosen": {\([^}]*\)}.*/\1/p')
  metric=$(json_field metric <<<"$chosen") hash=$(json_field hash <<<"$chosen")
  got=$("$qtune" eval "$out/model.int8.onnx" --data "$ex/test.yaml" --adaptor native --json | json_field top1)
  # Ops tuned to bf16 run in bf16 in the trial but as fp32 in the standard QDQ file, so only a
  # model without them must reproduce the reported metric exactly.
  bf16=$(grep -c '"chosen": "bf16"' "$report")
  tol=1e-6
  [ "$bf16" -gt 0 ] && tol=0.3
  if ! awk -v a="$metric" -v b="$got" -v t="$tol" 'BEGIN { d = a - b; exit !(d <= t && d >= -t) }'; then
    echo "FAIL: $strategy/$objective: report says $metric, the written model evaluates to $got" \
         "($bf16 bf16 ops, tolerance $tol)"; fail=1
  fi
  again=$("$qtune" quantize "$src/models/fashion_mnist/$model.onnx" --data "$ex/calib.yaml" \
            --tune-cfg "$out/best_tune_cfg.yaml" --out "$tmp/again.onnx" | sed -n 's/.*tune_cfg \([0-9a-f]*\).*/\1/p')
  if [ "$again" != "$hash" ]; then
    echo "FAIL: $strategy/$objective: best_tune_cfg.yaml hashes to '$again', report chose '$hash'"; fail=1
  fi
  trials=$(grep -c '"index"' "$report")
  echo "ok: $model $strategy/$objective loss $loss: exit $rc, goal_met $goal, $((trials - 1)) trials, chosen top-1 $metric (model evaluates to $got)"
done

# A goal on a continuous metric that only fallback reaches (cosine to fp32 >= 0.99999 on lenet):
# bisect ranks ops by fallback gain, so the classifier layer comes first and its prefix search
# needs fewer trials than basic's one-op-at-a-time fallback.
declare -A cos_trials
for strategy in bisect basic; do
  cat > "$tmp/cos.yaml" <<YAML
model: $src/models/fashion_mnist/lenet.onnx
data: {calibration: $ex/calib.yaml, evaluation: $ex/test.yaml}
metric: {name: cosine}
tuning: {strategy: $strategy, accuracy_criterion: {relative: 0.00001}, exit_policy: {timeout: 0, max_trials: 40}}
YAML
  "$qtune" tune "$tmp/cos.yaml" --out "$tmp/cos-$strategy" > "$tmp/log" 2>&1
  rc=$?
  cos_trials[$strategy]=$(grep -c '"index"' "$tmp/cos-$strategy/report.json" 2>/dev/null)
  if [ $rc -ne 0 ]; then echo "FAIL: cosine goal with $strategy: exit $rc"; tail -n 3 "$tmp/log"; fail=1; fi
done
top=$(tr -d '\n' < "$tmp/cos-bisect/report.json" | grep -o '"name": "[^"]*", "op_type": "[^"]*", "options": [0-9]*, "sensitivity": [-0-9.e]*' |
      sed 's/"name": "\([^"]*\)".*"sensitivity": \(.*\)/\2 \1/' | sort -g -r | head -n1 | cut -d' ' -f2)
b=$((${cos_trials[bisect]:-0} - 1)) a=$((${cos_trials[basic]:-0} - 1))
if [ "$top" != "/fc2/Gemm" ] || [ "$b" -ge "$a" ]; then
  echo "FAIL: cosine goal: bisect's top fallback gain '$top' (want /fc2/Gemm), bisect $b trials, basic $a"; fail=1
else
  echo "ok: cosine goal on lenet: bisect ranks $top first, $b trials against basic's $a"
fi

# The shipped example configs (1% goal, timeout 600, 40 trials): after the first pass the run
# refines the calibration recipe on the same kernels, and the choice is at least as accurate as
# PyTorch's own int8 model (reference.json). Which of two equally fast kernel mixes wins can
# depend on timing, but every candidate of these runs is judged on the same deterministic metric.
ref=$(tr -d ' \n' < "$src/models/fashion_mnist/reference.json")
for model in lenet resnet vit; do
  out="$tmp/example-$model"
  "$qtune" tune "$ex/$model.tune.yaml" --out "$out" > "$tmp/log" 2>&1
  rc=$?
  peer=$(sed -n "s/.*\"$model\":{[^}]*\"int8_peer\":{[^}]*\"accuracy\":\([0-9.]*\).*/\1/p" <<<"$ref")
  chosen=$(tr -d '\n' < "$out/report.json" 2>/dev/null | sed -n 's/.*"chosen": {\([^}]*\)}.*/\1/p')
  metric=$(json_field metric <<<"$chosen")
  recipe=$(grep -c '"stage": "recipe-' "$out/report.json" 2>/dev/null)
  if [ $rc -ne 0 ] || [ -z "$peer" ] || [ -z "$metric" ] || [ "${recipe:-0}" -eq 0 ] ||
     ! awk -v a="$metric" -v p="$peer" 'BEGIN { exit !(a >= p - 1e-9) }'; then
    echo "FAIL: example $model: exit $rc, chosen top-1 '$metric', PyTorch int8 '$peer', $recipe recipe trials"
    tail -n 5 "$tmp/log"; fail=1
  else
    echo "ok: example $model: chosen top-1 $metric >= PyTorch int8 $peer after $recipe recipe trials"
  fi
done

# Every metric kind, end to end on lenet: top-3 is at least fp32 top-1 (90.89), cosine against
# fp32 is 1 for fp32 itself, mse is 0, a command's last printed number is taken.
for run in "topk|{name: topk, k: 3}|90.89|100" "cosine|{name: cosine}|1|1" "mse|{name: mse}|0|0" \
           "command|{name: command, command: \"echo metric 0.75\"}|0.75|0.75"; do
  IFS='|' read -r kind metric lo hi <<<"$run"
  cat > "$tmp/metric.yaml" <<YAML
model: $src/models/fashion_mnist/lenet.onnx
data: {calibration: $ex/calib.yaml, evaluation: $ex/test.yaml}
metric: $metric
tuning: {strategy: basic, accuracy_criterion: {absolute: 0.01}, exit_policy: {max_trials: 2}, objective: accuracy}
YAML
  "$qtune" tune "$tmp/metric.yaml" --out "$tmp/metric-$kind" > "$tmp/log" 2>&1
  rc=$?
  base=$(tr -d '\n' < "$tmp/metric-$kind/report.json" 2>/dev/null |
         sed -n 's/.*"baseline": {"metric": \([^,]*\),.*/\1/p')
  if [ $rc -ne 0 ] || [ -z "$base" ] ||
     ! awk -v b="$base" -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(b >= lo - 1e-9 && b <= hi + 1e-9) }'; then
    echo "FAIL: metric $kind: exit $rc, fp32 baseline '$base' (want $lo..$hi)"; tail -n 3 "$tmp/log"; fail=1
  else
    echo "ok: metric $kind: fp32 baseline $base, tuned and met the goal"
  fi
done
exit $fail
