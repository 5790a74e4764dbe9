// fp32 graph rewrites run once before quantization: Constant nodes turned into initializers,
// Transposes of initializers folded, BatchNormalization folded into its Conv and Identity nodes
// removed, in the main graph and in subgraphs, so calibration, capability and QDQ building all
// see the same graph.
// Called by the quantization session (worker/quantizer.cpp) and tests.
// Pure functions on caller-owned graphs; thread-safe for distinct graphs.
#pragma once

#include "common/graph.h"
#include "common/status.h"

namespace qtune {

// Folds every BatchNormalization (inference form) whose input is the output of a Conv read by
// nothing else, when the Conv weight/bias and all BN parameters are f32 initializers:
//   w'[c] = w[c] * gamma[c] / sqrt(var[c] + eps),  b'[c] = (b[c] - mean[c]) * that + beta[c].
// The Conv keeps its name and takes over the BN's output name; parameters left unused are
// dropped. BNs that do not fit are left as they are. Inconsistent parameter shapes are
// kInvalidInput naming the node.
Status fold_batch_norm(Graph& g);

// Removes Identity nodes by rewiring their consumers to the Identity's input. An Identity whose
// output is a graph output is removed by renaming its input instead, when that input is an
// intermediate produced by a node and not itself a graph output; otherwise it stays.
Status remove_identity(Graph& g);

// Replaces every Transpose of an initializer by the transposed initializer (named after the
// Transpose's output), so MatMul(x, Transpose(W)) as exported from Linear layers has a constant
// weight that quantizes per channel. Initializers nothing else reads are dropped. A perm that
// is not a permutation of the axes is kInvalidInput naming the node.
Status fold_constant_transposes(Graph& g);

// Replaces every Constant node holding a number tensor (value, value_float(s), value_int(s)) by an
// initializer of the same name in its graph, so weights exported as Constants (as inside the If
// branches of some exporters) quantize like initializers. Constants that are graph outputs stay.
Status constants_to_initializers(Graph& g);

// Evaluates every default-domain node whose inputs are all initializers (or omitted) and puts
// initializers of its outputs in its place, so weights computed from constants (LSTM gates sliced
// and re-ordered by an exporter, for instance) quantize like stored ones. Random ops, ops with
// subgraphs, graph outputs and results much larger than their inputs stay as they are;
// initializers only folded nodes read are dropped.
Status fold_constants(Graph& g);

// Gives every node of the model, subgraphs included, a name no other node has: an empty name
// becomes "<op_type>", a taken one gets "_<k>" appended. tune_cfgs key ops by name.
Status unique_node_names(Graph& g);

// On a copy of `g`: unique_node_names, then in the main graph and in every subgraph
// constants_to_initializers + fold_constants + fold_constant_transposes + fold_batch_norm +
// remove_identity + topological_sort.
Result<Graph> prepare_fp32_for_quantization(const Graph& g);

// What an adaptor runs: an fp32 model after prepare_fp32_for_quantization; a QDQ model (one with
// QuantizeLinear/DequantizeLinear nodes, in any subgraph too) as it is, since folding constants
// would turn its DequantizeLinear of constant weights into f32 weights the lowering cannot fuse.
Result<Graph> prepare_for_running(const Graph& g);

}  // namespace qtune
