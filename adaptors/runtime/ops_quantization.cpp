#include "adaptors/runtime/op_registry.h"

namespace qtune {

void register_quantization_ops(OpRegistry& r) {}

}  // namespace qtune
