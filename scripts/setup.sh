#!/usr/bin/env bash
# Installs the Debian packages qtune needs (only those missing; apt-get update at most once)
# and builds it in ./build. Safe to run again. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config
  cppzmq-dev libzmq3-dev libmsgpack-cxx-dev libyaml-cpp-dev libtbb-dev libsodium-dev
  # libdnnl-dev's CMake config requires OpenCL headers, which it only recommends.
  libdnnl-dev ocl-icd-opencl-dev opencl-c-headers opencl-clhpp-headers
  libonnx-dev libprotobuf-dev protobuf-compiler zlib1g-dev googletest libgtest-dev
  libbenchmark-dev
  # Image-folder datasets: JPEG (libjpeg-turbo) and PNG decoding.
  libjpeg-dev libpng-dev
  dataset-fashion-mnist libonnx-testdata python3-onnx
  iproute2 docker-compose
  # The deployment checks parse docker-compose.yml and the Kubernetes manifests with it.
  python3-yaml
  # The report checks render report.html in headless Chromium, with a font for its text.
  chromium fonts-dejavu-core
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# node and npm (for the ONNX Runtime check) may come from another source than Debian's packages;
# ask apt for them only when the commands are missing.
command -v node > /dev/null 2>&1 || missing+=(nodejs)
command -v npm > /dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root (apt-get needs it) to install: ${missing[*]}" >&2
    exit 2
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > build.log 2>&1 || { cat build.log; exit 3; }
cmake --build build -j"$(nproc)" >> build.log 2>&1 || { tail -n 60 build.log; exit 3; }
echo "setup: built build/qtune"
