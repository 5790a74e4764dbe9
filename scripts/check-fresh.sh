#!/usr/bin/env bash
# Proves scripts/setup.sh on a machine that lacks what a fresh Debian 12 lacks: purges the
# packages setup.sh installs (those whose removal takes nothing else with it; libprotobuf-dev,
# libpng-dev and fonts-dejavu-core stay because other tools here depend on them), clones the
# committed tree into a temporary folder and runs the set-up there. It must install every purged
# package again and build.
#   scripts/check-fresh.sh [--keep]     (as root; --keep leaves the clone for inspection)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

if [ "$(id -u)" -ne 0 ]; then
  echo "check-fresh: run as root (it purges and installs Debian packages)" >&2
  exit 2
fi

optional=(cppzmq-dev libzmq3-dev libmsgpack-cxx-dev libyaml-cpp-dev libtbb-dev libsodium-dev
  libdnnl-dev ocl-icd-opencl-dev opencl-c-headers opencl-clhpp-headers libonnx-dev
  protobuf-compiler googletest libgtest-dev libbenchmark-dev libjpeg-dev
  dataset-fashion-mnist libonnx-testdata python3-onnx docker-compose chromium)
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
