#!/usr/bin/python3
"""Merges model-zoo result rows into results.json and regenerates docs/model-zoo.md.

    tools/zoo/write_table.py --results build/zoo/results.json [--store docs/model-zoo.json]
                             --doc docs/model-zoo.md ROW.json...

Rows already in results.json (and in the store, the committed record of every row measured so
far) are replaced by new rows of the same name and opset and every other row is kept, so running
scripts/zoo.sh on a few models updates just their lines. Each new row is stamped with the qtune
commit and the date it was measured at, which the table shows. The read-merge-write holds an
exclusive lock (results.json.lock) and replaces the files atomically, so runs of different rows
into the same results file at the same time keep each other's rows.
"""
import argparse
import datetime
import fcntl
import json
import os
import platform
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def commit():
    p = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                       text=True)
    return p.stdout.strip() or "unknown"


def fmt(v, digits=4):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def passed(r):
    return bool(r.get("fp32_matches") and r.get("goal_met") and r.get("ort_agrees"))


def table(rows):
    out = ["| model | opset | source | fp32 parity (max abs err) | metric | fp32 | qtune int8 "
           "(chosen) | all-int8 minmax | top-1 / top-5 agreement % | goal met | ORT agrees | "
           "chosen ops int8 / bf16 / fp32 | speed-up vs fp32 | trials | seconds | measured at |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        parity = f"{fmt(r.get('fp32_matches'))} ({r.get('fp32_max_abs_err', float('nan')):.1e})"
        agree = "–"
        if r.get("top1_agreement") is not None:
            agree = f"{r['top1_agreement']:.1f} / {r.get('top5_agreement', 0):.1f}"
        elif r.get("fp32_f1") is not None:
            agree = f"F1 {r['fp32_f1']:.1f} fp32 / {r.get('int8_f1', 0):.1f} int8"
        elif r.get("f1_vs_truth") is not None:
            agree = f"F1 {r['f1_vs_truth']:.3f}"
        speed = r.get("speedup_vs_fp32")
        out.append(" | ".join([
            f"| {r['name']}", str(r["opset"]), r.get("source", ""), parity, r.get("metric", "–"),
            fmt(r.get("fp32_metric")), fmt(r.get("int8_metric")), fmt(r.get("allint8_metric")),
            agree, fmt(r.get("goal_met")), fmt(r.get("ort_agrees")),
            (f"{r['int8_ops']} / {r.get('bf16_ops', 0)} / {r.get('fp32_ops', 0)}"
             if r.get("int8_ops") is not None else "–"),
            f"{speed:.2f}x" if isinstance(speed, (int, float)) else "–",
            fmt(r.get("trials")), fmt(r.get("seconds"), 0),
            f"{r.get('measured_commit', '?')}, {r.get('measured_date', '?')}"]) + " |")
    return "\n".join(out)


def write_atomically(path, text):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--store", help="committed JSON of every row measured so far (updated too)")
    ap.add_argument("--doc", required=True)
    ap.add_argument("rows", nargs="*")
    args = ap.parse_args()
    with open(args.results + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        rows = merge([p for p in (args.store, args.results) if p], args.rows)
        text = json.dumps(rows, indent=1) + "\n"
        write_atomically(args.results, text)
        if args.store:
            write_atomically(args.store, text)
        write_atomically(args.doc, document(rows))
    print(f"zoo: {sum(passed(r) for r in rows)} of {len(rows)} rows pass; table in {args.doc}")
    return 0


def merge(sources, paths):
    """Rows of the earlier sources, replaced by later sources' and then the new rows' of the
    same name and opset."""
    rows = []

    def put(row):
        nonlocal rows
        rows = [r for r in rows if (r["name"], r["opset"]) != (row["name"], row["opset"])]
        rows.append(row)

    for source in sources:
        if os.path.exists(source):
            with open(source) as f:
                for row in json.load(f):
                    put(row)
    for path in paths:
        with open(path) as f:
            new = json.load(f)
        new.setdefault("measured_commit", commit())
        new.setdefault("measured_date", datetime.date.today().isoformat())
        put(new)
    rows.sort(key=lambda r: (r["name"], r["opset"]))
    return rows


def document(rows):
    ok = sum(passed(r) for r in rows)
    failing = [f"{r['name']} (opset {r['opset']}): {r.get('error') or 'see the row'}"
               for r in rows if not passed(r)]
    doc = f"""# Model zoo

Real architectures, exported the way users export them, run end to end through qtune by
`scripts/zoo.sh` (which regenerates this page from `build/zoo/results.json` and the record of
earlier rows in `docs/model-zoo.json`; each row says the qtune commit it was measured at). For
every row:
fp32 parity of qtune's runtime with the source framework on the same inputs (matches when the
largest error is at most 1e-4 of the output's range), `qtune tune` to the fastest mix within 1%
(relative) of fp32 on the row's metric, the chosen model's agreement with fp32, and ONNX
Runtime (npm onnxruntime-node) running the exported QDQ model and agreeing with qtune's int8
execution of it: within 2% of the output's range, or, for a model whose int8 output already
moves more than that when its input changes by 1e-5 (relative; rounding at a quantization step
boundary then decides), when ONNX Runtime's output meets the row's goal against fp32 as well.

- torchvision rows: architectures from Debian's python3-torchvision, seeded initialisation
  (no pretrained weights can be downloaded here) with BatchNorm statistics gathered on the
  calibration images; images are crops of the real photographs in python3-skimage, resized and
  center-cropped as torchvision's evaluation transform does (`tools/zoo/make_images.py`,
  `tools/zoo/export_torchvision.py`). Metric: cosine similarity of the output to fp32's;
  agreement: fp32's top-1 class is int8's top-1 / among int8's top-5 (per pixel for
  segmentation). char_lstm/char_gru: byte-level classifiers trained for a few hundred steps on
  Debian's licence texts.
- silero_vad rows: the pretrained Silero VAD v5 and legacy models of the npm package
  `@ricky0123/vad-web` (Conv, LSTM, If on the sample rate, recurrent state inputs), on speech
  synthesised with espeak-ng between silence and noise at known positions, one sample per chunk
  with the state fp32 reached there (`tools/zoo/silero_vad.sh`). Parity is against ONNX Runtime.
  Metric: agreement of the speech decisions (probability >= 0.5) with fp32's; the agreement
  column gives F1 of fp32's and int8's decisions against the known speech segments. ONNX Runtime
  agrees when its speech probability on the QDQ model is within 2% of the range of qtune's and at
  least 99% of the decisions are the same.
- "all-int8 minmax" is the tuner's first trial (every quantizable op int8, min/max calibration),
  the stand-in for ONNX Runtime's `quantize_static`, which is not available here.
- "goal met" is the zoo's accuracy goal: the chosen model within 1% of fp32. qtune itself also
  wants the chosen mix faster than fp32; where no mix within the goal was faster, qtune exits 1
  and writes its most accurate mix, and the speed-up column shows it below 1x.
- "chosen ops" says how much of the model the chosen mix runs in int8. The seeded torchvision
  models amplify errors from early layers (the reduced zoo's ShuffleNetV2 x0.5 loses 2% of its
  cosine with only its first convolution in int8), so the 1% goal keeps most of their ops in fp32; pretrained weights would not
  behave so, but none can be downloaded here.
- Speed-up is qtune int8 over qtune fp32 on the evaluation batch (see docs/performance.md for
  comparisons with ONNX Runtime).

Measured on {cpu_model()}, {os.cpu_count()} cores; table written {datetime.date.today().isoformat()}
at qtune {commit()}: **{ok} of {len(rows)} rows pass** (fp32 parity, goal met and ONNX Runtime
agrees).

{table(rows)}
"""
    if failing:
        doc += "\nRows that do not pass:\n\n" + "\n".join(f"- {x}" for x in failing) + "\n"
    return doc


if __name__ == "__main__":
    raise SystemExit(main())
