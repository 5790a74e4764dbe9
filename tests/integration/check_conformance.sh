#!/usr/bin/env bash
# Runs `qtune conformance` over one suite of ONNX backend tests (libonnx-testdata) and gates it on
# the committed expected-pass list: 0 failed, at least MIN passed, and every test on the list
# still passes (a regression fails the build). Tests that pass but are not on the list are
# printed, so the list grows in the next commit (scripts/update-conformance-lists.sh).
#   check_conformance.sh QTUNE SUITE_DIR EXPECTED_LIST MIN [EXCLUSIONS]
set -euo pipefail
qtune=$1 dir=$2 expected=$3 min=$4 exclusions=${5:-}
if [ ! -d "$dir" ]; then
  echo "ONNX backend tests not found at $dir (Debian package libonnx-testdata)"; exit 1
fi
[ -f "$expected" ] || { echo "expected-pass list $expected is missing"; exit 1; }
args=("$dir")
[ -n "$exclusions" ] && args+=(--exclusions "$exclusions")
out=$("$qtune" conformance "${args[@]}") || true
echo "$out" | grep -E '^(FAIL|SKIP)' || true
last=$(echo "$out" | tail -n 1)
echo "$last"
summary='^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$'
passed=$(echo "$last" | sed -n "s/$summary/\1/p")
failed=$(echo "$last" | sed -n "s/$summary/\2/p")
[ -n "$passed" ] || { echo "no summary line"; exit 1; }

status=0
now=$(echo "$out" | sed -n 's/^PASS \(.*\)$/\1/p' | sort)
want=$(grep -v '^#' "$expected" | sed '/^$/d' | sort)
regressed=$(comm -13 <(echo "$now") <(echo "$want"))
grew=$(comm -23 <(echo "$now") <(echo "$want"))
if [ -n "$regressed" ]; then
  echo "REGRESSION: on $(basename "$expected") but not passing now:"
  echo "$regressed" | sed 's/^/  /'
  status=1
fi
if [ -n "$grew" ]; then
  echo "newly passing (add to $(basename "$expected")): $(echo "$grew" | wc -l)"
  echo "$grew" | sed 's/^/  /'
fi
[ "$failed" -eq 0 ] || { echo "$failed conformance tests failed"; status=1; }
[ "$passed" -ge "$min" ] || { echo "only $passed passed, need at least $min"; status=1; }
exit $status
