# Sourced by the integration scripts that compare with ONNX Runtime, after they set `cache` (the
# folder tests/integration/install_ort.sh installs onnxruntime-node into): points NODE_PATH there
# and sets have_ort to 1 when it loads, else 0 (printing why the ONNX Runtime half is skipped).
export NODE_PATH="$cache/node_modules"
have_ort=1
if ! command -v node > /dev/null || ! node -e "require('onnxruntime-node')" > /dev/null 2>&1; then
  echo "SKIP (ONNX Runtime half): onnxruntime-node not installed in $cache"
  have_ort=0
fi
