#!/usr/bin/env bash
# qtune diagnose on the bundled models (examples/fashion_mnist/*.tune.yaml): the table and the
# JSON rank every int8 op worst first with finite figures, --top and --rank-by do what they say,
# and diagnose.json and diagnose.html land in --out with every op; the page fetches nothing.
#   check_diagnose.sh QTUNE SOURCE_DIR
set -uo pipefail
qtune=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
if [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  echo "SKIP: Fashion-MNIST missing (Debian package dataset-fashion-mnist)"; exit 0
fi

for model in lenet resnet vit; do
  cfg=$src/examples/fashion_mnist/$model.tune.yaml out=$tmp/$model
  if ! "$qtune" diagnose "$cfg" --samples 300 --top 5 --json --out "$out" > "$tmp/$model.top.json" 2> "$tmp/err"; then
    echo "FAIL: diagnose $model --json: $(cat "$tmp/err")"; fail=1; continue
  fi
  if ! "$qtune" diagnose "$cfg" --samples 300 --rank-by accumulated --out "$out" > "$tmp/$model.table" 2> "$tmp/err"; then
    echo "FAIL: diagnose $model: $(cat "$tmp/err")"; fail=1; continue
  fi
  /usr/bin/python3 - "$model" "$tmp/$model.top.json" "$out/diagnose.json" "$tmp/$model.table" "$out/diagnose.html" <<'PY' || fail=1
import json, math, re, sys
model, top_path, all_path, table_path, html_path = sys.argv[1:]
top, full = json.load(open(top_path)), json.load(open(all_path))
errors = []
def check(d, by, n):
    if d["ranked_by"] != by: errors.append(f"ranked_by {d['ranked_by']}, expected {by}")
    if len(d["ops"]) != n: errors.append(f"{len(d['ops'])} ops listed, expected {n}")
    if d["samples"] != 300: errors.append(f"samples {d['samples']}")
    keys = [op[by]["sqnr_db"] for op in d["ops"]]
    if keys != sorted(keys): errors.append(f"not worst first by {by}: {keys}")
    for i, op in enumerate(d["ops"]):
        if op["rank"] != i + 1: errors.append(f"{op['name']}: rank {op['rank']} at {i + 1}")
        for part in ("isolated", "accumulated", "weight", "input"):
            e = op[part]
            if e is None:
                if part in ("isolated", "accumulated"): errors.append(f"{op['name']}: no {part}")
                continue
            for k in ("sqnr_db", "cosine", "max_abs_error"):
                v = e[k]
                if not isinstance(v, (int, float)) or not math.isfinite(v): errors.append(f"{op['name']} {part}.{k} = {v}")
            if not -144.5 <= e["sqnr_db"] <= 144.5: errors.append(f"{op['name']} {part} SQNR {e['sqnr_db']}")
            if not -1.000001 <= e["cosine"] <= 1.000001: errors.append(f"{op['name']} {part} cosine {e['cosine']}")
        if op["op_type"] in ("Conv", "Gemm", "MatMul") and op["weight"] is None: errors.append(f"{op['name']}: no weight SQNR")
n = full["ops_compared"]
if n < 5: errors.append(f"only {n} ops compared")
check(top, "isolated", 5)
check(full, "accumulated", n)   # diagnose.json: the last run, every op
if full["skipped"]: errors.append(f"skipped: {full['skipped']}")
names = [op["name"] for op in sorted(full["ops"], key=lambda o: o["isolated"]["sqnr_db"])[:5]]
if [op["name"] for op in top["ops"]] != names: errors.append(f"--top 5 {[op['name'] for op in top['ops']]} is not the 5 worst {names}")
table = open(table_path).read().splitlines()
rows = [l for l in table if l[:4].strip().isdigit()]
if len(rows) != n: errors.append(f"the table has {len(rows)} rows for {n} ops")
if rows and rows[0].split()[1] != full["ops"][0]["name"]: errors.append(f"table row 1 is {rows[0].split()[1]}, JSON rank 1 {full['ops'][0]['name']}")
html = open(html_path).read()
if not html.startswith("<!DOCTYPE html>"): errors.append("diagnose.html is no HTML document")
for bad in ("<script", "<link", "src=", "url(", "http:", "https:", "@import"):
    if bad in html: errors.append(f"diagnose.html fetches something: {bad}")
exact = sum(1 for op in full["ops"] if op["isolated"]["sqnr_db"] >= 144.49)
bars = len(re.findall(r'class="op-bar"', html))
if bars != 2 * n - exact: errors.append(f"diagnose.html has {bars} op bars, expected {2 * n - exact} ({n} ops, {exact} exact alone)")
for op in full["ops"]:
    if html.count('data-id="' + op["name"].replace("&", "&amp;") + '"') < 1: errors.append(f"diagnose.html has no bar for {op['name']}")
for e in errors: print(f"FAIL: {model}: {e}")
if not errors:
    w = top["ops"][0]
    print(f"ok: {model}: {n} ops; worst alone {w['name']} ({w['op_type']}) at {w['isolated']['sqnr_db']:.1f} dB, in the model {w['accumulated']['sqnr_db']:.1f} dB")
sys.exit(1 if errors else 0)
PY
done
exit $fail
