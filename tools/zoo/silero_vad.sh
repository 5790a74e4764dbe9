#!/usr/bin/env bash
# The silero VAD rows of the model zoo: the pretrained v5 and legacy models that the npm package
# @ricky0123/vad-web ships, run on speech synthesised with espeak-ng (tools/zoo/silero_vad_audio.py)
# cut into per-chunk samples with the fp32 model's own states (tools/zoo/silero_vad.js), then
# tools/zoo/silero_vad_row.py per model. Prints one JSON row per model and writes it to
# build/zoo/silero_vad/<kind>/result.json. Exit 0 when every row matches fp32, meets its goal and
# agrees with ONNX Runtime.
#
#   tools/zoo/silero_vad.sh [--install] [v5] [legacy]     (no kind: both; silero_vad_v5 and
#                                                         silero_vad_legacy name them too)
#   SILERO_MAX_TRIALS=N   trial budget per row (default 40)
#
# --install first installs what the rows need and the default test suite does not: espeak-ng,
# python3-numpy and python3-scipy (Debian, as root), and onnxruntime-node (npm). scripts/zoo.sh
# installs those itself and runs this script once per row (`scripts/zoo.sh silero_vad`: both).
set -uo pipefail

SILERO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SILERO_PACKAGE=@ricky0123/vad-web@0.0.31   # the version whose files the committed test holds
SILERO_ZOO=${SILERO_ZOO:-$SILERO_ROOT/build/zoo/silero_vad}
SILERO_QTUNE=${SILERO_QTUNE:-$SILERO_ROOT/build/qtune}
SILERO_ORT_CACHE=${SILERO_ORT_CACHE:-$SILERO_ROOT/build/ort-node-cache}

silero_vad_install() {
  local missing=() p
  for p in espeak-ng python3-numpy python3-scipy; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
      echo "silero_vad: run as root to install ${missing[*]}" >&2
      return 2
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
             --no-install-recommends "${missing[@]}"; } || return 2
  fi
  "$SILERO_ROOT/tests/integration/install_ort.sh" "$SILERO_ORT_CACHE" >&2
}

# The package (npm pack, cached; never installed or committed) and its two model files.
silero_vad_fetch() {
  local npm_dir=$SILERO_ZOO/npm
  if [ ! -f "$npm_dir/package/dist/silero_vad_v5.onnx" ] ||
     [ ! -f "$npm_dir/package/dist/silero_vad_legacy.onnx" ]; then
    mkdir -p "$npm_dir"
    (cd "$npm_dir" && rm -rf package ./*.tgz && npm pack --silent "$SILERO_PACKAGE" > /dev/null &&
       tar xzf ./*.tgz) || { echo "silero_vad: npm pack $SILERO_PACKAGE failed" >&2; return 2; }
  fi
}

# Test audio shared by both models: a calibration and an evaluation stream, different seeds.
silero_vad_audio() {
  local split seed seconds
  for split in calib eval; do
    [ "$split" = calib ] && { seed=1; seconds=40; } || { seed=2; seconds=90; }
    [ -f "$SILERO_ZOO/audio/$split/segments.json" ] && continue
    /usr/bin/python3 "$SILERO_ROOT/tools/zoo/silero_vad_audio.py" "$SILERO_ZOO/audio/$split" \
      --seconds "$seconds" --seed "$seed" >&2 || return 2
  done
}

silero_vad_row() {
  local kind=$1 dir=$SILERO_ZOO/$1 split
  export NODE_PATH=$SILERO_ORT_CACHE/node_modules
  mkdir -p "$dir"
  cp "$SILERO_ZOO/npm/package/dist/silero_vad_$kind.onnx" "$dir/model.onnx"
  for split in calib eval; do
    if [ ! -f "$dir/$split/labels.npy" ]; then
      node "$SILERO_ROOT/tools/zoo/silero_vad.js" chunks "$dir/model.onnx" "$kind" \
        "$SILERO_ZOO/audio/$split" "$dir/$split" >&2 || return 2
    fi
  done
  rm -rf "$dir/out" "$dir/run"
  /usr/bin/python3 "$SILERO_ROOT/tools/zoo/silero_vad_row.py" "$dir" --kind "$kind" \
    --qtune "$SILERO_QTUNE" --ort-cache "$SILERO_ORT_CACHE" --max-trials "${SILERO_MAX_TRIALS:-40}" |
    tee "$dir/result.json"
  return "${PIPESTATUS[0]}"
}

# Every requested row (v5, legacy; none: both); exit status 1 when one fails.
silero_vad_rows() {
  local kinds=("$@") kind rc=0
  [ ${#kinds[@]} -eq 0 ] && kinds=(v5 legacy)
  silero_vad_fetch || return 2
  silero_vad_audio || return 2
  for kind in "${kinds[@]}"; do
    kind=${kind#silero_vad_}
    case $kind in
      v5|legacy) silero_vad_row "$kind" || rc=1 ;;
      *) echo "silero_vad: unknown model '$kind' (v5 or legacy)" >&2; return 2 ;;
    esac
  done
  return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  if [ "${1:-}" = --install ]; then
    shift
    silero_vad_install || exit 2
  fi
  silero_vad_rows "$@"
  exit $?
fi
