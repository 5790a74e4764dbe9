#include "adaptors/runtime/op_registry.h"

namespace qtune {

void register_nn_ops(OpRegistry& r) {}

}  // namespace qtune
