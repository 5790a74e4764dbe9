#!/usr/bin/python3
"""Small models written at default-domain opsets 18 to 21, each using what changed there (axes
as inputs, num_outputs, Gelu, Mish, output_dtype, ...), for checking that qtune runs them as
ONNX Runtime does (tests/integration/check_new_opsets.sh). Also models using a newer feature
qtune refuses, which must fail with a message naming it.

Writes OUT/<name>/model.onnx and OUT/<name>/in/input_<i>.npy; prints "<name> run" or
"<name> refuse <words the error must contain>", one per line.

    /usr/bin/python3 tools/make_new_opset_models.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(11)


def tensor(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def save(out, name, opset, nodes, inputs, outputs, inits=(), feeds=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(inits))
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8  # readable by the ONNX Runtime the tests use and by libonnx 1.12
    d = os.path.join(out, name)
    os.makedirs(os.path.join(d, "in"), exist_ok=True)
    onnx.save(m, os.path.join(d, "model.onnx"))
    for i, a in enumerate(feeds):
        np.save(os.path.join(d, "in", f"input_{i}.npy"), a)


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def main():
    out = sys.argv[1]
    x = (RNG.standard_normal((2, 3, 6, 8)) * 2).astype(np.float32)
    X = f32("x", [2, 3, 6, 8])
    Y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    rows = []

    # Opset 18: the Reduce ops take axes as an input; noop_with_empty_axes.
    save(out, "reduce_axes_input", 18,
         [helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=1),
          helper.make_node("ReduceMax", ["m", "axes2"], ["mx"], keepdims=0),
          helper.make_node("ReduceMax", ["x", "none"], ["same"], noop_with_empty_axes=1),
          helper.make_node("ReduceMin", ["same"], ["all"], keepdims=1),
          helper.make_node("Add", ["mx", "all"], ["y"])],
         [X], [Y], [tensor("axes", np.array([1, -1], np.int64)),
                    tensor("axes2", np.array([2], np.int64)),
                    tensor("none", np.array([], np.int64))], [x])
    rows.append("reduce_axes_input run")

    # Opset 18: Split's num_outputs; Pad's axes input (reflect on the last axis only).
    save(out, "split_pad_axes", 18,
         [helper.make_node("Split", ["x"], ["a", "b"], axis=3, num_outputs=2),
          helper.make_node("Pad", ["a", "pads", "", "pad_axes"], ["ap"], mode="reflect"),
          helper.make_node("Mul", ["ap", "b2"], ["y"]),
          helper.make_node("Pad", ["b", "pads", "", "pad_axes"], ["b2"], mode="edge")],
         [X], [Y], [tensor("pads", np.array([1, 2], np.int64)),
                    tensor("pad_axes", np.array([-1], np.int64))], [x])
    rows.append("split_pad_axes run")

    # Opset 18: num_outputs that do not divide the dim (3 parts of 8: 3, 3, 2), on a graph
    # input (its dim declared) and on an intermediate (its dim known only at run time).
    save(out, "split_uneven", 18,
         [helper.make_node("Split", ["x"], ["a", "b", "c"], axis=-1, num_outputs=3),
          helper.make_node("Relu", ["x"], ["r"]),
          helper.make_node("Split", ["r"], ["d", "e", "f"], axis=3, num_outputs=3),
          helper.make_node("Concat", ["c", "a", "f", "e", "b", "d"], ["y"], axis=3)],
         [X], [Y], [], [x])
    rows.append("split_uneven run")

    # Opset 19: Resize at its defaults, AveragePool with dilations 1, Cast with saturate.
    save(out, "resize_pool_cast", 19,
         [helper.make_node("Resize", ["x", "", "scales"], ["r"], mode="linear",
                           antialias=0, keep_aspect_ratio_policy="stretch"),
          helper.make_node("AveragePool", ["r"], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                           dilations=[1, 1], count_include_pad=0),
          helper.make_node("Cast", ["p"], ["c"], to=TensorProto.FLOAT16, saturate=1),
          helper.make_node("Cast", ["c"], ["y"], to=TensorProto.FLOAT)],
         [X], [Y], [tensor("scales", np.array([1, 1, 2, 1.5], np.float32))], [x])
    rows.append("resize_pool_cast run")

    # Opset 20: Gelu (exact and tanh); opset 18: Mish.
    save(out, "gelu_mish", 20,
         [helper.make_node("Gelu", ["x"], ["g"]),
          helper.make_node("Gelu", ["x"], ["t"], approximate="tanh"),
          helper.make_node("Mish", ["x"], ["m"]),
          helper.make_node("Sum", ["g", "t", "m"], ["y"])],
         [X], [Y], [], [x])
    rows.append("gelu_mish run")

    # Opset 21: QuantizeLinear's output_dtype without a zero point, DequantizeLinear back.
    save(out, "qdq_output_dtype", 21,
         [helper.make_node("QuantizeLinear", ["x", "scale"], ["q"], output_dtype=TensorProto.INT8),
          helper.make_node("DequantizeLinear", ["q", "scale"], ["y"])],
         [X], [Y], [tensor("scale", np.array(0.05, np.float32))], [x])
    rows.append("qdq_output_dtype run")

    # Features without an equivalent at the runtime's opset.
    save(out, "resize_antialias", 18,
         [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="linear", antialias=1)],
         [X], [Y], [tensor("scales", np.array([1, 1, 0.5, 0.5], np.float32))], [x])
    rows.append("resize_antialias refuse antialiasing Resize")
    save(out, "reduce_runtime_axes", 18,
         [helper.make_node("Shape", ["x"], ["s"], start=0, end=1),
          helper.make_node("ReduceMean", ["x", "s"], ["y"])],
         [X], [Y], [], [x])
    rows.append("reduce_runtime_axes refuse ReduceMean axes computed at run time")
    save(out, "group_norm", 18,
         [helper.make_node("GroupNormalization", ["x", "gs", "gb"], ["y"], num_groups=3)],
         [X], [Y], [tensor("gs", np.ones(3, np.float32)), tensor("gb", np.zeros(3, np.float32))],
         [x])
    rows.append("group_norm refuse GroupNormalization operator")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
