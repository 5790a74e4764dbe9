#!/usr/bin/env bash
# Distributed tuning over loopback TCP, as separate processes: `qtune coordinator` plus three
# `qtune worker`s choose exactly the tune_cfg an in-process run chooses (report.json "chosen"
# hash), also when one worker is SIGKILLed in the middle of a trial; garbage, truncated,
# wrong-version and oversize frames sent to the coordinator are dropped without harm; and
# `qtune tune --workers 2` agrees too. With CURVE, a worker whose key is not listed is refused
# (it exits 2, the coordinator logs it) while the listed ones finish the run, one of them joining
# mid-run and getting trials. A command metric runs only on workers that allow it, and never
# through a shell. The accuracy objective keeps timing out of the choice.
#   check_distributed.sh QTUNE_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
use_private_binary
export XDG_CACHE_HOME="$tmp/xdg"  # workers' default file cache
hb=500  # heartbeat interval (ms): a killed worker is noticed after 3 of them

write_cfg() {  # write_cfg FILE MODEL STRATEGY LOSS
  cat > "$1" <<YAML
model: $src/models/fashion_mnist/$2.onnx
adaptor: native
data: {calibration: $ex/calib.yaml, evaluation: $ex/test.yaml}
metric: {name: top1}
tuning:
  strategy: $3
  accuracy_criterion: {relative: $4}
  exit_policy: {timeout: 0, max_trials: 40}
  objective: accuracy
YAML
}
chosen_hash() {
  tr -d '\n' < "$1/report.json" | sed -n 's/.*"chosen": {\([^}]*\)}.*/\1/p' |
    sed -n 's/.*"hash": *"\([0-9a-f]*\)".*/\1/p'
}
trial_count() { grep -c '"index"' "$1/report.json"; }
wait_for() {  # wait_for SECONDS COMMAND...: poll until COMMAND succeeds
  local until=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -ge "$until" ] && return 1
    sleep 0.1
  done
}

# distributed NAME CFG [kill]: coordinator + 3 workers; with "kill", SIGKILL the worker running
# trial 1 as soon as it starts. Bad frames go to the coordinator before the workers join.
distributed() {
  local name=$1 cfg=$2 mode=${3:-} out="$tmp/$1-dist" clog="$tmp/$1-coord.log"
  "$qtune" coordinator "$cfg" --bind "tcp://127.0.0.1:*" --out "$out" --heartbeat-ms $hb > "$clog" 2>&1 &
  local coord=$!
  pids+=("$coord")
  if ! wait_for 30 grep -q "listening on" "$clog"; then
    echo "FAIL: $name: the coordinator did not start"; cat "$clog"; fail=1; return
  fi
  local ep
  ep=$(sed -n 's/.*listening on \(tcp:[^ ]*\).*/\1/p' "$clog" | head -n1)
  for kind in garbage truncated wrong-version oversize; do
    "$qtune" send-frame --connect "$ep" --kind $kind || { echo "FAIL: send-frame $kind"; fail=1; }
  done
  if ! kill -0 "$coord" 2>/dev/null; then echo "FAIL: $name: the coordinator died on bad frames"; cat "$clog"; fail=1; return; fi
  local w=() k
  for k in 0 1 2; do
    "$qtune" worker --connect "$ep" --threads 1 --heartbeat-ms $hb > "$tmp/$name-worker$k.log" 2>&1 &
    w+=($!)
    pids+=($!)
  done
  local victim=""
  if [ "$mode" = kill ]; then
    # Name the logs: a glob expanded before the workers have created them would stay literal.
    if wait_for 60 grep -qs "trial 1: started" "$tmp/$name-worker0.log" "$tmp/$name-worker1.log" \
         "$tmp/$name-worker2.log"; then
      for k in 0 1 2; do
        if grep -qs "trial 1: started" "$tmp/$name-worker$k.log"; then victim=$k; fi
      done
      kill -9 "${w[$victim]}"
      echo "killed worker $victim while it ran trial 1"
    else
      echo "FAIL: $name: no worker started trial 1"; fail=1
    fi
  fi
  wait "$coord"
  local rc=$?
  for k in 0 1 2; do
    [ "$k" = "$victim" ] && continue
    wait "${w[$k]}"
    local wrc=$?
    [ $wrc -ne 0 ] && { echo "FAIL: $name: worker $k exited $wrc"; tail -n 5 "$tmp/$name-worker$k.log"; fail=1; }
  done
  if [ $rc -ne 0 ] || [ ! -f "$out/report.json" ]; then
    echo "FAIL: $name: coordinator exit $rc"; tail -n 20 "$clog"; fail=1; return
  fi
  local dropped
  dropped=$(grep -c "dropped a frame" "$clog")
  if [ "$dropped" -lt 3 ]; then
    echo "FAIL: $name: the coordinator logged $dropped dropped frames, expected garbage, truncated and wrong-version"
    fail=1
  fi
  if [ "$mode" = kill ] && ! grep -q "lost.*trial 1 requeued" "$clog"; then
    echo "FAIL: $name: the killed worker's trial was not requeued"; grep coordinator: "$clog"; fail=1
  fi
}

