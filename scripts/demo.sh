#!/usr/bin/env bash
# Sets everything up and runs the main job on the bundled default model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
for model in lenet resnet vit; do
  build/qtune eval "models/fashion_mnist/$model.onnx" --data examples/fashion_mnist/test.yaml
done
