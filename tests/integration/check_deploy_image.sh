#!/usr/bin/env bash
# docker/Dockerfile without a Docker engine: every shared library `ldd` lists for the binary
# comes (per `dpkg -S`) from a package the runtime stage installs, and every package of that
# list provides one of them; two Debian 12 stages, the build stage running scripts/setup.sh, a
# non-root USER and ENTRYPOINT ["qtune"]. Also runs inside the image's build stage.
#   check_deploy_image.sh QTUNE_BINARY SOURCE_DIR
set -uo pipefail
qtune=$1 dockerfile=$2/docker/Dockerfile
fail=0
err() { echo "FAIL: $dockerfile: $*"; fail=1; }
for tool in ldd dpkg; do
  command -v $tool > /dev/null 2>&1 || { echo "SKIP: $tool is not installed"; exit 0; }
done
[ -r "$dockerfile" ] || { echo "FAIL: $dockerfile: cannot read"; exit 1; }

# The runtime stage: from `FROM ... AS runtime` to the next FROM, continuation lines joined.
runtime=$(awk '/^FROM /{ in_rt = ($0 ~ / AS runtime$/) } in_rt' "$dockerfile" |
          sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
[ -n "$runtime" ] || { err "no stage named runtime"; exit 1; }
# Its first apt-get install is the library list: the words after the options, up to &&.
install_line=$(grep -m1 'apt-get install' <<<"$runtime")
read -r -a words <<<"$(sed 's/.*apt-get install//; s/&&.*//' <<<"$install_line")"
listed=()
for w in "${words[@]}"; do [[ $w == -* ]] || listed+=("$w"); done
[ ${#listed[@]} -gt 0 ] || { err "the runtime stage installs no packages"; exit 1; }

# The package that owns a library path; merged /usr means it may be registered under either.
owner() {
  local p=$1 real
  real=$(readlink -f "$p")
  for cand in "$p" "$real" "${p/#\/lib/\/usr\/lib}" "${real/#\/usr\/lib/\/lib}" "${p/#\/usr\/lib/\/lib}"; do
    local out
    if out=$(dpkg -S "$cand" 2> /dev/null); then
      cut -d: -f1 <<<"${out%%$'\n'*}"
      return 0
    fi
  done
  return 1
}

declare -A needed=()  # package -> libraries
libs=0
while read -r line; do
  case $line in
    *"not found"*) err "ldd: $line (the binary does not even load here)"; continue ;;
    *"=> "/*) path=$(sed 's/.*=> \([^ ]*\).*/\1/' <<<"$line") ;;
    /*) path=${line%% *} ;;  # the dynamic loader
    *) continue ;;           # linux-vdso: the kernel's, no file
  esac
  libs=$((libs + 1))
  if ! pkg=$(owner "$path"); then err "no Debian package owns $path"; continue; fi
  needed[$pkg]+="$(basename "$path") "
done < <(ldd "$qtune")
[ $libs -gt 0 ] || { err "ldd listed no library for $qtune"; exit 1; }

for pkg in "${!needed[@]}"; do
  printf '%s\n' "${listed[@]}" | grep -qx "$pkg" ||
    err "runtime stage lacks $pkg (for ${needed[$pkg]% })"
done
for pkg in "${listed[@]}"; do
  [ -n "${needed[$pkg]:-}" ] || err "runtime stage installs $pkg, which provides no library the binary loads"
done

# The shape the issue asks for.
[ "$(grep -c '^FROM debian:12' "$dockerfile")" -ge 2 ] || err "expected two stages FROM debian:12"
awk '/^FROM /{ b = ($0 ~ / AS build$/) } b' "$dockerfile" | grep -q 'scripts/setup.sh' ||
  err "the build stage does not run scripts/setup.sh"
user=$(grep '^USER ' <<<"$runtime" | tail -n1 | awk '{print $2}')
case ${user%%:*} in
  "" ) err "the runtime stage sets no USER" ;;
  root | 0) err "the runtime stage runs as root ($user)" ;;
esac
grep -qx 'ENTRYPOINT \["qtune"\]' <<<"$runtime" || err 'the runtime stage lacks ENTRYPOINT ["qtune"]'

[ $fail -eq 0 ] && echo "ok: ldd lists $libs libraries from ${#needed[@]} packages; the runtime stage installs exactly those (USER $user, ENTRYPOINT qtune)"
exit $fail