for run in "lenet basic 0.0001" "resnet bisect 0.0001"; do
  read -r model strategy loss <<<"$run"
  write_cfg "$tmp/$model.yaml" "$model" "$strategy" "$loss"
  "$qtune" tune "$tmp/$model.yaml" --out "$tmp/$model-seq" > "$tmp/$model-seq.log" 2>&1
  want=$(chosen_hash "$tmp/$model-seq")
  if [ -z "$want" ]; then echo "FAIL: $model: the in-process run chose nothing"; tail "$tmp/$model-seq.log"; fail=1; continue; fi
  echo "in-process $model $strategy $loss: chose $want after $(($(trial_count "$tmp/$model-seq") - 1)) trial(s)"

  mode=""
  [ "$model" = resnet ] && mode=kill
  distributed "$model" "$tmp/$model.yaml" $mode
  got=$(chosen_hash "$tmp/$model-dist" 2>/dev/null)
  if [ "$got" != "$want" ]; then
    echo "FAIL: $model: coordinator + 3 workers chose '$got', in-process chose '$want'"; fail=1
  else
    echo "ok: $model: coordinator + 3 workers${mode:+ (one SIGKILLed)} chose $got, as in-process"
  fi
done

"$qtune" tune "$tmp/lenet.yaml" --workers 2 --out "$tmp/lenet-local" > "$tmp/lenet-local.log" 2>&1
rc=$?
got=$(chosen_hash "$tmp/lenet-local" 2>/dev/null) want=$(chosen_hash "$tmp/lenet-seq")
if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
  echo "FAIL: tune --workers 2: exit $rc, chose '$got', in-process chose '$want'"; tail "$tmp/lenet-local.log"; fail=1
else
  echo "ok: tune --workers 2 chose $got"
fi

# CURVE on loopback: resnet with basic (fallback waves several trials wide).
write_cfg "$tmp/rb.yaml" resnet basic 0.0001
"$qtune" tune "$tmp/rb.yaml" --out "$tmp/rb-seq" > "$tmp/rb-seq.log" 2>&1
want=$(chosen_hash "$tmp/rb-seq")
for k in coord good1 good2 bad; do "$qtune" keygen "$tmp/$k" > /dev/null || { echo "FAIL: keygen"; exit 1; }; done
[ "$(stat -c %a "$tmp/coord.key")" = 600 ] || { echo "FAIL: the secret key file is not mode 0600"; fail=1; }
clog="$tmp/curve-coord.log"
"$qtune" coordinator "$tmp/rb.yaml" --bind "tcp://127.0.0.1:*" --out "$tmp/rb-curve" --heartbeat-ms $hb \
  --curve --curve-secret "$tmp/coord.key" --curve-allow "$tmp/good1.pub,$tmp/good2.pub" > "$clog" 2>&1 &
coord=$!
pids+=("$coord")
wait_for 30 grep -q "listening on" "$clog" || { echo "FAIL: the CURVE coordinator did not start"; cat "$clog"; exit 1; }
ep=$(sed -n 's/.*listening on \(tcp:[^ ]*\).*/\1/p' "$clog" | head -n1)
curve_worker() {  # curve_worker NAME: a worker with key NAME.key
  "$qtune" worker --connect "$ep" --threads 1 --heartbeat-ms $hb --shared-path \
    --curve --curve-secret "$tmp/$1.key" --curve-server-key "$tmp/coord.pub" > "$tmp/curve-$1.log" 2>&1
}
curve_worker bad &
bad=$!
pids+=("$bad")
curve_worker good1 &
g1=$!
pids+=("$g1")
wait "$bad"
brc=$?
if [ $brc -ne 2 ] || ! grep -q "refused this worker's CURVE key" "$tmp/curve-bad.log"; then
  echo "FAIL: the unlisted worker exited $brc"; cat "$tmp/curve-bad.log"; fail=1
else
  echo "ok: the unlisted worker was refused: $(tail -n1 "$tmp/curve-bad.log" | cut -c1-110)"
