#!/usr/bin/python3
"""Runs `qtune tune` on every bundled model with each strategy at two accuracy goals and writes
the results table to docs/tuning.md: trials to the goal, wall time, final accuracy, speed-up
over fp32 on the same runtime, and PyTorch's own int8 accuracy (reference.json) as the peer.

    tools/tuning_table.py [--qtune build/qtune] [--out docs/tuning.md] [--models lenet,resnet]
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRATEGIES = ["bisect", "basic", "mse", "conservative"]
GOALS = [("1%", 0.01), ("0.1%", 0.001), ("0.01%", 0.0001)]


def cpu_name():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def tune(qtune, model, strategy, loss, workdir):
    cfg = os.path.join(workdir, "tune.yaml")
    out = os.path.join(workdir, f"{model}-{strategy}-{loss}")
    ex = os.path.join(ROOT, "examples", "fashion_mnist")
    with open(cfg, "w") as f:
        f.write(f"""model: {ROOT}/models/fashion_mnist/{model}.onnx
adaptor: native
data: {{calibration: {ex}/calib.yaml, evaluation: {ex}/test.yaml}}
metric: {{name: top1}}
tuning:
  strategy: {strategy}
  accuracy_criterion: {{relative: {loss}}}
  exit_policy: {{timeout: 0, max_trials: 80}}
  objective: performance
""")
    proc = subprocess.run([qtune, "tune", cfg, "--out", out, "--json"], capture_output=True,
                          text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"qtune tune failed ({proc.returncode}): {proc.stderr}")
    return json.loads(proc.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--qtune", default=os.path.join(ROOT, "build", "qtune"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "tuning.md"))
    ap.add_argument("--models", default="lenet,resnet,vit")
    args = ap.parse_args()
    with open(os.path.join(ROOT, "models", "fashion_mnist", "reference.json")) as f:
        reference = json.load(f)["models"]

    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for model in args.models.split(","):
            peer = reference[model]["int8_peer"]["accuracy"]
            for goal_name, loss in GOALS:
                for strategy in STRATEGIES:
                    r = tune(args.qtune, model, strategy, loss, workdir)
                    chosen = r["chosen"] or {}
                    ops = {"int8": 0, "bf16": 0, "fp32": 0}
                    for op in r["ops"]:
                        if "chosen" in op:
                            ops[op["chosen"].split()[0]] += 1
                    row = (model, goal_name, strategy, len(r["trials"]), r["wall_seconds"],
                           r["baseline"]["metric"], chosen.get("metric"), peer,
                           chosen.get("speedup_vs_fp32"), r["goal_met"], ops)
                    rows.append(row)
                    print(row, flush=True)

    lines = [
        "# Tuning results",
        "",
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()} ({os.cpu_count()} cores) by "
        "`tools/tuning_table.py`: `qtune tune` on the bundled models with the `native` adaptor,",
        "objective `performance`, timeout 0 (stop at the first config that meets the goal and is",
        "faster than fp32), max 80 trials. Accuracy is top-1 on the 10,000 Fashion-MNIST test",
        "images; speed-up is fp32 latency / chosen latency for one batch of 100 on the same runtime,",
        "measured inside the run. The peer is PyTorch 1.13's own int8 model (reference.json).",
        "",
        "Strategies: `bisect` (default config, then a binary search over the sensitivity-ranked",
        "fp32 fallback prefix, then that prefix once in bf16), `basic` (sweep of calibration",
        "algorithms, one-op fallback, accumulated fallback by measured impact, bf16 before fp32),",
        "`mse` (sweep, then accumulated fallback by per-op output error), `conservative` (from fp32,",
        "quantize one op type at a time while accuracy holds). Every strategy ends with the latency",
        "refinement when int8 meets accuracy but is not faster than fp32. The tightest goal is below",
        "the all-int8 accuracy of resnet and vit, so it forces fallback.",
        "",
        "| model | goal | strategy | trials | wall s | fp32 top-1 | chosen top-1 | PyTorch int8 | speed-up | goal met | int8/bf16/fp32 ops |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for (model, goal, strategy, trials, wall, base, metric, peer, speedup, met, ops) in rows:
        fmt = lambda v, d: "-" if v is None else f"{v:.{d}f}"
        lines.append(f"| {model} | {goal} | {strategy} | {trials} | {wall:.1f} | {base:.2f} | "
                     f"{fmt(metric, 2)} | {peer:.2f} | {fmt(speedup, 2)}x | "
                     f"{'yes' if met else 'no'} | {ops['int8']}/{ops['bf16']}/{ops['fp32']} |")
    totals = {}
    for (model, goal, strategy, trials, wall, base, metric, peer, speedup, met, ops) in rows:
        t = totals.setdefault(strategy, [0, 0, 0, 0.0])
        t[0] += trials
        t[1] += 1 if met else 0
        t[2] += 1
        t[3] += wall
    lines += ["", "Per strategy, over every model and goal above:", "",
              "| strategy | trials | goals met | wall s |", "|---|---:|---:|---:|"]
    for strategy in STRATEGIES:
        if strategy in totals:
            t = totals[strategy]
            lines.append(f"| {strategy} | {t[0]} | {t[1]}/{t[2]} | {t[3]:.1f} |")
    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
