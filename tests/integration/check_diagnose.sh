#!/usr/bin/env bash
# qtune diagnose on the bundled models (examples/fashion_mnist/*.tune.yaml): the table and the
# JSON rank every int8 op worst first with finite figures, --top and --rank-by do what they say,
# and diagnose.json and diagnose.html land in --out with every op; the page fetches nothing and
# headless Chromium renders it (not blank, every op bar in the DOM).
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

# diagnose.html as headless Chromium renders it: a screenshot that is not blank and, in the
# rendered DOM, every op bar the file has (the page needs nothing from outside).
if ! command -v chromium > /dev/null; then
  echo "FAIL: chromium is not installed (scripts/setup.sh installs it)"; exit 1
fi
page=$tmp/lenet/diagnose.html
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
       --user-data-dir="$tmp/chromium-profile")
timeout 120 chromium "${flags[@]}" --window-size=1100,2000 --screenshot="$tmp/shot.png" \
  "file://$page" > "$tmp/chromium.log" 2>&1
timeout 120 chromium "${flags[@]}" --dump-dom "file://$page" > "$tmp/dom.html" 2>> "$tmp/chromium.log"
if [ ! -s "$tmp/shot.png" ] || [ ! -s "$tmp/dom.html" ]; then
  echo "FAIL: chromium rendered nothing for diagnose.html"; tail -n 5 "$tmp/chromium.log"; exit 1
fi
PYTHONPATH=$(dirname "$0") /usr/bin/python3 - "$page" "$tmp/dom.html" "$tmp/shot.png" <<'PY' || fail=1
import sys
from report_html_check import decode_png
page, dom, shot = sys.argv[1:]
errors = []
in_file, in_dom = open(page).read().count('class="op-bar"'), open(dom).read().count('class="op-bar"')
if in_dom == 0 or in_dom != in_file: errors.append(f"rendered DOM has {in_dom} op bars, the file {in_file}")
width, height, channels, rows = decode_png(shot)
colours, dark, coloured = {}, 0, 0
for row in rows[::2]:
    for x in range(0, width * channels, channels * 2):
        r, g, b = (row[x], row[x + 1], row[x + 2]) if channels >= 3 else (row[x],) * 3
        colours[(r, g, b)] = colours.get((r, g, b), 0) + 1
        dark += r + g + b < 200
        coloured += max(r, g, b) - min(r, g, b) > 60
background = max(colours.values()) / sum(colours.values())
if background > 0.97: errors.append(f"screenshot {100 * background:.1f}% one colour: blank")
if dark < 100: errors.append(f"screenshot has {dark} dark pixels: no text rendered")
if coloured < 20: errors.append(f"screenshot has {coloured} coloured pixels: the bars did not render")
for e in errors: print(f"FAIL: diagnose.html in chromium: {e}")
if not errors:
    print(f"ok: diagnose.html in chromium: {width}x{height}, {in_dom} op bars rendered, "
          f"{100 * background:.0f}% background, {dark} dark and {coloured} coloured pixels sampled")
sys.exit(1 if errors else 0)
PY
exit $fail
