#!/usr/bin/env bash
# `cmake --install` into a scratch prefix, then use the installed tree as an outsider would:
# bin/qtune finds its capability YAMLs without help; every public header of common/, kernels/,
# runtime/, adaptors/, coordinator/ and worker/ is there under include/qtune with its path; the
# exported targets name nothing in the source or build tree; and tests/install/consumer, a
# separate CMake project, finds qtune::qtune with find_package, builds, and lists the ops and
# quantizable ops of a bundled model.
#   check_install.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$(cd "$1" && pwd) build=$(cd "$2" && pwd)
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
fail=0
if ! cmake --install "$build" --prefix "$prefix" > "$tmp/install.log" 2>&1; then
  echo "FAIL: cmake --install $build: $(tail -n 5 "$tmp/install.log")"; exit 1
fi
model=$src/models/fashion_mnist/lenet.onnx

# The binary and its YAMLs, with no hint from the environment.
if ! env -u QTUNE_CAPABILITIES_DIR "$prefix/bin/qtune" caps "$model" > "$tmp/caps.txt" 2>&1; then
  echo "FAIL: installed qtune caps: $(head -n 3 "$tmp/caps.txt")"; fail=1
fi
yamls=$(find "$src/capabilities" -name '*.yaml' | wc -l)
installed=$(find "$prefix/share/qtune/capabilities" -name '*.yaml' 2> /dev/null | wc -l)
[ "$yamls" -gt 0 ] && [ "$installed" -eq "$yamls" ] || { echo "FAIL: $installed of $yamls capability YAMLs installed"; fail=1; }

headers=0
for dir in common kernels runtime adaptors coordinator worker; do
  while read -r h; do
    headers=$((headers + 1))
    cmp -s "$src/$h" "$prefix/include/qtune/$h" || { echo "FAIL: include/qtune/$h missing or different"; fail=1; }
  done < <(cd "$src" && find "$dir" -name '*.h')
done
[ $headers -gt 0 ] || { echo "FAIL: no headers found in $src"; fail=1; }
libs=$(find "$prefix" -name 'libqtune_*.a' | wc -l)
[ "$libs" -eq 6 ] || { echo "FAIL: $libs static libraries installed, expected 6"; fail=1; }
if grep -rl -e "$src" -e "$build" "$prefix"/lib*/cmake/qtune/ > "$tmp/leaks" 2> /dev/null; then
  echo "FAIL: the installed package names the source or build tree: $(cat "$tmp/leaks")"; fail=1
fi

# A consumer project: only the prefix on its search path.
if ! cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
     -DCMAKE_BUILD_TYPE=Release > "$tmp/consumer.log" 2>&1 ||
   ! cmake --build "$tmp/consumer" >> "$tmp/consumer.log" 2>&1; then
  echo "FAIL: the consumer project does not build against the installed qtune:"
  tail -n 30 "$tmp/consumer.log"
  exit 1
fi
env -u QTUNE_CAPABILITIES_DIR "$tmp/consumer/qtune_consumer" "$model" > "$tmp/out.txt" 2>&1 ||
  { echo "FAIL: qtune_consumer: $(cat "$tmp/out.txt")"; exit 1; }
grep -qx "Conv 2" "$tmp/out.txt" || { echo "FAIL: the consumer did not list lenet's two Conv: $(tr '\n' ' ' < "$tmp/out.txt")"; fail=1; }
quantizable=$(sed -n 's/^quantizable \([0-9]*\)$/\1/p' "$tmp/out.txt")
[ "${quantizable:-0}" -gt 0 ] || { echo "FAIL: the consumer found no quantizable op"; fail=1; }
[ $fail -eq 0 ] && echo "ok: installed binary, $installed capability YAMLs, $headers headers, $libs libraries; a find_package(qtune) project linked qtune::qtune and found $quantizable quantizable ops in lenet"
exit $fail
