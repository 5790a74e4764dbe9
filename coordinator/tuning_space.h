// The tuning space: every quantizable op of the model with the configs a trial may give it,
// built once from the adaptor's capability and narrowed by the tuning YAML's approach,
// op_type_dict and op_name_dict. Also the per-op sensitivity a strategy ranks by, when it needs
// one (Strategy::measure_sensitivity). Immutable once built; thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/graph.h"
#include "common/quant_config.h"
#include "common/tuning_config.h"

namespace qtune {

struct TunableOp {
  OpKey key;
  std::vector<OpQuantConfig> options;  // capability order: int8 entries, then bf16, then fp32

  bool allows(OpPrecision p) const;
  // The first int8 option (INC's default pick: minmax where listed), else options[0].
  const OpQuantConfig& default_option() const;
};

struct TuningSpace {
  std::vector<TunableOp> ops;                 // graph order
  // op name -> how much the op matters, when measured: what the strategy's
  // sensitivity_measure() says (mse: the relative output error it adds; bisect: what its
  // fallback alone removes from the model's output error).
  std::map<std::string, double> sensitivity;

  const TunableOp* find(const std::string& name) const;
  // Every op at its default option: the first trial of every strategy that starts from int8.
  TuneConfig default_config(int64_t calib_sampling_size) const;
  // Ops whose precision in cfg is int8, in graph order.
  std::vector<const TunableOp*> int8_ops(const TuneConfig& cfg) const;
};

// Ops ordered as `graph` lists their nodes (the order reports and strategies use). Constraints
// that name an op or op type the capability lacks, a value none of an op's configs has, or
// that leave an op without any config are kInvalidInput naming the YAML place.
Result<TuningSpace> build_tuning_space(const Capability& cap, const Graph& graph,
                                       const TuningConfig& cfg);

}  // namespace qtune
