// How `qtune eval`, `qtune run` and `qtune bench model` execute a model: lowered onto an
// adaptor's kernels (default native: QDQ units become its int8 ops, fp32 Conv/Gemm/MatMul its
// fp32 ops, after the same fp32 graph rewrites the quantizer does), or with --reference on the
// reference executor as written (a QDQ model then runs as fp32 fake-quant). CLI only.
#pragma once

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

}  // namespace qtune::cli
