#!/usr/bin/env bash
# Builds qtune and the unit tests with the address and undefined-behaviour sanitizers (clang, in
# build-asan, which scripts/fuzz.sh shares) and runs the unit tests; any sanitizer report fails.
#   scripts/sanitize.sh [GTEST_FILTER]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang++ > /dev/null 2>&1 ||
  { echo "${0##*/}: needs clang: apt-get install clang libclang-rt-14-dev" >&2; exit 2; }
dir=build-asan
launcher=()
command -v ccache > /dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
jobs=${QTUNE_JOBS:-$(nproc)}
cmake -S . -B $dir -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" -DCMAKE_CXX_COMPILER=clang++ \
    -DQTUNE_SANITIZE=address,undefined -DQTUNE_FUZZ=ON "${launcher[@]}" > $dir.log 2>&1 ||
    { cat $dir.log; exit 3; }
cmake --build $dir -j"$jobs" --target qtune qtune_tests >> $dir.log 2>&1 || { tail -n 60 $dir.log; exit 3; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
echo "sanitize: qtune_tests --gtest_filter=${1:-*} under address,undefined"
"$dir/tests/qtune_tests" --gtest_filter="${1:-*}"
