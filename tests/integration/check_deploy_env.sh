#!/usr/bin/env bash
# How containers configure and probe qtune, through the real binary: a CURVE coordinator and a
# worker configured only by QTUNE_* variables find each other; `qtune health` answers 0 while the
# coordinator runs (from the worker's environment alone) and 1 for an unknown key, a wrong server
# key or a dead coordinator, and its probes leave no trace in the coordinator's counters; the
# command line beats the environment; a bad flag variable is exit 2 naming the variable.
#   check_deploy_env.sh QTUNE_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
use_private_binary
export XDG_CACHE_HOME="$tmp/xdg"
wait_for() {  # wait_for SECONDS COMMAND...
  local until=$((SECONDS + $1)); shift
  until "$@"; do
    [ $SECONDS -ge "$until" ] && return 1
    sleep 0.1
  done
}
cd "$tmp" || exit 1
for k in coord w1 stranger; do "$qtune" keygen "$k" > /dev/null || { echo "FAIL: keygen $k"; exit 1; }; done

# The coordinator: config file on the command line, everything else from the environment.
QTUNE_BIND="tcp://127.0.0.1:*" QTUNE_OUT="$tmp/out" QTUNE_CURVE=1 QTUNE_CURVE_SECRET=coord.key \
  QTUNE_CURVE_ALLOW=w1.pub QTUNE_HEARTBEAT_MS=300 \
  "$qtune" coordinator "$ex/lenet.tune.yaml" > coord.log 2>&1 &
pids+=($!)
if ! wait_for 60 grep -q "listening on" coord.log; then
  echo "FAIL: the coordinator configured by QTUNE_* did not start"; cat coord.log; exit 1
fi
endpoint=$(sed -n 's/.*listening on \(tcp:[^ ]*\).*/\1/p' coord.log | head -n1)
# What a worker container holds in its environment.
export QTUNE_CONNECT=$endpoint QTUNE_CURVE=1 QTUNE_CURVE_SECRET=w1.key QTUNE_CURVE_SERVER_KEY=coord.pub

probe() {  # probe EXPECTED_RC NAME ARGS...
  local want=$1 name=$2; shift 2
  "$qtune" health --timeout-ms 3000 "$@" > probe.out 2>&1
  local rc=$?
  if [ "$rc" -ne "$want" ]; then echo "FAIL: health ($name): exit $rc, expected $want"; cat probe.out; fail=1; fi
}
probe 0 "worker environment"
grep -q "^healthy: .*(CURVE)" probe.out || { echo "FAIL: health printed: $(cat probe.out)"; fail=1; }
probe 1 "unknown key" --curve-secret stranger.key
grep -q "refused this CURVE key" probe.out || { echo "FAIL: unknown key: $(cat probe.out)"; fail=1; }
probe 1 "wrong server key" --curve-server-key stranger.pub
probe 1 "command line --insecure beats QTUNE_CURVE" --insecure
QTUNE_CURVE=maybe "$qtune" health > probe.out 2>&1
rc=$?
[ $rc -eq 2 ] && grep -q "QTUNE_CURVE" probe.out || { echo "FAIL: QTUNE_CURVE=maybe: exit $rc: $(cat probe.out)"; fail=1; }
# A worker from the environment alone joins (it only sleeps per trial: the join is the point).
QTUNE_SIMULATE_MS=50 "$qtune" worker > worker.log 2>&1 &
pids+=($!)
wait_for 60 grep -q "joined" coord.log || { echo "FAIL: the QTUNE_* worker did not join"; cat coord.log worker.log; fail=1; }
probe 0 "during the run"
# One refusal (the stranger's key) and no dropped frame: probes send no message.
refusals=$(grep -c "refused a connection" coord.log)
[ "$refusals" -eq 1 ] || { echo "FAIL: $refusals refusals logged, expected 1 (the stranger)"; fail=1; }
if grep -q "dropped" coord.log; then echo "FAIL: probes reached the scheduler:"; grep dropped coord.log; fail=1; fi
kill -9 "${pids[0]}"; wait "${pids[0]}" 2> /dev/null
probe 1 "coordinator killed"
[ $fail -eq 0 ] && echo "ok: QTUNE_* configures coordinator, worker and health; health tells a live coordinator from a dead one and a wrong key"
exit $fail
