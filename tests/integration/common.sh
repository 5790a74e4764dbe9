# Sourced by the integration scripts that tune on the bundled models (QTUNE_BINARY SOURCE_DIR as
# the script's arguments): sets qtune, src, ex and fail=0, skips when the dataset is missing,
# makes a scratch directory $tmp that goes on exit together with every process in `pids`
# (after the script's own extra_cleanup, when it defines one).
set -uo pipefail
qtune=$1 src=$(cd "$2" && pwd)
ex="$src/examples/fashion_mnist"
fail=0
if [ ! -f /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz ]; then
  echo "SKIP: dataset-fashion-mnist is not installed"
  exit 0
fi
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2> /dev/null; done
  wait 2> /dev/null
  if declare -F extra_cleanup > /dev/null; then extra_cleanup; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Runs a private copy of the binary, so a concurrent rebuild cannot fail the workers' exec.
use_private_binary() {
  cp "$qtune" "$tmp/qtune-bin" && qtune="$tmp/qtune-bin"
  export QTUNE_CAPABILITIES_DIR="$src/capabilities"
}

# The first value of "KEY": on standard input (one-line JSON).
json_field() { sed -n "s/.*\"$1\": *\([^,}]*\).*/\1/p" | head -n1 | tr -d '"'; }
