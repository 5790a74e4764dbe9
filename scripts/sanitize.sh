#!/usr/bin/env bash
# Builds qtune and the unit tests with sanitizers (clang) and runs the unit tests.
#   scripts/sanitize.sh [address,undefined | thread] [GTEST_FILTER]
# address,undefined (the default) builds in build-asan, which scripts/fuzz.sh shares; thread
# builds in build-tsan and by default runs the tests of the threaded parts (scheduler, worker
# loop). Any sanitizer report fails the run. Needs clang (scripts/setup.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=${1:-address,undefined}
case "$sanitizers" in
  address,undefined) dir=build-asan fuzz=ON filter=${2:-*} ;;
  thread) dir=build-tsan fuzz=OFF filter=${2:-Scheduler*:Worker*:*Distributed*} ;;
  *) echo "usage: scripts/sanitize.sh [address,undefined | thread] [GTEST_FILTER]" >&2; exit 2 ;;
esac
launcher=()
command -v ccache > /dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
jobs=${QTUNE_JOBS:-$(nproc)}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
  -DQTUNE_SANITIZE="$sanitizers" -DQTUNE_FUZZ=$fuzz "${launcher[@]}" > "$dir.log" 2>&1 ||
  { cat "$dir.log"; exit 3; }
cmake --build "$dir" -j"$jobs" --target qtune qtune_tests >> "$dir.log" 2>&1 || { tail -n 60 "$dir.log"; exit 3; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
echo "sanitize ($sanitizers): running qtune_tests --gtest_filter=$filter"
"$dir/tests/qtune_tests" --gtest_filter="$filter"
