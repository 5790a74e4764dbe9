#include "adaptors/runtime/op_registry.h"

namespace qtune {

void register_elementwise_ops(OpRegistry& r) {}

}  // namespace qtune
