#!/usr/bin/env bash
# Rewrites tests/conformance/*_expected_pass.txt from what build/qtune passes today. Run after
# adding or fixing kernels, review the diff (only additions are expected), commit it.
set -euo pipefail
cd "$(dirname "$0")/.."
data=/usr/share/libonnx-testdata/data
for suite in node pytorch-converted pytorch-operator simple; do
  list=tests/conformance/${suite}_expected_pass.txt
  {
    echo "# ONNX backend tests ($suite, libonnx-testdata) that qtune passes; CI fails if one stops."
    build/qtune conformance "$data/$suite" --exclusions tests/conformance/node_exclusions.txt |
      sed -n 's/^PASS \(.*\)$/\1/p' | sort
  } > "$list"
  echo "$list: $(grep -vc '^#' "$list") tests"
done
