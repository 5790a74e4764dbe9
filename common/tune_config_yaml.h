// The tune_cfg file format: a TuneConfig as YAML, INC's "op: weight/activation settings" form.
// Used by the CLI (user-given and reported configs) and the coordinator's journal.
// Stateless functions; thread-safe.
//
//   calib_sampling_size: 1000
//   ops:
//     /conv1/Conv: {precision: int8, mode: static,
//                   weight: {dtype: int8, scheme: sym, granularity: per_channel, algorithm: minmax},
//                   activation: {dtype: uint8, scheme: asym, granularity: per_tensor, algorithm: kl}}
//     /fc2/Gemm: {precision: fp32}
//
// int8 ops need mode and activation; `weight` is present exactly when has_weight. bf16/fp32 ops
// take precision only. Fields describe() ignores are not written and read back as defaults.
#pragma once

#include <string>

#include "common/quant_config.h"

namespace qtune {

// Errors are InvalidInput "FILE:LINE:COLUMN: path.to.field: what is wrong".
Result<TuneConfig> load_tune_config(const std::string& path);
Result<TuneConfig> parse_tune_config(const std::string& text, const std::string& source_name);

// One op per line, ops sorted by name; parse_tune_config reads it back to an equal TuneConfig.
std::string tune_config_to_yaml(const TuneConfig& cfg);

}  // namespace qtune
