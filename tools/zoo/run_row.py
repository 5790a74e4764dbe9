#!/usr/bin/python3
"""Runs one model-zoo row through qtune and prints its result as one JSON object.

A row is a folder written by an exporter (row.json, model.onnx, ref/ with reference inputs and
the source framework's outputs, and a data folder with calib.npy/eval.npy). Steps:
  1. fp32 parity: `qtune run` on ref/ against the reference outputs (and ref_other_size/ when the
     model has dynamic spatial dimensions). Matches when max abs error <= 1e-4 x output range.
  2. `qtune tune` with the cosine-to-fp32 metric and a 1% relative goal. goal_met: the chosen
     model is that accurate; qtune_goal_met: qtune's verdict, which also wants it faster than
     fp32 (speedup_vs_fp32 is reported in both cases).
  3. Agreement of the chosen int8 model with fp32 on the evaluation set: top-1 and top-5 (the
     fp32 top-1 class among the int8 top-5), per pixel for segmentation outputs.
  4. ONNX Runtime (npm onnxruntime-node) runs the exported QDQ model on ref/ and agrees with
     qtune's execution of the same file (tools/ort_compare.js): elementwise within 2% of the
     output's range, or, where the int8 model is so sensitive to rounding that two correct
     int8 executions differ by more (ort_detail then gives how far a 1e-5 relative change of
     the input moves qtune's own int8 output), ONNX Runtime's output meets the row's goal
     against the source framework's fp32 output on ref/ (ort_metric; qtune's is ref_metric).

    tools/zoo/run_row.py ROW_DIR --qtune build/qtune --ort-cache build/ort-node-cache
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def qtune_run(qtune, model, in_dir, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    p = run([qtune, "run", model, "--inputs", in_dir, "--out", out_dir])
    if p.returncode != 0:
        raise RuntimeError(f"qtune run {model}: {p.stderr.strip() or p.stdout.strip()}")
    return outputs_of(out_dir)


def outputs_of(out_dir):
    names = sorted(f for f in os.listdir(out_dir) if f.startswith("output_"))
    return [np.load(os.path.join(out_dir, f)) for f in names]


def finish(result, t0):
    """Prints the row's JSON line; the exit code says whether the row passes."""
    result["seconds"] = round(time.time() - t0, 1)
    for key in ("fp32_matches", "goal_met", "ort_agrees"):
        result.setdefault(key, False)
    print(json.dumps(result))
    return 0 if result["fp32_matches"] and result["goal_met"] and result["ort_agrees"] else 1


def parity(qtune, model, ref_dir, work):
    ours = qtune_run(qtune, model, ref_dir, work)
    want = [np.load(os.path.join(ref_dir, f))
            for f in sorted(os.listdir(ref_dir)) if f.startswith("output_")]
    worst, matches = 0.0, len(ours) == len(want)
    for a, b in zip(ours, want):
        if a.shape != b.shape:
            return False, float("inf")
        err = float(np.abs(a.astype(np.float64) - b).max()) if a.size else 0.0
        span = float(b.max() - b.min()) if b.size else 0.0
        worst = max(worst, err)
        matches = matches and err <= 1e-4 * max(span, 1e-12)
    return matches, worst


def agreement(fp32, int8, kind):
    """Top-1 and top-5 agreement of int8 with fp32 over classes (axis 1)."""
    if fp32.ndim > 2:  # segmentation [N, C, H, W]: every pixel is a sample
        fp32 = np.moveaxis(fp32, 1, -1).reshape(-1, fp32.shape[1])
        int8 = np.moveaxis(int8, 1, -1).reshape(-1, int8.shape[1])
    ref = fp32.argmax(1)
    top1 = float((int8.argmax(1) == ref).mean() * 100)
    k = min(5, fp32.shape[1])
    top5 = np.argsort(-int8, axis=1)[:, :k]
    return top1, float((top5 == ref[:, None]).any(1).mean() * 100)


def first_input_name(model):
    import onnx  # only rows whose inputs are not images need it
    m = onnx.load(model, load_external_data=False)
    constants = {i.name for i in m.graph.initializer}
    return next(i.name for i in m.graph.input if i.name not in constants)


