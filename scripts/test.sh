#!/usr/bin/env bash
# Sets everything up, builds, and runs the whole test suite (unit, conformance, integration).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 900
