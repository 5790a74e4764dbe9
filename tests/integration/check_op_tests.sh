#!/usr/bin/env bash
# Every operator `qtune ops` lists is exercised by a one-node test that runs it through
# op_test::run_node (which checks the produced shapes and types against libonnx's inference):
# its op type must appear as a string in a test file built on tests/runtime/op_test_util.h,
# whose runners (run_node, run1, run_code) all go through it.
#   check_op_tests.sh QTUNE SOURCE_DIR
set -euo pipefail
qtune=$1 src=$2
"$qtune" ops --json | /usr/bin/python3 -c '
import glob, json, sys
src = sys.argv[1]
files = [f for f in glob.glob(src + "/tests/**/*_test.cpp", recursive=True)
         if "op_test_util.h\"" in open(f).read()]
text = "".join(open(f).read() for f in files)
ops = json.load(sys.stdin)["ops"]
missing = sorted(o["op_type"] for o in ops
                 if o["domain"] in ("ai.onnx", "ai.onnx.preview.training")
                 and "\"%s\"" % o["op_type"] not in text)
print("%d operator types, %d test files using op_test_util" % (len(ops), len(files)))
if missing:
    print("no one-node test names: " + ", ".join(missing))
    sys.exit(1)
' "$src"
