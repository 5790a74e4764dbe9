#!/usr/bin/env bash
# qtune and ONNX Runtime side by side on the same files, in one run: for each model, its fp32
# ONNX file and the QDQ int8 file `qtune quantize` writes from it are timed by
#   qtune fp32 (`qtune bench model`, native adaptor), qtune int8 on each adaptor, and
#   ONNX Runtime (npm onnxruntime-node, bench/ort_bench.js) on the fp32 and on the QDQ file,
# at each batch size, all with the same intra-op thread count. Each (runtime, model, batch) is
# measured in several rounds, the runtimes taking turns, so that load drifting on a shared
# machine hits them alike; a round is a fresh process: warm-up runs, then timed runs. The table
# gives per batch the median ms (min-max over every timed run of every round), the CPU ms per
# batch (all threads; steadier than wall time on a busy machine) and the peak RSS of the process.
# It is printed and, with --doc, written into the "## Models" section of that Markdown file
# (docs/performance.md) with the CPU, the date and the load.
#
#   bench/compare.sh [--qtune BIN] [--threads T] [--batches "1 100"] [--rounds N] [--runs R]
#                    [--warmup W] [--data CALIB.yaml] [--ort-cache DIR] [--doc FILE.md] [MODEL.onnx ...]
#
# Without models: the bundled lenet, resnet and vit. A model's QDQ file is MODEL.int8.onnx beside
# it when that exists, else `qtune quantize MODEL --data CALIB.yaml` (default: the bundled
# Fashion-MNIST calibration set, which fits 1x28x28 inputs; give --data for other models).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
qtune=$src/build/qtune
threads=2
batches="1 100"
rounds=3
runs=20
warmup=3
data=$src/examples/fashion_mnist/calib.yaml
cache=$src/build/ort-node-cache
doc=""
models=()
usage() {
  sed -n '/^#   bench/,/^#   *\[--warmup/p' "$0" | sed 's/^# *//' >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --qtune) qtune=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --ort-cache) cache=$2; shift 2 ;;
    --doc) doc=$2; shift 2 ;;
    -h|--help) usage ;;
    --*) echo "compare.sh: unknown option $1" >&2; usage ;;
    *) models+=("$1"); shift ;;
  esac
