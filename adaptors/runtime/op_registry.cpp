#include "adaptors/runtime/op_registry.h"

namespace qtune {

const OpRegistry& OpRegistry::instance() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_elementwise_ops(r);
    register_shape_ops(r);
    register_nn_ops(r);
    register_normalization_ops(r);
    register_quantization_ops(r);
    return r;
  }();
  return registry;
}

const OpFn* OpRegistry::find(std::string_view domain, std::string_view op_type) const {
  auto it = table_.find(key(domain, op_type));
  return it == table_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::op_types() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : table_) out.push_back(k);
  return out;
}

}  // namespace qtune
