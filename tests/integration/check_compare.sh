#!/usr/bin/env bash
# bench/compare.sh end to end on lenet with few short runs: every runtime is timed at every batch,
# the Models section lands in the given Markdown file (before its Kernels section) and a second
# run replaces it instead of adding another. Skips (exit 0) when onnxruntime-node or the
# calibration data are unavailable.
#   check_compare.sh QTUNE SOURCE_DIR [ORT_CACHE_DIR]
set -uo pipefail
qtune=$1 src=$2
cache=${3:-$(cd "$(dirname "$qtune")" && pwd)/ort-node-cache}
export NODE_PATH="$cache/node_modules"
if ! command -v node > /dev/null || ! node -e "require('onnxruntime-node')" > /dev/null 2>&1; then
  echo "SKIP: onnxruntime-node not installed in $cache"
  exit 0
fi
if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "SKIP: the Fashion-MNIST calibration set is missing (dataset-fashion-mnist)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '# Performance\n\nIntro.\n\n## Kernels\n\nkernel rows\n' > "$tmp/perf.md"
run() {
  "$src/bench/compare.sh" --qtune "$qtune" --ort-cache "$cache" --rounds 1 --runs 2 --warmup 1 \
    --batches "1 3" --doc "$tmp/perf.md" "$src/models/fashion_mnist/lenet.onnx" > "$tmp/out" 2> "$tmp/err"
}
run || { echo "FAIL: compare.sh exited $?"; cat "$tmp/err"; exit 1; }
run || { echo "FAIL: second compare.sh exited $?"; cat "$tmp/err"; exit 1; }
fail=0
check() { if ! eval "$1"; then echo "FAIL: $2"; fail=1; fi; }
check '[ "$(grep -c "^## Models" "$tmp/perf.md")" = 1 ]' "the Models section is not there exactly once"
check 'awk "/^## Models/{m=NR} /^## Kernels/{k=NR} END{exit !(m && k && m < k)}" "$tmp/perf.md"' \
  "the Models section does not come before the Kernels section"
check 'grep -q "^kernel rows" "$tmp/perf.md"' "the other sections were not kept"
for b in 1 3; do
  # Five timed runtimes, each "median [min–max]", then three ratios.
  row=$(grep "^| lenet | $b |" "$tmp/perf.md" | head -n1)
  cells=$(grep -o '[0-9.]* \[[0-9.]*–[0-9.]*\]' <<<"$row" | wc -l)
  check '[ "$cells" = 5 ]' "batch $b: $cells of 5 runtimes timed: $row"
done
check 'grep -q "onnxruntime-node" "$tmp/perf.md"' "the ONNX Runtime version is not named"
check 'grep -q "^| lenet | [0-9.]* \[" "$tmp/perf.md"' "no RSS row for lenet"
"$src/bench/compare.sh" --qtune "$qtune" --runs 0 "$src/models/fashion_mnist/lenet.onnx" > /dev/null 2> "$tmp/err"
rc=$?
check '[ $rc = 2 ] && grep -q "not a positive integer" "$tmp/err"' "--runs 0: exit $rc, expected 2"
[ $fail = 0 ] && echo "compare.sh: every runtime timed, the section written once"
exit $fail
