// Models exported at a newer default-domain opset than the runtime implements (18 and up), as
// exporters of recent frameworks write them, rewritten at load time into the equivalent graph at
// the runtime's opset, so inference, calibration, quantization and the exported QDQ model all
// work on one opset:
//  - ops whose newer versions only add element types or attributes at their defaults keep their
//    node (Cast's saturate, Resize's antialias = 0, AveragePool's dilations of 1, ...);
//  - inputs that became of age as inputs go back to attributes when they are constants (the
//    Reduce ops' axes since 18, Pad's axes); Split's num_outputs becomes split sizes (computed
//    from the shape at run time when the dim is not declared); QuantizeLinear's output_dtype
//    becomes a zero point of that type;
//  - ops added since become their definition's ops (Gelu, Mish).
// What has no equivalent (a run-time axes tensor, Pad's wrap mode, block quantization, Resize's
// antialiasing, GroupNormalization, ...) is an InvalidInput naming the node and the feature.
// Subgraphs (If, Loop, Scan bodies) are rewritten with their model. Pure; thread-safe.
#pragma once

#include <cstdint>

#include "common/graph.h"
#include "common/status.h"

namespace qtune {

// The default-domain opset the runtime's operators implement (runtime/kernel_registry.h's
// kLatestOpset), and the newest one whose changes lower_to_runtime_opset knows.
inline constexpr int64_t kRuntimeOpset = 17;
inline constexpr int64_t kNewestKnownOpset = 23;

// g.opset <= kRuntimeOpset: nothing to do. Otherwise rewrites g as above and sets its opset to
// kRuntimeOpset. Opsets past kNewestKnownOpset are refused.
Status lower_to_runtime_opset(Graph& g);

}  // namespace qtune
