#!/usr/bin/env bash
# Models written at default-domain opsets 18-21 (tools/make_new_opset_models.py) load as their
# opset-17 equivalents (common/opset_lowering.h): qtune's outputs equal ONNX Runtime's on the same
# inputs, and a feature without an equivalent fails with exit 2 and a message naming the node and
# the feature. The ONNX Runtime comparison skips when onnxruntime-node is unavailable.
#   check_new_opsets.sh QTUNE SOURCE_DIR [ORT_CACHE_DIR]
set -uo pipefail
qtune=$1 src=$2
cache=${3:-$(cd "$(dirname "$qtune")" && pwd)/ort-node-cache}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
source "$src/tests/integration/ort_env.sh"
mapfile -t rows < <(/usr/bin/python3 "$src/tools/make_new_opset_models.py" "$scratch")
[ ${#rows[@]} -gt 0 ] || { echo "FAIL: tools/make_new_opset_models.py wrote no models"; exit 1; }

fail=0
for row in "${rows[@]}"; do
  read -r name verdict words <<< "$row"
  d=$scratch/$name
  err=$("$qtune" run "$d/model.onnx" --inputs "$d/in" --out "$d/q" 2>&1 > /dev/null)
  rc=$?
  if [ "$verdict" = refuse ]; then
    missing=""
    for w in $words; do [[ $err == *"$w"* ]] || missing+=" $w"; done
    if [ $rc -ne 2 ] || [ -n "$missing" ]; then
      echo "FAIL: $name: exit $rc (want 2), message lacks:$missing: $err"; fail=1
    else
      echo "ok: $name refused: $err"
    fi
    continue
  fi
  if [ $rc -ne 0 ]; then echo "FAIL: $name: qtune run exit $rc: $err"; fail=1; continue; fi
  if [ $have_ort -eq 1 ]; then
    if detail=$(node "$src/tools/ort_compare.js" "$d/model.onnx" "$d/in" "$d/q" --tol 1e-5); then
      echo "ok: $name equals ONNX Runtime"
    else
      echo "FAIL: $name differs from ONNX Runtime: $detail"; fail=1
    fi
  else
    echo "ok: $name runs"
  fi
done
[ $fail -eq 0 ] && echo "check_new_opsets: OK"
exit $fail
