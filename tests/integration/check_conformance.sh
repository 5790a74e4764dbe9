#!/usr/bin/env bash
# Runs `qtune conformance` over the ONNX node tests and requires 0 failed and at least MIN passed.
set -euo pipefail
qtune=$1 dir=$2 min=$3
if [ ! -d "$dir" ]; then
  echo "ONNX node tests not found at $dir (Debian package libonnx-testdata)"; exit 1
fi
out=$("$qtune" conformance "$dir") || true
echo "$out" | grep -v '^PASS' || true
last=$(echo "$out" | tail -n 1)
echo "$last"
passed=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\1/p')
failed=$(echo "$last" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) skipped$/\2/p')
[ -n "$passed" ] || { echo "no summary line"; exit 1; }
[ "$failed" -eq 0 ] || { echo "$failed conformance tests failed"; exit 1; }
[ "$passed" -ge "$min" ] || { echo "only $passed passed, need at least $min"; exit 1; }
