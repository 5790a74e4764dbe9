#!/usr/bin/env bash
# docs/cli.md is what `qtune help --markdown` prints (regenerate it when the help changes), and
# every command the overview lists answers `qtune help COMMAND`, `qtune COMMAND --help` and
# `-h` with the same text, starting with its usage line.
#   check_cli_help.sh QTUNE SOURCE_DIR
set -uo pipefail
qtune=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

"$qtune" help --markdown > "$tmp/cli.md" || { echo "FAIL: qtune help --markdown exited $?"; exit 1; }
if ! diff -u "$src/docs/cli.md" "$tmp/cli.md" > "$tmp/diff"; then
  echo "FAIL: docs/cli.md differs from the binary's help; regenerate it: qtune help --markdown > docs/cli.md"
  head -n 60 "$tmp/diff"
  fail=1
fi

"$qtune" help > "$tmp/overview" || { echo "FAIL: qtune help exited $?"; exit 1; }
mapfile -t commands < <(sed -n '/^commands:/,/^$/p' "$tmp/overview" | sed -n 's/^  \([a-z][a-z-]*\( [a-z]\+\)\?\)  .*/\1/p')
[ "${#commands[@]}" -ge 15 ] || { echo "FAIL: only ${#commands[@]} commands in qtune help"; fail=1; }
for c in "${commands[@]}"; do
  read -r -a words <<<"$c"
  "$qtune" help "${words[@]}" > "$tmp/a" 2>&1; rc_a=$?
  "$qtune" "${words[@]}" --help > "$tmp/b" 2>&1; rc_b=$?
  "$qtune" "${words[@]}" -h > "$tmp/c" 2>&1; rc_c=$?
  if [ $rc_a -ne 0 ] || [ $rc_b -ne 0 ] || [ $rc_c -ne 0 ]; then
    echo "FAIL: $c: help exits $rc_a / --help $rc_b / -h $rc_c"; fail=1; continue
  fi
  cmp -s "$tmp/a" "$tmp/b" && cmp -s "$tmp/a" "$tmp/c" || { echo "FAIL: $c: qtune help $c, --help and -h differ"; fail=1; }
  head -n1 "$tmp/a" | grep -q "^usage: qtune $c" || { echo "FAIL: $c: help starts '$(head -n1 "$tmp/a")'"; fail=1; }
  grep -q '^examples:' "$tmp/a" || { echo "FAIL: $c: no examples"; fail=1; }
  grep -qF "## qtune $c" "$src/docs/cli.md" || { echo "FAIL: $c is not in docs/cli.md"; fail=1; }
done

# No command: the overview on stderr, exit 2.
"$qtune" > "$tmp/out" 2> "$tmp/err"; rc=$?
[ $rc -eq 2 ] && grep -q '^commands:' "$tmp/err" || { echo "FAIL: qtune without a command -> exit $rc"; fail=1; }

[ $fail -eq 0 ] && echo "ok: docs/cli.md matches; ${#commands[@]} commands answer help, --help and -h alike"
exit $fail