def write_yamls(row, work, max_trials):
    data = row["data"]
    # Images are fed as float32 (`images:`); token ids keep their integer type (`inputs:`).
    input_name = None if row["kind"].startswith("image") else first_input_name(row["model"])
    for split, name in (("calib", "calib.yaml"), ("eval", "eval.yaml")):
        path = f"{data}/{split}.npy"
        source = f"images: {path}" if input_name is None else f"inputs: {{{input_name}: {path}}}"
        with open(os.path.join(work, name), "w") as f:
            f.write(f"# {row['name']}: {split} set, already preprocessed by the exporter\n"
                    f"dataset: {{format: npy, {source}}}\n"
                    f"batch_size: 16\n")
    tune = os.path.join(work, "tune.yaml")
    with open(tune, "w") as f:
        f.write(f"""# {row['name']} (opset {row['opset']}): fastest mix within 1% of fp32's cosine.
model: {row['model']}
adaptor: native
data: {{calibration: calib.yaml, evaluation: eval.yaml}}
metric: {{name: cosine}}
tuning:
  strategy: bisect
  accuracy_criterion: {{relative: 0.01}}
  exit_policy: {{timeout: 0, max_trials: {max_trials}}}
quantization: {{approach: static, calibration_sampling_size: 32}}
output: out
""")
    return tune


def eval_inputs(row, work):
    d = os.path.join(work, "eval_inputs")
    os.makedirs(d, exist_ok=True)
    link = os.path.join(d, "input_0.npy")
    if not os.path.exists(link):
        os.symlink(os.path.join(row["data"], "eval.npy"), link)
    return d


def ort_agrees(model, ref_dir, qtune_dir, ort_cache, save_dir):
    """Elementwise agreement of ONNX Runtime with qtune on ref/; ORT's outputs go to save_dir."""
    env = dict(os.environ, NODE_PATH=os.path.join(ort_cache, "node_modules"))
    p = run(["node", os.path.join(ROOT, "tools", "ort_compare.js"), model, ref_dir, qtune_dir,
             "--tol", "0.02", "--save", save_dir], env=env)
    detail = (p.stdout + p.stderr).strip().splitlines()
    return p.returncode == 0, detail[-1] if detail else ""


def mean_cosine(a, b):
    """The tuner's cosine metric: per sample (axis 0), averaged."""
    a = a.reshape(a.shape[0], -1).astype(np.float64)
    b = b.reshape(b.shape[0], -1).astype(np.float64)
    dot = (a * b).sum(1)
    norms = np.sqrt((a * a).sum(1) * (b * b).sum(1))
    cos = np.where(norms > 0, dot / np.where(norms > 0, norms, 1), (dot == 0).astype(np.float64))
    return float(cos.mean())


def rounding_sensitivity(qtune, model, ref_dir, work):
    """How far qtune's int8 output moves, as a fraction of its range, when the input changes by
    a relative 1e-5: what two int8 executions that round differently can be expected to differ."""
    ins = [f for f in sorted(os.listdir(ref_dir)) if f.startswith("input_")]
    nudged = os.path.join(work, "ref_nudged")
    os.makedirs(nudged, exist_ok=True)
    for f in ins:
        x = np.load(os.path.join(ref_dir, f))
        np.save(os.path.join(nudged, f), (x * (1 + 1e-5)).astype(x.dtype) if x.dtype.kind == "f" else x)
    base = outputs_of(os.path.join(work, "ref_int8"))
    moved = qtune_run(qtune, model, nudged, os.path.join(work, "ref_int8_nudged"))
    return max(float(np.abs(a.astype(np.float64) - b).max() / max(float(np.ptp(a)), 1e-12))
               for a, b in zip(base, moved))


