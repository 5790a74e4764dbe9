#include "adaptors/runtime/op_registry.h"

namespace qtune {

void register_shape_ops(OpRegistry& r) {}

}  // namespace qtune
