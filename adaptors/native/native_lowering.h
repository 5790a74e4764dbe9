// What the native adaptor lowers a QDQ graph onto (its LoweringTarget), and the one-call path
// from a QDQ graph to an Executor running qtune's int8/bf16 kernels. Called by the native adaptor
// and by tests/benchmarks. Stateless functions; thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "adaptors/lowering.h"
#include "runtime/executor.h"

namespace qtune {

LoweringTarget native_lowering_target();

// lower_qdq onto native_ops(), then fuse_conv_add and use_channels_last
// (native_graph_passes.h): the graph the native adaptor runs.
Result<Graph> lower_native(const Graph& qdq, const std::vector<std::string>& bf16_ops);

// lower_native, then Executor::create.
Result<Executor> prepare_native(std::shared_ptr<const Graph> qdq,
                                const std::vector<std::string>& bf16_ops);

}  // namespace qtune
