// Sizes read from files and peers are checked here before anything is allocated: the one
// overflow-checked element count that every product of dimensions goes through, and the named
// limits on one tensor's bytes and one model file's bytes.
// The limits are process-wide: the CLI sets them once at start-up from QTUNE_MAX_TENSOR_BYTES and
// QTUNE_MAX_MODEL_BYTES, before any thread starts; reading them is thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/dtype.h"
#include "common/status.h"

namespace qtune {

struct SizeLimits {
  // Bytes of one tensor (an initializer, a dataset, any value the runtime creates); also bounds
  // what one data file may hold. Default: this host's physical memory.
  int64_t max_tensor_bytes = 0;
  // Bytes of one ONNX (protobuf) file. Default 2 GiB, protobuf's own limit for one message.
  int64_t max_model_bytes = 0;
};

SizeLimits default_size_limits();
const SizeLimits& size_limits();
void set_size_limits(const SizeLimits& limits);
// Reads QTUNE_MAX_TENSOR_BYTES and QTUNE_MAX_MODEL_BYTES (positive byte counts; unset or empty
// keeps the default); kInvalidInput naming the variable on a bad value.
Status set_size_limits_from_environment();

// Thrown where a Status cannot be returned (Tensor's constructor, shape_numel); the executor
// turns it into kInvalidInput naming the node.
class SizeError : public std::length_error {
 public:
  using std::length_error::length_error;
};

// The number of elements of `dims`; nullopt when a dimension is negative or the product of the
// nonzero dimensions does not fit in int64 (so no partial product of an accepted shape
// overflows either, even when a zero dimension makes the count 0).
std::optional<int64_t> checked_numel(std::span<const int64_t> dims);
// The same, as kInvalidInput "WHAT: shape [..] ..." when it fails.
Result<int64_t> checked_numel(const std::vector<int64_t>& dims, const std::string& what);
// The bytes a tensor of this type and shape occupies (strings count their std::string objects),
// checked for overflow and against max_tensor_bytes; kInvalidInput naming `what` and the limit.
Result<int64_t> checked_tensor_bytes(DType dtype, const std::vector<int64_t>& dims,
                                     const std::string& what);
// A file of `bytes` bytes against max_model_bytes; kInvalidInput naming the file and the limit.
Status check_model_file_size(const std::string& path, uint64_t bytes);

}  // namespace qtune
