#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang with address and undefined-behaviour
# sanitizers, in build-asan) and runs each for SECONDS on a copy of its committed seed corpus.
# Prints one line per target, "fuzz NAME: N execs, C crashes"; exits 1 when any target found a
# crash, leak, timeout or runaway allocation (the reproducer is left in build-asan/fuzz-out/NAME).
#   scripts/fuzz.sh SECONDS [NAME...]
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang++ > /dev/null 2>&1 ||
  { echo "${0##*/}: needs clang: apt-get install clang libclang-rt-14-dev" >&2; exit 2; }
[[ ${1:-} =~ ^[0-9]+$ ]] || { echo "usage: scripts/fuzz.sh SECONDS [NAME...]" >&2; exit 2; }
seconds=$1; shift
dir=build-asan
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for src in tests/fuzz/*_fuzz.cpp; do n=$(basename "$src" _fuzz.cpp); names+=("$n"); done
fi
targets=()
for name in "${names[@]}"; do targets+=("fuzz_$name"); done
# QTUNE_FUZZ_BUILD=0 runs the targets as last built.
if [ "${QTUNE_FUZZ_BUILD:-1}" != 0 ]; then
  launcher=()
  command -v ccache > /dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  jobs=${QTUNE_JOBS:-$(nproc)}
  cmake -S . -B $dir -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" -DCMAKE_CXX_COMPILER=clang++ \
    -DQTUNE_SANITIZE=address,undefined -DQTUNE_FUZZ=ON "${launcher[@]}" > $dir.log 2>&1 ||
    { cat $dir.log; exit 3; }
  cmake --build $dir -j"$jobs" --target "${targets[@]}" >> $dir.log 2>&1 || { tail -n 60 $dir.log; exit 3; }
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
for name in "${names[@]}"; do
  out=$dir/fuzz-out/$name
  rm -rf "$out"
  mkdir -p "$out/corpus" "$out/artifacts" "$out/tmp"
  cp tests/fuzz/corpus/"$name"/* "$out/corpus/" 2> /dev/null || true
  # Keep going after a finding, so one run counts them all; findings land in artifacts/.
  set +e
  # The targets' scratch files (tests/fuzz/fuzz_input.h) stay in $out, also when a job is killed.
  TMPDIR="$PWD/$out/tmp" "$dir/tests/fuzz/fuzz_$name" "$out/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -malloc_limit_mb=1024 -max_len=65536 -print_final_stats=1 -fork=1 -ignore_crashes=1 -ignore_ooms=1 \
    -ignore_timeouts=1 -artifact_prefix="$out/artifacts/" > "$out/log" 2>&1
  set -e
  # Fork mode's status lines: "#EXECS: cov: ... oom/timeout/crash: O/T/C time: ..."; the last one
  # sums up the run.
  last=$(grep -E '^#[0-9]+: cov:' "$out/log" | tail -n 1 || true)
  execs=$(sed -n 's/^#\([0-9]*\):.*/\1/p' <<< "$last")
  found=$(sed -n 's|.*oom/timeout/crash: \([0-9]*\)/\([0-9]*\)/\([0-9]*\).*|\1 \2 \3|p' <<< "$last" |
            awk '{print $1 + $2 + $3}')
  artifacts=$(find "$out/artifacts" -type f | wc -l)
  crashes=$(( ${found:-0} > artifacts ? ${found:-0} : artifacts ))
  [ -n "$execs" ] || { echo "fuzz $name: did not run (see $out/log)"; tail -n 5 "$out/log"; failed=1; continue; }
  echo "fuzz $name: $execs execs, $crashes crashes"
  if [ "$crashes" -gt 0 ]; then
    failed=1
    find "$out/artifacts" -type f | sed 's/^/  reproducer: /'
  fi
done
exit $failed