fi
# The second listed worker joins once trial 1 is running.
wait_for 120 grep -q "trial 1: started" "$tmp/curve-good1.log" || { echo "FAIL: good1 never started trial 1"; fail=1; }
curve_worker good2 &
g2=$!
pids+=("$g2")
wait "$coord"
rc=$?
wait "$g1"; wait "$g2"
got=$(chosen_hash "$tmp/rb-curve" 2>/dev/null)
if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
  echo "FAIL: CURVE run: exit $rc, chose '$got', in-process chose '$want'"; tail -n 20 "$clog"; fail=1
else
  echo "ok: CURVE coordinator + 2 listed workers chose $got, as in-process"
fi
grep "refused a connection" "$clog" | grep -qF -- "$(cat "$tmp/bad.pub")" ||
  { echo "FAIL: the coordinator did not log the refused key"; grep coordinator: "$clog"; fail=1; }
if grep -q "trial [0-9]*: started" "$tmp/curve-good2.log"; then
  echo "ok: the worker that joined mid-run ran $(grep -c 'trial [0-9]*: started' "$tmp/curve-good2.log") trial(s)"
else
  echo "FAIL: the worker that joined mid-run got no trial"; cat "$tmp/curve-good2.log"; fail=1
fi
grep -q '"refused": [1-9]' "$tmp/rb-curve/report.json" || { echo "FAIL: report.json distribution does not count the refusal"; fail=1; }

# A command metric names a program for the workers to run: a worker started without
# --allow-metric-command refuses it (and is dropped), one with QTUNE_ALLOW_METRIC_COMMAND=1 runs
# it, without a shell, even from a TMPDIR whose name a shell would execute.
cat > "$tmp/cmd.yaml" <<YAML
model: $src/models/fashion_mnist/lenet.onnx
data: {calibration: $ex/calib.yaml, evaluation: $ex/test.yaml}
metric: {name: command, command: [sh, -c, 'test -s "\$1" && echo metric 0.75', sh, "{model}"], timeout_s: 60}
tuning: {strategy: basic, accuracy_criterion: {absolute: 0.01}, exit_policy: {max_trials: 2}, objective: accuracy}
YAML
clog="$tmp/cmd-coord.log"
"$qtune" coordinator "$tmp/cmd.yaml" --bind "tcp://127.0.0.1:*" --out "$tmp/cmd-out" --heartbeat-ms $hb > "$clog" 2>&1 &
coord=$!
pids+=("$coord")
wait_for 30 grep -q "listening on" "$clog" || { echo "FAIL: the command-metric coordinator did not start"; cat "$clog"; exit 1; }
ep=$(sed -n 's/.*listening on \(tcp:[^ ]*\).*/\1/p' "$clog" | head -n1)
timeout 120 "$qtune" worker --connect "$ep" --threads 1 --heartbeat-ms $hb --cache "$tmp/cmd-cache" \
  > "$tmp/cmd-refusing.log" 2>&1
if grep -q "this worker runs it only when started with --allow-metric-command" "$tmp/cmd-refusing.log"; then
  echo "ok: a worker without --allow-metric-command refused the command: $(grep -o "metric 'command'.*(sh)" "$tmp/cmd-refusing.log" | head -n1)"
else
  echo "FAIL: a worker without --allow-metric-command did not refuse the command"; cat "$tmp/cmd-refusing.log"; fail=1
fi
hostile="$tmp/t\$(touch $tmp/pwned)"
mkdir -p "$hostile"
TMPDIR="$hostile" QTUNE_ALLOW_METRIC_COMMAND=1 "$qtune" worker --connect "$ep" --threads 1 --heartbeat-ms $hb \
  --cache "$tmp/cmd-cache" > "$tmp/cmd-allowing.log" 2>&1 &
pids+=($!)
wait "$coord"
rc=$?
base=$(tr -d '\n' < "$tmp/cmd-out/report.json" 2>/dev/null | sed -n 's/.*"baseline": {"metric": \([^,]*\),.*/\1/p')
if [ $rc -ne 0 ] || ! awk -v b="$base" 'BEGIN { exit !(b == 0.75) }' || [ -e "$tmp/pwned" ]; then
  echo "FAIL: command metric on an allowing worker: exit $rc, baseline '$base', injection ran: $([ -e "$tmp/pwned" ] && echo yes || echo no)"
  tail -n 5 "$clog" "$tmp/cmd-allowing.log"; fail=1
else
  echo "ok: a worker with QTUNE_ALLOW_METRIC_COMMAND=1 ran the command (baseline $base); the TMPDIR name ran nothing"
fi
exit $fail
