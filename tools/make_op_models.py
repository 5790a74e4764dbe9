#!/usr/bin/python3
"""One small fp32 model per quantizable op type, for checking that qtune's QDQ export of that op
runs in ONNX Runtime with the same output as qtune's own int8 execution
(tests/integration/check_quantizable_ops.sh).

Every model takes x [N, 4, 8, 8] (so one .npy calibration set serves all) and applies the op
under test, with seeded constant weights. Writes OUT/<op>.onnx, OUT/calib.npy, OUT/calib.yaml and
OUT/in/input_0.npy; prints the op types written, one per line.

    /usr/bin/python3 tools/make_op_models.py OUT_DIR [OP ...]
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
RNG = np.random.default_rng(7)


def const(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def weights(name, shape, scale=0.3):
    return const(name, (RNG.standard_normal(shape) * scale).astype(np.float32))


def model(op, nodes, inits, outputs, opset=OPSET):
    graph = helper.make_graph(
        nodes, f"{op.lower()}_model",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4, 8, 8])],
        [helper.make_tensor_value_info(name, dtype, None) for name, dtype in outputs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


F = TensorProto.FLOAT


def unary(op, **attrs):
    return lambda: model(op, [helper.make_node(op, ["x"], ["y"], name="op", **attrs)], [],
                         [("y", F)])


def recurrent(op, gates):
    hidden = 8

    def build():
        nodes = [
            helper.make_node("Reshape", ["x", "seq_shape"], ["xs"], name="to_seq"),
            helper.make_node("Transpose", ["xs"], ["xt"], perm=[1, 0, 2], name="time_major"),
            helper.make_node(op, ["xt", "W", "R", "B"], ["y"], name="op", hidden_size=hidden),
        ]
        inits = [const("seq_shape", np.array([-1, 4, 64], np.int64)),
                 weights("W", [1, gates * hidden, 64], 0.1),
                 weights("R", [1, gates * hidden, hidden], 0.3),
                 weights("B", [1, 2 * gates * hidden], 0.1)]
        return model(op, nodes, inits, [("y", F)])
    return build


def binary(op, other):
    def build():
        nodes = [helper.make_node(other, ["x"], ["o"], name="other"),
                 helper.make_node(op, ["x", "o"], ["y"], name="op")]
        return model(op, nodes, [], [("y", F)])
    return build


MODELS = {
    "Conv": lambda: model("Conv", [helper.make_node("Conv", ["x", "W", "B"], ["y"], name="op",
                                                    pads=[1, 1, 1, 1])],
                          [weights("W", [8, 4, 3, 3]), weights("B", [8], 0.1)], [("y", F)]),
    "ConvTranspose": lambda: model(
        "ConvTranspose", [helper.make_node("ConvTranspose", ["x", "W", "B"], ["y"], name="op",
                                           strides=[2, 2])],
        [weights("W", [4, 6, 3, 3]), weights("B", [6], 0.1)], [("y", F)]),
    "Gemm": lambda: model(
        "Gemm", [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
                 helper.make_node("Gemm", ["f", "W", "B"], ["y"], name="op", transB=1)],
        [weights("W", [10, 256], 0.1), weights("B", [10], 0.1)], [("y", F)]),
    "MatMul": lambda: model(
        "MatMul", [helper.make_node("Reshape", ["x", "shape"], ["r"], name="rows"),
                   helper.make_node("MatMul", ["r", "W"], ["y"], name="op")],
        [const("shape", np.array([-1, 4, 64], np.int64)), weights("W", [64, 10], 0.1)],
        [("y", F)]),
    "Add": binary("Add", "Sigmoid"),
    "Mul": binary("Mul", "Tanh"),
    "Concat": lambda: model(
        "Concat", [helper.make_node("Tanh", ["x"], ["t"], name="other"),
                   helper.make_node("Concat", ["x", "t"], ["y"], name="op", axis=1)], [],
        [("y", F)]),
    "MaxPool": unary("MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
    "AveragePool": unary("AveragePool", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]),
    "GlobalAveragePool": unary("GlobalAveragePool"),
    "GlobalMaxPool": unary("GlobalMaxPool"),
    "Relu": unary("Relu"),
    "LeakyRelu": unary("LeakyRelu", alpha=0.1),
    "Sigmoid": unary("Sigmoid"),
    "HardSigmoid": unary("HardSigmoid"),
    "HardSwish": lambda: model("HardSwish", [helper.make_node("HardSwish", ["x"], ["y"], name="op")],
                               [], [("y", F)], opset=14),
    "Softmax": unary("Softmax", axis=1),
    "Flatten": unary("Flatten", axis=1),
    "Transpose": unary("Transpose", perm=[0, 2, 3, 1]),
    "ArgMax": lambda: model("ArgMax", [helper.make_node("ArgMax", ["x"], ["y"], name="op", axis=1)],
                            [], [("y", TensorProto.INT64)]),
    "Clip": lambda: model("Clip", [helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="op")],
                          [const("lo", np.float32(-0.5)), const("hi", np.float32(0.5))], [("y", F)]),
    "Reshape": lambda: model("Reshape", [helper.make_node("Reshape", ["x", "s"], ["y"], name="op")],
                             [const("s", np.array([-1, 256], np.int64))], [("y", F)]),
    "Resize": lambda: model(
        "Resize", [helper.make_node("Resize", ["x", "", "scales"], ["y"], name="op", mode="nearest")],
        [const("scales", np.array([1, 1, 2, 2], np.float32))], [("y", F)]),
    "Pad": lambda: model("Pad", [helper.make_node("Pad", ["x", "pads"], ["y"], name="op")],
                         [const("pads", np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64))], [("y", F)]),
    "Split": lambda: model("Split", [helper.make_node("Split", ["x", "parts"], ["y0", "y1"], name="op",
                                                      axis=1)],
                           [const("parts", np.array([1, 3], np.int64))], [("y0", F), ("y1", F)]),
    "Squeeze": lambda: model(
        "Squeeze", [helper.make_node("ReduceMean", ["x"], ["m"], name="mean", axes=[1]),
                    helper.make_node("Squeeze", ["m", "axes"], ["y"], name="op")],
        [const("axes", np.array([1], np.int64))], [("y", F)]),
    "Unsqueeze": lambda: model("Unsqueeze", [helper.make_node("Unsqueeze", ["x", "axes"], ["y"],
                                                              name="op")],
                               [const("axes", np.array([1], np.int64))], [("y", F)]),
    "Gather": lambda: model("Gather", [helper.make_node("Gather", ["x", "idx"], ["y"], name="op",
                                                        axis=1)],
                            [const("idx", np.array([0, 2, 3], np.int64))], [("y", F)]),
    "LSTM": recurrent("LSTM", 4),
    "GRU": recurrent("GRU", 3),
    "RNN": recurrent("RNN", 1),
}


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    wanted = sys.argv[2:] or sorted(MODELS)
    unknown = [op for op in wanted if op not in MODELS]
    if unknown:
        sys.exit(f"make_op_models: no model for {', '.join(unknown)}")
    os.makedirs(os.path.join(out, "in"), exist_ok=True)
    calib = RNG.standard_normal([32, 4, 8, 8]).astype(np.float32)
    np.save(os.path.join(out, "calib.npy"), calib)
    np.save(os.path.join(out, "in", "input_0.npy"), RNG.standard_normal([3, 4, 8, 8]).astype(np.float32))
    with open(os.path.join(out, "calib.yaml"), "w") as f:
        f.write(f"dataset: {{format: npy, images: {os.path.abspath(out)}/calib.npy}}\n"
                "preprocess: {scale: 1.0}\nbatch_size: 8\n")
    for op in wanted:
        with open(os.path.join(out, f"{op}.onnx"), "wb") as f:
            f.write(MODELS[op]().SerializeToString())
        print(op)


if __name__ == "__main__":
    main()
