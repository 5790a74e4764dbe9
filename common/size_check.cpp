#include "common/size_check.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>

namespace qtune {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

std::string dims_str(std::span<const int64_t> dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? "," : "") + std::to_string(dims[i]);
  return out + "]";
}

SizeLimits& mutable_limits() {
  static SizeLimits limits = default_size_limits();
  return limits;
}

Result<int64_t> env_bytes(const char* name, int64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  const std::string s = v;
  int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || n <= 0) {
    return Status::InvalidInput(std::string("environment variable ") + name +
                                ": expects a positive number of bytes, got '" + s + "'");
  }
  return n;
}

}  // namespace

SizeLimits default_size_limits() {
  SizeLimits l;
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  int64_t memory = 0;
  if (pages <= 0 || page <= 0 || __builtin_mul_overflow(int64_t{pages}, int64_t{page}, &memory)) {
    memory = 16 * kGiB;
  }
  l.max_tensor_bytes = memory;
  l.max_model_bytes = 2 * kGiB;
  return l;
}

const SizeLimits& size_limits() { return mutable_limits(); }

void set_size_limits(const SizeLimits& limits) { mutable_limits() = limits; }

Status set_size_limits_from_environment() {
  SizeLimits l = size_limits();
  QT_ASSIGN_OR_RETURN(l.max_tensor_bytes, env_bytes("QTUNE_MAX_TENSOR_BYTES", l.max_tensor_bytes));
  QT_ASSIGN_OR_RETURN(l.max_model_bytes, env_bytes("QTUNE_MAX_MODEL_BYTES", l.max_model_bytes));
  set_size_limits(l);
  return Status::Ok();
}

std::optional<int64_t> checked_numel(std::span<const int64_t> dims) {
  int64_t nonzero = 1;
  bool zero = false;
  for (int64_t d : dims) {
    if (d < 0) return std::nullopt;
    if (d == 0) {
      zero = true;
      continue;
    }
    if (__builtin_mul_overflow(nonzero, d, &nonzero)) return std::nullopt;
  }
  return zero ? 0 : nonzero;
}

Result<int64_t> checked_numel(const std::vector<int64_t>& dims, const std::string& what) {
  if (std::optional<int64_t> n = checked_numel(dims)) return *n;
  for (int64_t d : dims) {
    if (d < 0) return Status::InvalidInput(what + ": shape " + dims_str(dims) + " has a negative dimension");
  }
  return Status::InvalidInput(what + ": shape " + dims_str(dims) + " has more elements than int64 can count");
}

Result<int64_t> checked_tensor_bytes(DType dtype, const std::vector<int64_t>& dims,
                                     const std::string& what) {
  QT_ASSIGN_OR_RETURN(const int64_t numel, checked_numel(dims, what));
  const int64_t esize = static_cast<int64_t>(dtype == DType::kString ? sizeof(std::string) : dtype_size(dtype));
  int64_t bytes = 0;
  const int64_t limit = size_limits().max_tensor_bytes;
  const bool overflow = __builtin_mul_overflow(numel, esize, &bytes);
  if (overflow || bytes > limit) {
    return Status::InvalidInput(what + ": shape " + dims_str(dims) + " of " + std::string(dtype_name(dtype)) +
                                " needs " + (overflow ? std::string("more bytes than int64 can count")
                                                      : std::to_string(bytes) + " bytes") +
                                ", more than the tensor size limit of " + std::to_string(limit) +
                                " bytes (QTUNE_MAX_TENSOR_BYTES)");
  }
  return bytes;
}

Status check_model_file_size(const std::string& path, uint64_t bytes) {
  const int64_t limit = size_limits().max_model_bytes;
  if (bytes > static_cast<uint64_t>(limit)) {
    return Status::InvalidInput(path + ": " + std::to_string(bytes) + " bytes, more than the model size limit of " +
                                std::to_string(limit) + " bytes (QTUNE_MAX_MODEL_BYTES)");
  }
  return Status::Ok();
}

}  // namespace qtune
