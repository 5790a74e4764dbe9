#!/usr/bin/env bash
# Sets everything up and runs the main job on the bundled default: tune the bundled ResNet for
# the fastest int8/bf16/fp32 mix within 1% of its fp32 top-1, with one local worker process per
# core (results in out/resnet/).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
build/qtune tune examples/fashion_mnist/resnet.tune.yaml --workers "$(nproc)" "$@"