done
for v in "$threads" "$rounds" "$runs" "$warmup" $batches; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "compare.sh: '$v' is not a positive integer" >&2; exit 2; }
done
if [ ${#models[@]} -eq 0 ]; then
  models=("$src"/models/fashion_mnist/{lenet,resnet,vit}.onnx)
fi
[ -x "$qtune" ] || { echo "compare.sh: $qtune is not an executable (build it, or give --qtune)" >&2; exit 2; }
for m in "${models[@]}"; do
  [ -f "$m" ] || { echo "compare.sh: $m: no such file" >&2; exit 2; }
done

# onnxruntime-node, installed once (as the ort.install test fixture does).
"$src/tests/integration/install_ort.sh" "$cache" > /dev/null
export NODE_PATH="$cache/node_modules"
if ! node -e "require('onnxruntime-node')" > /dev/null 2>&1; then
  echo "compare.sh: onnxruntime-node is not available in $cache (node/npm missing or no registry)" >&2
  exit 3
fi
ort_version=$(node -p "require('onnxruntime-node/package.json').version")

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results=$tmp/results.jsonl
: > "$results"
load_before=$(cut -d' ' -f1 /proc/loadavg)

for m in "${models[@]}"; do
  name=$(basename "$m" .onnx)
  qdq=${m%.onnx}.int8.onnx
  if [ ! -f "$qdq" ]; then
    qdq=$tmp/$name.int8.onnx
    echo "quantizing $name ..." >&2
    "$qtune" quantize "$m" --data "$data" --out "$qdq" > /dev/null
  fi
  for b in $batches; do
    for round in $(seq "$rounds"); do
      echo "$name batch $b round $round/$rounds ..." >&2
      # label|command; every command prints one JSON line.
      for entry in \
          "qtune fp32|$qtune bench model $m --adaptor native" \
          "qtune int8 native|$qtune bench model $qdq --adaptor native" \
          "qtune int8 onednn|$qtune bench model $qdq --adaptor onednn" \
          "ORT fp32|node $src/bench/ort_bench.js $m" \
          "ORT int8|node $src/bench/ort_bench.js $qdq"; do
        label=${entry%%|*}
        cmd=${entry#*|}
        json_flag=""
        case $cmd in "$qtune"*) json_flag=--json ;; esac
        # shellcheck disable=SC2086  # the command line splits on spaces by design
        if ! out=$($cmd --batch "$b" --threads "$threads" --warmup "$warmup" --runs "$runs" \
                     $json_flag 2> "$tmp/err"); then
          echo "compare.sh: $label on $m failed: $(tail -n 3 "$tmp/err")" >&2
          exit 3
        fi
        printf '{"model": "%s", "label": "%s", "round": %d, "result": %s}\n' \
          "$name" "$label" "$round" "$out" >> "$results"
      done
    done
  done
done
load_after=$(cut -d' ' -f1 /proc/loadavg)

/usr/bin/python3 - "$results" "$doc" "$($qtune version | head -n1)" \
    "$ort_version" "$threads" "$rounds" "$runs" "$warmup" "$load_before" "$load_after" <<'PY'
import datetime, json, os, re, statistics, sys
(path, doc_path, qtune_version, ort_version, threads, rounds, runs, warmup,
 load_before, load_after) = sys.argv[1:]
rows = [json.loads(l) for l in open(path)]
labels = ["qtune fp32", "qtune int8 native", "qtune int8 onednn", "ORT fp32", "ORT int8"]
models = list(dict.fromkeys(r["model"] for r in rows))
batches = sorted({r["result"]["batch"] for r in rows})
cell = {}
for r in rows:
    cell.setdefault((r["model"], r["result"]["batch"], r["label"]), []).append(r["result"])

def agg(rs):
    # The median of the rounds' medians; min and max over every timed run of every round.
    return {"median": statistics.median(x["median_ms"] for x in rs),
            "min": min(x["min_ms"] for x in rs), "max": max(x["max_ms"] for x in rs),
            "cpu": statistics.median(x["cpu_ms"] for x in rs),
            "rss": max(x["peak_rss_kb"] for x in rs) / 1024.0,
            "model_rss": max(x["model_rss_kb"] for x in rs) / 1024.0}

cpu_model = "unknown CPU"
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu_model = line.split(":", 1)[1].strip()
        break
out = ["## Models", ""]
out.append(f"Measured {datetime.date.today().isoformat()} by `bench/compare.sh` (`{qtune_version}`, "
           f"onnxruntime-node {ort_version}) on {cpu_model}, {os.cpu_count()} logical cores, "
           f"{threads} intra-op thread(s) for every runtime; load average (1 min) "
           f"{load_before} before, {load_after} after.")
out.append("")
out.append("Every runtime runs the same file: the fp32 ONNX model, or the QDQ model `qtune quantize` "
           "writes from it (every quantizable op int8, minmax). qtune runs them as `qtune bench model` "
           "does (the fp32 model on the native adaptor's fp32 kernels, the QDQ model lowered onto "
           "each adaptor's int8 kernels); ONNX Runtime with its default graph optimizations "
           "(`bench/ort_bench.js`). Random input of the declared shape, batch dimension set. "
           f"{rounds} rounds, the runtimes taking turns, each a fresh process with {warmup} warm-up "
           f"and {runs} timed runs. Wall ms per batch: median of the rounds' medians, and in "
           "brackets the fastest and slowest run; CPU ms: CPU time per batch, all threads of the "
           "process (idle threads spinning for work count too), the steadier figure when other "
           "jobs share the cores; RSS: the process's peak resident memory, MiB, runtime included.")
out.append("")
out.append("| model | batch | " + " | ".join(labels) + " | qtune fp32 / ORT fp32 | best qtune int8 / ORT int8 | best qtune int8 / ORT fp32 |")
out.append("|---|---:|" + "---:|" * (len(labels) + 3))
for m in models:
    for b in batches:
        a = {l: agg(cell[(m, b, l)]) for l in labels if (m, b, l) in cell}
        cells = [f"{a[l]['median']:.3f} [{a[l]['min']:.3f}–{a[l]['max']:.3f}]" if l in a else "–"
                 for l in labels]
        best_int8 = min((a[l]["median"] for l in labels[1:3] if l in a), default=None)
        ratio = lambda x, y: f"{x / y:.2f}" if x and y else "–"
        out.append(f"| {m} | {b} | " + " | ".join(cells) + " | "
                   + ratio(a.get("qtune fp32", {}).get("median"), a.get("ORT fp32", {}).get("median")) + " | "
                   + ratio(best_int8, a.get("ORT int8", {}).get("median")) + " | "
                   + ratio(best_int8, a.get("ORT fp32", {}).get("median")) + " |")
out.append("")
out.append("CPU ms per batch, median over rounds:")
out.append("")
out.append("| model | batch | " + " | ".join(f"{l} CPU ms" for l in labels) + " |")
out.append("|---|---:|" + "---:|" * len(labels))
for m in models:
    for b in batches:
        a = {l: agg(cell[(m, b, l)]) for l in labels if (m, b, l) in cell}
        out.append(f"| {m} | {b} | " + " | ".join(f"{a[l]['cpu']:.3f}" if l in a else "–" for l in labels) + " |")
out.append("")
out.append("Peak RSS of the process at the largest batch, MiB, and in brackets the part above what it "
           "held before loading the model (the runtime's own code and heap: node and onnxruntime-node, "
           "or qtune's libraries):")
out.append("")
out.append("| model | " + " | ".join(f"{l} RSS" for l in labels) + " |")
out.append("|---|" + "---:|" * len(labels))
for m in models:
    b = batches[-1]
    a = {l: agg(cell[(m, b, l)]) for l in labels if (m, b, l) in cell}
    out.append(f"| {m} | " + " | ".join(f"{a[l]['rss']:.1f} [{a[l]['model_rss']:.1f}]" if l in a else "–" for l in labels) + " |")
section = "\n".join(out) + "\n"
print(section)
if doc_path:
    text = open(doc_path).read() if os.path.exists(doc_path) else "# Performance\n\n"
    m = re.search(r"^## Models\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
    if m:
        text = text[:m.start()] + section + ("\n" if text[m.end():] else "") + text[m.end():]
    else:
        # Before the kernel tables: what users compare first.
        k = re.search(r"^## Kernels\n", text, flags=re.M)
        at = k.start() if k else len(text)
        text = text[:at].rstrip() + "\n\n" + section + "\n" + text[at:]
    open(doc_path, "w").write(text)
    print(f"wrote the Models section of {doc_path}", file=sys.stderr)
PY
