#!/usr/bin/env bash
# Checkpoint and resume through the real binary: a tuning run SIGKILLed after k trials (several
# k) and resumed with --resume ends with the uninterrupted run's choice and trial sequence,
# evaluating only the trials the journal did not hold; a damaged journal either resumes
# correctly or stops with exit 2 and a message; a damaged calibration.stats is recomputed; a
# changed goal is refused unless allowed;
# --reuse takes an earlier run's results instead of evaluating them.
#   check_resume.sh QTUNE_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
field() { tr -d '\n' < "$1" | json_field "$2"; }
chosen_hash() { tr -d '\n' < "$1" | sed -n 's/.*"chosen": {[^}]*"hash": "\([0-9a-f]*\)".*/\1/p'; }
trial_hashes() { grep -o '"index": [0-9]*, "stage": "[^"]*", "hash": "[0-9a-f]*"' "$1" | sed 's/.*"hash": //'; }

# Timing-free: the accuracy objective picks the most accurate trial, and a timeout far away keeps
# basic searching until max_trials, the same way every time.
write_cfg() {  # write_cfg FILE LOSS
  cat > "$1" <<YAML
model: $src/models/fashion_mnist/resnet.onnx
adaptor: native
data: {calibration: $ex/calib.yaml, evaluation: $ex/test.yaml}
metric: {name: top1}
tuning:
  strategy: basic
  accuracy_criterion: {relative: $2}
  exit_policy: {timeout: 3600, max_trials: 10}
  objective: accuracy
quantization: {calibration_sampling_size: 300}
YAML
}
write_cfg "$tmp/tune.yaml" 0

"$qtune" tune "$tmp/tune.yaml" --out "$tmp/full" > "$tmp/full.log" 2>&1
rc_full=$?
total=$(trial_hashes "$tmp/full/report.json" | wc -l)
want=$(chosen_hash "$tmp/full/report.json")
echo "uninterrupted: exit $rc_full, $total trials, chosen $want"
if [ -z "$want" ] || [ "$total" -lt 4 ]; then echo "FAIL: the reference run did not produce enough trials"; cat "$tmp/full.log"; exit 1; fi

for k in 1 $((2 + RANDOM % (total - 3))) $((total - 1)); do
  out="$tmp/kill-$k"
  "$qtune" tune "$tmp/tune.yaml" --out "$out" > "$tmp/run.log" 2>&1 &
  pid=$!
  # Kill as soon as trial k-1 has been reported (it is journaled before it is printed).
  for _ in $(seq 1 600); do
    grep -q "^trial $((k - 1)) (" "$tmp/run.log" 2>/dev/null && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
  done
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  "$qtune" tune "$tmp/tune.yaml" --out "$out" --resume > "$tmp/resume.log" 2>&1
  rc=$?
  if ! grep -q "calibration statistics (300 samples) taken from" "$tmp/resume.log"; then
    echo "FAIL: the resumed run calibrated again instead of reading its checkpointed statistics"; fail=1
  fi
  recorded=$(sed -n 's/^resuming from .*: \([0-9]*\) trial(s) recorded.*/\1/p' "$tmp/resume.log")
  got=$(chosen_hash "$out/report.json")
  reused=$(field "$out/report.json" trials_reused) evaluated=$(field "$out/report.json" trials_evaluated)
  if [ "$rc" != "$rc_full" ] || [ "$got" != "$want" ] || [ -z "$recorded" ] ||
     [ "$reused" != "$recorded" ] || [ $((reused + evaluated)) != "$total" ] ||
     [ "$(trial_hashes "$out/report.json")" != "$(trial_hashes "$tmp/full/report.json")" ]; then
    echo "FAIL: killed after trial $((k - 1)): exit $rc, chosen '$got' (want $want), journal held" \
         "'$recorded', reused $reused + evaluated $evaluated (want $total)"
    tail -n 5 "$tmp/resume.log"
    fail=1
  else
    echo "ok: killed after $recorded trial(s); resume evaluated $evaluated, reused $reused, same $total-trial sequence and choice"
  fi
done

# A damaged journal: a flipped byte in its middle must be refused (exit 2, message), or, if it
# only hit the last record, resume correctly.
cp -r "$tmp/full" "$tmp/damaged"
j="$tmp/damaged/journal.qtj"
size=$(stat -c %s "$j")
printf '\xff' | dd of="$j" bs=1 seek=$((size / 2)) conv=notrunc status=none
"$qtune" tune "$tmp/tune.yaml" --out "$tmp/damaged" --resume > "$tmp/damaged.log" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "journal.qtj" "$tmp/damaged.log"; then
  echo "ok: damaged journal refused: $(grep journal.qtj "$tmp/damaged.log" | head -n1)"
elif [ $rc -eq "$rc_full" ] && [ "$(chosen_hash "$tmp/damaged/report.json")" = "$want" ]; then
  echo "ok: damaged journal resumed with the same choice"
else
  echo "FAIL: damaged journal: exit $rc"; cat "$tmp/damaged.log"; fail=1
fi

