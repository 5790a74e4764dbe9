#!/usr/bin/env bash
# Both adaptors on the bundled models: `qtune quantize` with the default int8 config (every
# quantizable op int8, minmax), then `qtune eval --adaptor` on native and on onednn (real int8
# execution). The two must agree within 0.3 top-1 points, and neither may lose more than 1 point
# against the fp32 figure in reference.json. The fp32 model through `--adaptor onednn` (its
# F32Conv/F32Gemm ops) must give reference.json's fp32 top-1 within 0.02 points.
#   check_adaptors.sh QTUNE_BINARY SOURCE_DIR
set -uo pipefail
qtune=$1 src=$2
max_diff=0.3 max_loss=1.0
data_dir=/usr/share/datasets/fashion-mnist
if [ ! -f "$data_dir/t10k-images-idx3-ubyte.gz" ]; then
  echo "SKIP: $data_dir missing (Debian package dataset-fashion-mnist)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
top1_of() { sed -n 's/.*"top1": *\([-0-9.eE+]*\).*/\1/p' <<<"$1" | head -n1; }
fp32_of() {  # the first "accuracy" after the model's key in the pretty-printed reference.json
  awk -v key="\"$1\":" '$1 == key { found = 1 }
    found && $1 == "\"accuracy\":" { gsub(/,/, "", $2); print $2; exit }' \
    "$src/models/fashion_mnist/reference.json"
}
within() { awk -v a="$1" -v b="$2" -v m="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= m) }'; }

for m in lenet resnet vit; do
  out="$tmp/$m.int8.onnx"
  if ! log=$("$qtune" quantize "$src/models/fashion_mnist/$m.onnx" \
               --data "$src/examples/fashion_mnist/calib.yaml" --out "$out" 2>&1); then
    echo "FAIL: $m: qtune quantize: $log"; fail=1; continue
  fi
  echo "$log" | head -n1
  declare -A acc=()
  for a in native onednn; do
    if ! r=$("$qtune" eval "$out" --data "$src/examples/fashion_mnist/test.yaml" --adaptor "$a" \
               --json 2>&1); then
      echo "FAIL: $m: qtune eval --adaptor $a: $r"; fail=1; continue 2
    fi
    acc[$a]=$(top1_of "$r")
  done
  fp32=$(fp32_of "$m")
  if [ -z "$fp32" ]; then echo "FAIL: $m: no fp32_top1 in reference.json"; fail=1; continue; fi
  if ! r=$("$qtune" eval "$src/models/fashion_mnist/$m.onnx" \
             --data "$src/examples/fashion_mnist/test.yaml" --adaptor onednn --json 2>&1); then
    echo "FAIL: $m: fp32 qtune eval --adaptor onednn: $r"; fail=1; continue
  fi
  f32_onednn=$(top1_of "$r")
  if within "$f32_onednn" "$fp32" 0.02; then
    echo "ok: $m fp32 top-1 on onednn: $f32_onednn% (reference $fp32%)"
  else
    echo "FAIL: $m fp32 top-1 on onednn: $f32_onednn% (reference $fp32%, max diff 0.02)"; fail=1
  fi
  verdict=ok
  within "${acc[native]}" "${acc[onednn]}" "$max_diff" || verdict=FAIL
  awk -v q="${acc[native]}" -v f="$fp32" -v m="$max_loss" 'BEGIN { exit !(f - q <= m) }' ||
    verdict=FAIL
  [ "$verdict" = ok ] || fail=1
  echo "$verdict: $m int8 top-1: native ${acc[native]}%, onednn ${acc[onednn]}%, fp32 $fp32%" \
       "(max diff $max_diff, max loss $max_loss)"
done
exit $fail
