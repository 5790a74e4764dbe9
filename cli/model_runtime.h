// How `qtune eval`, `qtune run` and `qtune bench model` execute a model: lowered onto an
// adaptor's kernels (default native: QDQ units become its int8 ops, fp32 Conv/Gemm/MatMul its
// fp32 ops, after the same fp32 graph rewrites the quantizer does), or with --reference on the
// reference executor as written (a QDQ model then runs as fp32 fake-quant). CLI only.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "adaptors/adaptor.h"
#include "cli/args.h"

namespace qtune::cli {

inline constexpr const char* kDefaultRunAdaptor = "native";

// The usage fragment of the options read here.
inline constexpr const char* kRuntimeUsage = "[--adaptor native|onednn | --reference]";

// --adaptor A (default native) or --reference; both at once is kInvalidInput.
Result<std::unique_ptr<PreparedModel>> prepare_to_run(std::shared_ptr<const Graph> model,
                                                      const Args& args);

// "native", "onednn" or "reference": what prepare_to_run chose, for reports.
std::string runtime_name(const Args& args);

// Turns on the per-node timing of the model's executor (adaptor or reference) when it has one;
// false for a model that does not run on an Executor.
bool enable_profiling(PreparedModel& model);

// The profile of a model enable_profiling() was called on, slowest (CPU time) first, by op type
// or by node (name and op type), as a table on `to`: wall ms, CPU ms (all threads) and their
// share, calls. `runs` divides the times into per-run figures when positive.
void print_profile(PreparedModel& model, bool by_node, int64_t runs, std::FILE* to);

}  // namespace qtune::cli
