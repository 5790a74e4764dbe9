// The `native` adaptor: quantized models run on qtune's own kernels (kernels/: AVX-512 VNNI
// int8, AVX512-BF16, scalar references). Thread-safe.
#pragma once

#include <memory>

#include "adaptors/adaptor.h"

namespace qtune {

std::unique_ptr<Adaptor> make_native_adaptor();

}  // namespace qtune
