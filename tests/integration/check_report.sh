#!/usr/bin/env bash
# What a user sees, through the real binary: `qtune tune` writes report.html beside report.json;
# headless Chromium renders it (screenshot not blank, one chart mark per trial, nothing fetched);
# `qtune report` rebuilds the same report.html and table from the journal, also from the journal
# of a run killed mid-way; progress is a live line on a terminal (a pty from `script`), periodic
# "progress:" lines when stderr is a file, nothing with --quiet, and --json keeps stdout JSON.
#   check_report.sh QTUNE_BINARY SOURCE_DIR
source "$(dirname "$0")/common.sh"
check_html="$(dirname "$0")/report_html_check.py"
if ! command -v chromium > /dev/null; then
  echo "FAIL: chromium is not installed (scripts/setup.sh installs it)"
  exit 1
fi

# Several trials, some below the goal: basic sweeps calibration algorithms, then falls back ops.
sed 's/limit: 10000 .*/limit: 2000/' "$ex/test.yaml" > "$tmp/test.yaml"
cat > "$tmp/tune.yaml" <<YAML
model: $src/models/fashion_mnist/lenet.onnx
adaptor: native
data: {calibration: $ex/calib.yaml, evaluation: $tmp/test.yaml}
metric: {name: top1}
tuning:
  strategy: basic
  accuracy_criterion: {relative: 0.002}
  exit_policy: {timeout: 3600, max_trials: 8}
  objective: accuracy
quantization: {calibration_sampling_size: 300}
YAML

trials_in() { grep -c '"index": [0-9]*, "stage"' "$1"; }
ok_trials_in() { grep -c '"index": [0-9]*, "stage": "[^"]*", "hash": "[0-9a-f]*", "ok": true' "$1"; }

# Renders OUT/report.html with Chromium and checks it; extra arguments go to the checker.
render() {  # render OUT REPORT_JSON [--unfinished]
  local out=$1 json=$2
  shift 2
  local flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
               --user-data-dir="$tmp/chromium-profile")
  timeout 120 chromium "${flags[@]}" --window-size=1100,2400 --screenshot="$out/shot.png" \
    "file://$out/report.html" > "$tmp/chromium.log" 2>&1
  timeout 120 chromium "${flags[@]}" --dump-dom "file://$out/report.html" > "$out/dom.html" 2>> "$tmp/chromium.log"
  if [ ! -s "$out/shot.png" ] || [ ! -s "$out/dom.html" ]; then
    echo "FAIL: chromium rendered nothing for $out/report.html"; tail -n 5 "$tmp/chromium.log"; fail=1; return
  fi
  python3 "$check_html" "$out/report.html" "$out/dom.html" "$out/shot.png" \
    "$(trials_in "$json")" "$(ok_trials_in "$json")" "$@" || fail=1
}

# 1. A full run, stderr to a file: periodic progress lines, no terminal control characters.
"$qtune" tune "$tmp/tune.yaml" --out "$tmp/full" --progress-every 0.5 > "$tmp/full.out" 2> "$tmp/full.err"
rc=$?
total=$(trials_in "$tmp/full/report.json" 2>/dev/null || echo 0)
echo "full run: exit $rc, $total trials"
if [ ! -f "$tmp/full/report.html" ] || [ "$total" -lt 4 ]; then
  echo "FAIL: no report.html or too few trials"; tail -n 5 "$tmp/full.out" "$tmp/full.err"; exit 1
fi
if ! grep -Eq "^progress: trials [0-9]+ done" "$tmp/full.err"; then
  echo "FAIL: no periodic progress line on a non-terminal stderr"; cat "$tmp/full.err"; fail=1
fi
if grep -q $'\r\|\x1b' "$tmp/full.err" "$tmp/full.out"; then
  echo "FAIL: terminal control characters in the output to files"; fail=1
fi
render "$tmp/full" "$tmp/full/report.json"

# 2. qtune report rebuilds the same report.html and table from the journal.
cp "$tmp/full/report.html" "$tmp/full.html"
rm "$tmp/full/report.html"
"$qtune" report "$tmp/full" > "$tmp/report.out" 2>&1 || { echo "FAIL: qtune report exited $?"; cat "$tmp/report.out"; fail=1; }
if ! cmp -s "$tmp/full.html" "$tmp/full/report.html"; then
  echo "FAIL: qtune report wrote a different report.html than the run"; fail=1