def ort_agreement(qtune, model, ref_dir, work, ort_cache, metric, target):
    """Step 4: (agrees, detail, extra row fields). qtune's int8 outputs on ref_dir go to
    work/ref_int8, ONNX Runtime's to work/ref_ort. The fallback for a cosine metric holds only
    when a 1e-5 relative input change moves qtune's own int8 output by more than the 2%
    tolerance, so that rounding explains the difference, and ORT's output meets the goal."""
    qdir = os.path.join(work, "ref_int8")
    qtune_run(qtune, model, ref_dir, qdir)
    ort_dir = os.path.join(work, "ref_ort")
    agrees, detail = ort_agrees(model, ref_dir, qdir, ort_cache, ort_dir)
    extra = {}
    if not agrees and metric == "cosine" and os.path.isdir(ort_dir):
        want = np.load(os.path.join(ref_dir, "output_0.npy"))
        ort_metric = mean_cosine(outputs_of(ort_dir)[0], want)
        ref_metric = mean_cosine(outputs_of(qdir)[0], want)
        moved = rounding_sensitivity(qtune, model, ref_dir, work)
        agrees = moved > 0.02 and target is not None and ort_metric >= target
        detail += (f"; a 1e-5 input change moves qtune's int8 output by {moved:.3g} of its"
                   f" range; ORT cosine to fp32 {ort_metric:.4f}, qtune's {ref_metric:.4f},"
                   f" goal {target if target is not None else float('nan'):.4f}")
        extra = dict(ort_metric=ort_metric, ref_metric=ref_metric, rounding_sensitivity=moved)
    return agrees, detail, extra


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("row_dir", type=os.path.abspath)
    ap.add_argument("--qtune", default=os.path.join(ROOT, "build", "qtune"), type=os.path.abspath)
    ap.add_argument("--ort-cache", default=os.path.join(ROOT, "build", "ort-node-cache"))
    ap.add_argument("--max-trials", type=int, default=30)
    args = ap.parse_args()
    t0 = time.time()
    with open(os.path.join(args.row_dir, "row.json")) as f:
        row = json.load(f)
    work = os.path.abspath(os.path.join(args.row_dir, "run"))
    os.makedirs(work, exist_ok=True)
    result = {"name": row["name"], "opset": row["opset"], "source": row.get("source", "")}
    try:
        ok, err = parity(args.qtune, row["model"], os.path.join(args.row_dir, "ref"),
                         os.path.join(work, "parity"))
        other = os.path.join(args.row_dir, "ref_other_size")
        if os.path.isdir(other):
            ok2, err2 = parity(args.qtune, row["model"], other, os.path.join(work, "parity2"))
            ok, err = ok and ok2, max(err, err2)
        result.update(fp32_matches=ok, fp32_max_abs_err=err)

        tune = write_yamls(row, work, args.max_trials)
        p = run([args.qtune, "tune", tune, "--json"], cwd=work)
        report_path = os.path.join(work, "out", "report.json")
        if not os.path.exists(report_path):
            raise RuntimeError(f"qtune tune exited {p.returncode}: {p.stderr.strip()[-800:]}")
        with open(report_path) as f:
            report = json.load(f)
        chosen = report.get("chosen") or {}
        trials = report.get("trials", [])
        default = next((t for t in trials if t.get("index") == 0), {})
        # The zoo's goal is accuracy: the chosen model within 1% of fp32. qtune's own verdict
        # also asks for a config faster than fp32; kept as qtune_goal_met, and the speed-up is
        # reported either way.
        target = report.get("target")
        higher = report.get("accuracy_criterion", {}).get("higher_is_better", True)
        metric = chosen.get("metric")
        accurate = (metric is not None and target is not None and
                    (metric >= target if higher else metric <= target))
        result.update(metric=report["metric"], fp32_metric=report["baseline"]["metric"],
                      int8_metric=metric, allint8_metric=default.get("metric"),
                      goal_met=bool(accurate), qtune_goal_met=bool(report.get("goal_met")),
                      speedup_vs_fp32=chosen.get("speedup_vs_fp32"),
                      trials=report.get("trials_evaluated"))
        picked = next((t for t in trials if t.get("index") == chosen.get("index")), None)
        if picked:  # how much of the model the chosen mix really runs in int8
            result.update(int8_ops=picked.get("int8_ops"), bf16_ops=picked.get("bf16_ops"),
                          fp32_ops=picked.get("fp32_ops"))
        int8_model = os.path.join(work, chosen["model"]) if chosen.get("model") else None
        if int8_model:
            ins = eval_inputs(row, work)
            fp32_out = qtune_run(args.qtune, row["model"], ins, os.path.join(work, "eval_fp32"))
            int8_out = qtune_run(args.qtune, int8_model, ins, os.path.join(work, "eval_int8"))
            top1, top5 = agreement(fp32_out[0], int8_out[0], row["kind"])
            result.update(top1_agreement=top1, top5_agreement=top5)
            ref_dir = os.path.join(args.row_dir, "ref")
            agrees, detail, extra = ort_agreement(args.qtune, int8_model, ref_dir, work,
                                                  args.ort_cache, result["metric"], target)
            result.update(extra)
            result.update(ort_agrees=agrees, ort_detail=detail)
        else:
            result.update(ort_agrees=False, ort_detail="no int8 model was chosen")
    except (RuntimeError, KeyError, OSError, ValueError) as e:
        result["error"] = str(e)
    return finish(result, t0)


if __name__ == "__main__":
    sys.exit(main())
