#include "common/tensor.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <stdexcept>

#include "common/size_check.h"

namespace qtune {

int64_t shape_numel(const Shape& s) {
  if (std::optional<int64_t> n = checked_numel(s)) return *n;
  throw SizeError("shape " + shape_str(s) + " has a negative dimension or more elements than int64 can count");
}

std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ",";
    out += s[i] < 0 ? std::string("?") : std::to_string(s[i]);
  }
  return out + "]";
}

namespace {
constexpr size_t kAlignment = 64;  // one cache line and one AVX-512 register

// Constructed std::string elements, freed with their destructors run; viewed through the same
// byte pointer as other storage.
std::shared_ptr<uint8_t> allocate_strings(int64_t n) {
  std::shared_ptr<std::string[]> strings(new std::string[static_cast<size_t>(n)]);
  uint8_t* bytes = reinterpret_cast<uint8_t*>(strings.get());
  return std::shared_ptr<uint8_t>(std::move(strings), bytes);
}

std::shared_ptr<uint8_t> allocate(size_t nbytes, bool zero) {
  const size_t rounded = ((nbytes + kAlignment - 1) / kAlignment) * kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded == 0 ? kAlignment : rounded);
  if (!p) throw std::bad_alloc();
  if (zero) std::memset(p, 0, rounded == 0 ? kAlignment : rounded);
  return std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}
}  // namespace

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) {
  Result<int64_t> bytes = checked_tensor_bytes(dtype_, shape_, "tensor");
  if (!bytes.ok()) throw SizeError(bytes.status().message());
  numel_ = shape_numel(shape_);
  data_ = dtype == DType::kString ? allocate_strings(numel_) : allocate(nbytes(), true);
}

Tensor Tensor::uninitialized(DType dtype, Shape shape) {
  if (dtype == DType::kString) return Tensor(dtype, std::move(shape));
  Result<int64_t> bytes = checked_tensor_bytes(dtype, shape, "tensor");
  if (!bytes.ok()) throw SizeError(bytes.status().message());
  Tensor t;
  t.dtype_ = dtype;
  t.shape_ = std::move(shape);
  t.numel_ = shape_numel(t.shape_);
  t.data_ = allocate(t.nbytes(), false);
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel_) {
    throw std::logic_error("reshape " + shape_str(shape_) + " to " + shape_str(shape));
  }
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  if (!is_tensor()) return *this;  // sequences and optionals are immutable already
  Tensor t(dtype_, shape_);
  if (dtype_ == DType::kString) {
    std::copy(data<std::string>(), data<std::string>() + numel_, t.data<std::string>());
  } else if (nbytes()) {
    std::memcpy(t.raw(), raw(), nbytes());
  }
  return t;
}

Tensor Tensor::bitcast(DType dtype) const {
  if (dtype_size(dtype) != dtype_size(dtype_) || dtype_size(dtype) == 0) {
    throw std::logic_error("bitcast " + std::string(dtype_name(dtype_)) + " to " +
                           std::string(dtype_name(dtype)));
  }
  Tensor t = *this;
  t.dtype_ = dtype;
  return t;
}

void Tensor::copy_elements(const Tensor& src, int64_t src_at, int64_t at, int64_t count) {
  if (count <= 0) return;
  if (dtype_ == DType::kString) {
    std::copy_n(src.data<std::string>() + src_at, count, data<std::string>() + at);
    return;
  }
  const auto esize = static_cast<int64_t>(dtype_size(dtype_));
  std::memcpy(static_cast<uint8_t*>(raw()) + at * esize,
              static_cast<const uint8_t*>(src.raw()) + src_at * esize,
              static_cast<size_t>(count * esize));
}

double Tensor::get_f64(int64_t i) const {
  switch (dtype_) {
    case DType::kF32: return data<float>()[i];
    case DType::kF64: return data<double>()[i];
    case DType::kU8: return data<uint8_t>()[i];
    case DType::kS8: return data<int8_t>()[i];
    case DType::kU16: return data<uint16_t>()[i];
    case DType::kS16: return data<int16_t>()[i];
    case DType::kS32: return data<int32_t>()[i];
    case DType::kS64: return static_cast<double>(data<int64_t>()[i]);
    case DType::kU32: return data<uint32_t>()[i];
    case DType::kU64: return static_cast<double>(data<uint64_t>()[i]);
    case DType::kBool: return data<uint8_t>()[i] ? 1.0 : 0.0;
    case DType::kF16: return f16_to_f32(data<uint16_t>()[i]);
    case DType::kBF16: return bf16_to_f32(data<uint16_t>()[i]);
    case DType::kString: case DType::kUndefined: break;
  }
  throw std::logic_error("get_f64 on a " + std::string(dtype_name(dtype_)) + " tensor");
}

int64_t Tensor::get_i64(int64_t i) const {
  switch (dtype_) {
    case DType::kS64: return data<int64_t>()[i];
    case DType::kS32: return data<int32_t>()[i];
    case DType::kU64: return static_cast<int64_t>(data<uint64_t>()[i]);
    default: return static_cast<int64_t>(get_f64(i));
  }
}

std::vector<int64_t> Tensor::to_i64_vector() const {
  std::vector<int64_t> v(static_cast<size_t>(numel_));
  for (int64_t i = 0; i < numel_; ++i) v[static_cast<size_t>(i)] = get_i64(i);
  return v;
}

const std::vector<Tensor>& Tensor::items() const {
  static const std::vector<Tensor> kNone;
  return items_ ? *items_ : kNone;
}

Tensor Tensor::sequence(DType elem_dtype, std::vector<Tensor> items) {
  Tensor t;
  t.kind_ = ValueKind::kSequence;
  t.elem_dtype_ = elem_dtype;
  t.items_ = std::make_shared<const std::vector<Tensor>>(std::move(items));
  return t;
}

Tensor Tensor::optional(Tensor value) {
  Tensor t = none(value.kind(), value.is_tensor() ? value.dtype() : value.elem_dtype());
  t.items_ = std::make_shared<const std::vector<Tensor>>(std::vector<Tensor>{std::move(value)});
  return t;
}

Tensor Tensor::none(ValueKind of, DType elem_dtype) {
  Tensor t;
  t.kind_ = ValueKind::kOptional;
  t.optional_of_ = of;
  t.elem_dtype_ = elem_dtype;
  return t;
}

Tensor Tensor::from_strings(Shape shape, const std::vector<std::string>& v) {
  Tensor t(DType::kString, std::move(shape));
  if (static_cast<int64_t>(v.size()) != t.numel()) throw std::logic_error("from_strings size");
  std::copy(v.begin(), v.end(), t.data<std::string>());
  return t;
}

Tensor Tensor::scalar_f32(float v) {
  Tensor t(DType::kF32, {});
  t.data<float>()[0] = v;
  return t;
}

Tensor Tensor::from_f32(Shape shape, const std::vector<float>& v) {
  Tensor t(DType::kF32, std::move(shape));
  if (static_cast<int64_t>(v.size()) != t.numel()) throw std::logic_error("from_f32 size");
  // An empty vector may hold no buffer at all, and memcpy wants one even for 0 bytes.
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * 4);
  return t;
}

Tensor Tensor::from_i64(Shape shape, const std::vector<int64_t>& v) {
  Tensor t(DType::kS64, std::move(shape));
  if (static_cast<int64_t>(v.size()) != t.numel()) throw std::logic_error("from_i64 size");
  if (!v.empty()) std::memcpy(t.raw(), v.data(), v.size() * 8);
  return t;
}

}  // namespace qtune
