#!/usr/bin/env bash
# The model zoo end to end. Exports the models (cached under build/zoo/), then for every row:
# fp32 parity with the source framework, `qtune tune`, and ONNX Runtime running the exported QDQ
# model. Writes build/zoo/results.json and regenerates docs/model-zoo.md. Exit 1 when a row
# fails (parity, goal or ONNX Runtime), 2 on a usage error.
#
#   scripts/zoo.sh [NAME...]        no names: every model; silero_vad: both silero rows
#   QTUNE_ZOO_MAX_TRIALS=N          trial budget per row (default 30)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
zoo=$root/build/zoo
py=/usr/bin/python3

torchvision_models=$($py -c 'import ast,sys
src = open("tools/zoo/export_torchvision.py").read()
tree = ast.parse(src)
for node in tree.body:
    if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "MODELS":
        print(" ".join(k.value for k in node.value.keys))')
other_models="silero_vad_v5 silero_vad_legacy"
names=()
for n in "$@"; do
  case "$n" in
    silero_vad) names+=(silero_vad_v5 silero_vad_legacy) ;;  # both silero rows
    *) names+=("$n") ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  read -r -a names <<< "$torchvision_models $other_models"
fi
torchvision_rows=0
for n in "${names[@]}"; do
  case " $torchvision_models $other_models " in
    *" $n "*) ;;
    *) echo "zoo: unknown model '$n'; known: $torchvision_models $other_models" \
            "(silero_vad: both silero rows)" >&2; exit 2 ;;
  esac
  case " $torchvision_models " in *" $n "*) torchvision_rows=1 ;; esac
done

# What the requested rows need beyond the test suite: PyTorch/torchvision to export and sample
# photographs for the torchvision rows, espeak-ng speech for silero; Node.js (npm) for ONNX
# Runtime, which comes with Debian's nodejs or NodeSource's, so it is checked as commands.
missing=()
packages=(python3-numpy python3-onnx)
[ $torchvision_rows -eq 1 ] && packages+=(python3-torch python3-torchvision python3-skimage python3-pil)
case " ${names[*]} " in *" silero_vad_"*) packages+=(espeak-ng python3-scipy) ;; esac
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" > /dev/null 2>&1 || missing+=("$pkg")
done
command -v node > /dev/null 2>&1 && command -v npm > /dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "zoo: installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "zoo: run as root to install packages" >&2; exit 2; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
[ -x build/qtune ] || scripts/setup.sh
tests/integration/install_ort.sh "$root/build/ort-node-cache"

mkdir -p "$zoo/results"
[ $torchvision_rows -eq 0 ] || [ -d "$zoo/images/eval" ] || $py tools/zoo/make_images.py --out "$zoo/images"

export_list=()
for n in "${names[@]}"; do
  case " $torchvision_models " in
    *" $n "*) compgen -G "$zoo/$n-opset*/row.json" > /dev/null || export_list+=("$n") ;;
  esac
done
if [ ${#export_list[@]} -gt 0 ]; then
  $py tools/zoo/export_torchvision.py --images "$zoo/images" --out "$zoo" "${export_list[@]}"
fi

rows=()
status=0
for n in "${names[@]}"; do
  case "$n" in
    # Multi-input models with their own data and metric: the script prints the result row.
    silero_vad_*) out="$zoo/results/$n.json"
                  SILERO_ZOO=$zoo/silero_vad SILERO_MAX_TRIALS=${QTUNE_ZOO_MAX_TRIALS:-40} \
                    tools/zoo/silero_vad.sh "$n" > "$out" || status=1
                  if [ -s "$out" ]; then
                    echo "zoo: $(cat "$out")"
                    rows+=("$out")
                  else
                    echo "zoo: $n wrote no result row" >&2
                  fi
                  continue ;;
    *) dirs=("$zoo/$n"-opset*) ;;
  esac
  for d in "${dirs[@]}"; do
    [ -f "$d/row.json" ] || { echo "zoo: $d has no row.json" >&2; status=1; continue; }
    out="$zoo/results/$(basename "$d").json"
    if ! $py tools/zoo/run_row.py "$d" --max-trials "${QTUNE_ZOO_MAX_TRIALS:-30}" > "$out"; then
      status=1
    fi
    if [ -s "$out" ]; then
      echo "zoo: $(cat "$out")"
      rows+=("$out")
    else
      echo "zoo: $(basename "$d") wrote no result row" >&2
    fi
  done
done
$py tools/zoo/write_table.py --results "$zoo/results.json" --store docs/model-zoo.json \
  --doc docs/model-zoo.md "${rows[@]}"
exit $status