# A damaged calibration.stats beside an intact journal: recomputed (calibration is deterministic),
# not a reason to abort the resume.
cp -r "$tmp/full" "$tmp/stats"
s="$tmp/stats/calibration.stats"
printf '\xff\xff\xff\xff' | dd of="$s" bs=1 seek=$(($(stat -c %s "$s") / 2)) conv=notrunc status=none
"$qtune" tune "$tmp/tune.yaml" --out "$tmp/stats" --resume > "$tmp/stats.log" 2>&1
rc=$?
"$qtune" tune "$tmp/tune.yaml" --out "$tmp/stats" --resume > "$tmp/stats2.log" 2>&1  # reads the rewritten file
if [ $rc -eq "$rc_full" ] && grep -q "calibration.stats: .*; calibrating again" "$tmp/stats.log" &&
   [ "$(chosen_hash "$tmp/stats/report.json")" = "$want" ] &&
   grep -q "calibration statistics (300 samples) taken from" "$tmp/stats2.log"; then
  echo "ok: damaged calibration.stats recomputed: $(grep "calibrating again" "$tmp/stats.log" | head -n1 | cut -c1-160)"
else
  echo "FAIL: damaged calibration.stats: exit $rc"; cat "$tmp/stats.log"; fail=1
fi

# A changed goal: refused, then allowed with --allow-changed-goal.
write_cfg "$tmp/tune2.yaml" 0.01
cp -r "$tmp/full" "$tmp/goal"
if "$qtune" tune "$tmp/tune2.yaml" --out "$tmp/goal" --resume > "$tmp/goal.log" 2>&1 || \
   ! grep -q "accuracy goal" "$tmp/goal.log"; then
  echo "FAIL: a changed goal was not refused"; cat "$tmp/goal.log"; fail=1
else
  echo "ok: changed goal refused: $(grep "accuracy goal" "$tmp/goal.log" | head -n1 | cut -c1-200)"
fi
if ! "$qtune" tune "$tmp/tune2.yaml" --out "$tmp/goal" --resume --allow-changed-goal > "$tmp/goal.log" 2>&1; then
  echo "FAIL: --allow-changed-goal"; cat "$tmp/goal.log"; fail=1
else
  echo "ok: --allow-changed-goal resumed under the new goal: evaluated $(field "$tmp/goal/report.json" trials_evaluated)"
fi

# --reuse: a fresh run with another strategy takes recorded results instead of evaluating.
sed 's/strategy: basic/strategy: bisect/' "$tmp/tune.yaml" > "$tmp/tune3.yaml"
"$qtune" tune "$tmp/tune3.yaml" --out "$tmp/reuse" --reuse "$tmp/full" > "$tmp/reuse.log" 2>&1
reused=$(field "$tmp/reuse/report.json" trials_reused)
if [ -z "$reused" ] || [ "$reused" -lt 1 ]; then
  echo "FAIL: --reuse reused nothing"; tail -n 5 "$tmp/reuse.log"; fail=1
else
  echo "ok: --reuse took $reused result(s) from the earlier run"
fi

# The coordinator is killed while its workers run: a resumed coordinator on the same endpoint gets
# them back (they reconnect) and ends with the same choice.
port=$((20000 + RANDOM % 20000))
ep="tcp://127.0.0.1:$port"
"$qtune" coordinator "$tmp/tune.yaml" --bind "$ep" --out "$tmp/coord" > "$tmp/coord.log" 2>&1 &
cpid=$!
for w in 1 2; do
  "$qtune" worker --connect "$ep" --threads 1 --cache "$tmp/cache-$w" --heartbeat-ms 200 \
    > "$tmp/worker-$w.log" 2>&1 &
  pids+=($!)
done
for _ in $(seq 1 1200); do
  grep -q "^trial 2 (" "$tmp/coord.log" 2>/dev/null && break
  kill -0 $cpid 2>/dev/null || break
  sleep 0.05
done
kill -9 $cpid 2>/dev/null
wait $cpid 2>/dev/null
timeout 300 "$qtune" coordinator "$tmp/tune.yaml" --bind "$ep" --out "$tmp/coord" --resume \
  > "$tmp/coord2.log" 2>&1
rc=$?
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
recorded=$(sed -n 's/^resuming from .*: \([0-9]*\) trial(s) recorded.*/\1/p' "$tmp/coord2.log")
got=$(chosen_hash "$tmp/coord/report.json" 2>/dev/null)
evaluated=$(field "$tmp/coord/report.json" trials_evaluated 2>/dev/null)
if [ "$rc" = "$rc_full" ] && [ "$got" = "$want" ] && [ -n "$recorded" ] &&
   [ "$(trial_hashes "$tmp/coord/report.json")" = "$(trial_hashes "$tmp/full/report.json")" ]; then
  echo "ok: coordinator killed after $recorded trial(s); its workers reconnected to the resumed one, which evaluated $evaluated and chose $got"
else
  echo "FAIL: coordinator resume: exit $rc (want $rc_full), chosen '$got' (want $want), journal held '$recorded'"
  tail -n 8 "$tmp/coord2.log"
  fail=1
fi
exit $fail
