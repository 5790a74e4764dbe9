#!/usr/bin/env bash
# Proves scripts/setup.sh on a machine that lacks what a fresh Debian 12 lacks: purges the
# packages that only come in as "Recommends" of the -dev packages (OpenCL for libdnnl-dev's CMake
# config) or that a fresh machine does not have, clones the committed tree into a temporary
# folder and runs the set-up there. It must install what is missing and build.
#   scripts/check-fresh.sh [--keep]     (as root; --keep leaves the clone for inspection)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "check-fresh: run as root (it purges and installs Debian packages)" >&2
  exit 2
fi

optional=(ocl-icd-opencl-dev opencl-c-headers opencl-clhpp-headers)
installed=()
for p in "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" && installed+=("$p")
done
if [ ${#installed[@]} -gt 0 ]; then
  echo "check-fresh: purging ${installed[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq "${installed[@]}" > /dev/null
fi

scratch=$(mktemp -d /tmp/qtune-fresh.XXXXXX)
[ "${1:-}" = "--keep" ] || trap 'rm -rf "$scratch"' EXIT
git clone -q "$repo" "$scratch/qtune"
echo "check-fresh: cloned $(git -C "$scratch/qtune" rev-parse --short HEAD) into $scratch/qtune"

start=$(date +%s)
"$scratch/qtune/scripts/setup.sh"
test -x "$scratch/qtune/build/qtune"
"$scratch/qtune/build/qtune" --version > /dev/null 2>&1 || "$scratch/qtune/build/qtune" help > /dev/null
for p in "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || {
    echo "check-fresh: setup.sh did not install $p" >&2; exit 1; }
done
echo "check-fresh: OK, purged machine set up and built in $(( $(date +%s) - start )) s"
