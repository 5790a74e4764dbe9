// The `onednn` adaptor: quantized models run on oneDNN primitives (the "vanilla framework" that
// qtune's native kernels are compared against). Built by adaptors/registry.cpp; stateless after
// construction, thread-safe.
#pragma once

#include <memory>

#include "adaptors/adaptor.h"

namespace qtune {

std::unique_ptr<Adaptor> make_onednn_adaptor();

}  // namespace qtune
