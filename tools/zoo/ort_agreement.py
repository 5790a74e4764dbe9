#!/usr/bin/python3
"""Does ONNX Runtime agree with qtune on a QDQ model? The zoo's rule (tools/zoo/run_row.py,
ort_agreement): elementwise within 2% of the output's range, or, for a cosine metric where a
1e-5 relative input change already moves qtune's int8 output by more than that, ORT's output
meets the goal against the reference outputs. Prints the detail; exit 0 when it agrees.

    tools/zoo/ort_agreement.py MODEL REF_DIR --work DIR --metric cosine --target T
                               [--qtune build/qtune] [--ort-cache build/ort-node-cache]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_row import ROOT, ort_agreement  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", type=os.path.abspath)
    ap.add_argument("ref_dir", type=os.path.abspath)
    ap.add_argument("--work", required=True, type=os.path.abspath)
    ap.add_argument("--metric", required=True)
    ap.add_argument("--target", type=float)
    ap.add_argument("--qtune", default=os.path.join(ROOT, "build", "qtune"), type=os.path.abspath)
    ap.add_argument("--ort-cache", default=os.path.join(ROOT, "build", "ort-node-cache"))
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    agrees, detail, _ = ort_agreement(args.qtune, args.model, args.ref_dir, args.work,
                                      args.ort_cache, args.metric, args.target)
    print(detail)
    return 0 if agrees else 1


if __name__ == "__main__":
    sys.exit(main())