fi
table() { sed -n '/^baseline fp32:/,/^goal /p' "$1"; }
if [ -z "$(table "$tmp/report.out")" ] || [ "$(table "$tmp/report.out")" != "$(table "$tmp/full.out")" ]; then
  echo "FAIL: qtune report printed another table than the run:"; table "$tmp/report.out"; fail=1
fi
"$qtune" report "$tmp/full" --json > "$tmp/report.json" 2>&1
if [ "$(trials_in "$tmp/report.json")" != "$total" ] ||
   ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$tmp/report.json"; then
  echo "FAIL: qtune report --json"; fail=1
fi
"$qtune" report "$tmp/nowhere" > "$tmp/bad.out" 2>&1
rc_bad=$?
if [ $rc_bad -ne 2 ] || ! grep -q "nowhere" "$tmp/bad.out"; then
  echo "FAIL: qtune report on a missing directory: exit $rc_bad"; cat "$tmp/bad.out"; fail=1
fi

# 3. A run killed after trial 2: its journal is reported as unfinished.
"$qtune" tune "$tmp/tune.yaml" --out "$tmp/killed" > "$tmp/killed.out" 2>&1 &
pid=$!
pids+=($pid)
for _ in $(seq 1 1200); do
  grep -q "^trial 2 (" "$tmp/killed.out" 2>/dev/null && break
  kill -0 $pid 2>/dev/null || break
  sleep 0.05
done
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
if [ -f "$tmp/killed/report.json" ]; then
  echo "FAIL: the run was not killed before it ended"; fail=1
else
  "$qtune" report "$tmp/killed" --json > "$tmp/killed.json" 2> "$tmp/killed.err"
  rc=$?
  "$qtune" report "$tmp/killed" > "$tmp/killed.report" 2>&1
  n=$(trials_in "$tmp/killed.json")
  if [ $rc -ne 0 ] || ! grep -q '"finished": false' "$tmp/killed.json" || [ "$n" -lt 3 ] ||
     ! grep -q "^run not finished: $n trial(s) recorded" "$tmp/killed.report"; then
    echo "FAIL: qtune report of a killed run (exit $rc, $n trials)"; cat "$tmp/killed.err" "$tmp/killed.report"; fail=1
  else
    echo "killed run: $n trial(s) in its journal, reported as unfinished"
    render "$tmp/killed" "$tmp/killed.json" --unfinished
  fi
fi

# 4. On a terminal (a pty): the status line is redrawn in place; --quiet draws nothing. Trials
# come from the full run (--reuse), so this takes calibration and the baseline only.
script -qec "$qtune tune $tmp/tune.yaml --out $tmp/tty --reuse $tmp/full" /dev/null < /dev/null > "$tmp/tty.raw" 2>&1
if ! grep -aq $'\rtrials [0-9]* done' "$tmp/tty.raw" || ! grep -aq $'\x1b\\[K' "$tmp/tty.raw"; then
  echo "FAIL: no status line redrawn in place on a terminal:"; od -c "$tmp/tty.raw" | tail -n 20; fail=1
fi
if ! grep -aq "trial 0 (" "$tmp/tty.raw" || ! grep -aq "goal met\|goal NOT met" "$tmp/tty.raw"; then
  echo "FAIL: log lines or the summary missing on a terminal"; fail=1
fi
script -qec "$qtune tune $tmp/tune.yaml --out $tmp/quiet --reuse $tmp/full --quiet" /dev/null < /dev/null > "$tmp/quiet.raw" 2>&1
if grep -aq $'\x1b' "$tmp/quiet.raw" || grep -aq "trial 0 (" "$tmp/quiet.raw" || ! grep -aq "goal met\|goal NOT met" "$tmp/quiet.raw"; then
  echo "FAIL: --quiet printed progress or lost the summary:"; cat -v "$tmp/quiet.raw" | head -n 5; fail=1
fi

# 5. --json: stdout stays one JSON document, the progress goes to stderr.
"$qtune" tune "$tmp/tune.yaml" --out "$tmp/json" --reuse "$tmp/full" --json --progress-every 0.1 \
  > "$tmp/json.out" 2> "$tmp/json.err"
if ! python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); assert len(d["trials"]) > 0' "$tmp/json.out"; then
  echo "FAIL: --json stdout is not the report"; head -c 300 "$tmp/json.out"; fail=1
fi

[ $fail -eq 0 ] && echo "ok: report.html rendered by Chromium for a full and a killed run, qtune report rebuilt it" \
                       "identically, progress on a terminal, in a file, quiet and with --json"
exit $fail
