#!/usr/bin/env bash
# deploy/slurm/qtune.sbatch without Slurm: `bash -n` accepts it and it asks for a requeue; then
# it runs here under stand-ins for scontrol and srun (two "nodes" as two local worker processes
# that only sleep per trial): the coordinator and both workers finish the run; a coordinator
# SIGKILLed mid-run is restarted with --resume by the script; a requeued job
# (SLURM_RESTART_COUNT=1) resumes from the journal and ends with the same choice.
#   check_deploy_slurm.sh QTUNE_BINARY SOURCE_DIR
set -uo pipefail
script=$2/deploy/slurm/qtune.sbatch
bash -n "$script" || { echo "FAIL: bash -n $script"; exit 1; }
grep -q '^#SBATCH --requeue' "$script" || { echo "FAIL: $script: no #SBATCH --requeue"; exit 1; }
grep -q 'srun ' "$script" || { echo "FAIL: $script: starts no workers with srun"; exit 1; }
source "$(dirname "$0")/common.sh"  # the running part needs the dataset (SKIPs without it)
use_private_binary
wait_for() {
  local until=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -ge "$until" ] && return 1; sleep 0.2; done
}

# Stand-ins: scontrol names the nodes; srun runs its command once per node, here.
mkdir -p "$tmp/bin" "$tmp/keys"
cat > "$tmp/bin/scontrol" <<'SH'
#!/bin/bash
[ "$1 $2" = "show hostnames" ] && { echo localhost; echo localhost; exit 0; }
echo "scontrol stand-in: unexpected $*" >&2; exit 2
SH
cat > "$tmp/bin/srun" <<'SH'
#!/bin/bash
nodes=1
while [[ $# -gt 0 && $1 == -* ]]; do
  case $1 in --nodes=*) nodes=${1#--nodes=} ;; esac
  shift
done
for ((i = 0; i < nodes; i++)); do "$@" > "$SRUN_LOG_DIR/task-$i.log" 2>&1 & done
wait
SH
chmod +x "$tmp/bin/scontrol" "$tmp/bin/srun"
for k in coordinator worker; do "$qtune" keygen "$tmp/keys/$k" > /dev/null || { echo "FAIL: keygen"; exit 1; }; done
cat > "$tmp/tune.yaml" <<YAML
model: $src/models/fashion_mnist/lenet.onnx
adaptor: native
data: {calibration: $ex/calib.yaml, evaluation: $ex/test.yaml}
metric: {name: top1}
tuning:
  strategy: basic
  accuracy_criterion: {relative: 0.01}
  exit_policy: {timeout: 600, max_trials: 12}  # search on: a run long enough to be killed
  objective: accuracy
YAML
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export PATH="$tmp/bin:$PATH" SRUN_LOG_DIR=$tmp SLURM_JOB_ID=4242 SLURM_JOB_NODELIST="node[1-2]" \
       SLURM_JOB_NUM_NODES=2 QTUNE_TUNE_CONFIG=$tmp/tune.yaml QTUNE_KEYS=$tmp/keys \
       QTUNE_RUN_DIR=$tmp/run QTUNE_PORT=$port QTUNE_BIN=$qtune TMPDIR=$tmp
# Workers only sleep per trial: the run is about processes, restarts and the journal.
export QTUNE_SIMULATE_MS=300

# First start: kill -9 the coordinator once its journal holds a trial; the script restarts it.
SLURM_RESTART_COUNT=0 bash "$script" > "$tmp/job1.log" 2>&1 &
job=$!
pids+=("$job")
has_trial() { grep -q "^trial " "$tmp/job1.log"; }
if wait_for 120 has_trial; then
  coord=$(pgrep -P "$job" -f " coordinator ")
  [ -n "$coord" ] && kill -9 "$coord"
else
  echo "FAIL: no trial finished in the first job"; cat "$tmp/job1.log"; fail=1
fi
wait "$job"
rc1=$?
[ "$rc1" -le 1 ] || { echo "FAIL: the first job exited $rc1"; tail -n 20 "$tmp/job1.log"; fail=1; }
grep -q "restart 1 of 3, with --resume" "$tmp/job1.log" || { echo "FAIL: the killed coordinator was not restarted"; tail -n 20 "$tmp/job1.log"; fail=1; }
grep -q "^resuming from .*journal.qtj" "$tmp/job1.log" || { echo "FAIL: the restarted coordinator did not resume"; fail=1; }
joins=$(sed -n 's/.* \([0-9]*\) worker join(s).*/\1/p' "$tmp/job1.log" | tail -n 1)
[ "${joins:-0}" -ge 2 ] || { echo "FAIL: ${joins:-0} worker join(s) in the restarted run, expected both nodes"; fail=1; }
[ -f "$tmp/run/report.json" ] || { echo "FAIL: no report.json in QTUNE_RUN_DIR"; fail=1; }
chosen() { tr -d '\n' < "$tmp/run/report.json" | sed -n 's/.*"chosen": {\([^}]*\)}.*/\1/p'; }
first=$(chosen)

# A requeued job: the same script, SLURM_RESTART_COUNT=1.
SLURM_RESTART_COUNT=1 bash "$script" > "$tmp/job2.log" 2>&1
rc2=$?
[ "$rc2" -eq "$rc1" ] || { echo "FAIL: the requeued job exited $rc2, the first $rc1"; tail -n 20 "$tmp/job2.log"; fail=1; }
grep -q "was requeued (1): resuming" "$tmp/job2.log" && grep -q "^resuming from .*journal.qtj" "$tmp/job2.log" ||
  { echo "FAIL: the requeued job did not resume:"; tail -n 20 "$tmp/job2.log"; fail=1; }
[ "$(chosen)" = "$first" ] || { echo "FAIL: the requeued job chose differently"; fail=1; }
[ $fail -eq 0 ] && echo "ok: bash -n; under scontrol/srun stand-ins the job ran 2 workers, restarted a killed coordinator with --resume, and a requeued job resumed to the same choice (exit $rc1)"
exit $fail
