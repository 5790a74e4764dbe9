#include "adaptors/runtime/op_registry.h"

namespace qtune {

void register_normalization_ops(OpRegistry& r) {}

}  // namespace qtune
