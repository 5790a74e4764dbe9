// Tensor: a dense, row-major, 64-byte aligned n-d array with a dtype and shape.
// Storage is shared between copies (Reshape/Identity alias it); writers create new tensors.
// kString tensors hold constructed std::string elements (destroyed with the storage).
// The same type also carries ONNX's other value types, sequences and optionals, so they flow
// through the executor's value slots and kernels' inputs/outputs like tensors do.
// A Tensor is a value; concurrent reads are safe, concurrent writes to one buffer are not.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/dtype.h"

namespace qtune {

using Shape = std::vector<int64_t>;

// What a value is: a tensor, a sequence of tensors (seq(tensor)), or an optional holding none or
// one tensor or sequence (optional(...)).
enum class ValueKind : uint8_t { kTensor, kSequence, kOptional };

// The element count; throws SizeError on a negative dimension or overflow (common/size_check.h
// checks shapes read from files before they get here).
int64_t shape_numel(const Shape& s);
std::string shape_str(const Shape& s);  // "[1,3,224,224]"

class Tensor {
 public:
  Tensor() = default;
  // Allocates zero-filled storage; throws SizeError when the shape overflows or the tensor
  // would exceed the tensor size limit (common/size_check.h).
  Tensor(DType dtype, Shape shape);
  // Storage left as the allocator gives it (strings are still constructed): for a kernel's
  // output that it overwrites entirely, so the zero fill is not paid for.
  static Tensor uninitialized(DType dtype, Shape shape);

  // kUndefined for sequences and optionals: tensor kernels never see their element type.
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t rank() const { return static_cast<int64_t>(shape_.size()); }
  int64_t dim(int64_t i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  // No value at all (an omitted input); sequences, even without elements, are not empty.
  bool empty() const { return dtype_ == DType::kUndefined && kind_ == ValueKind::kTensor; }

  void* raw() { return data_.get(); }
  const void* raw() const { return data_.get(); }
  template <typename T> T* data() { return static_cast<T*>(raw()); }
  template <typename T> const T* data() const { return static_cast<const T*>(raw()); }
  template <typename T> std::span<T> span() { return {data<T>(), static_cast<size_t>(numel_)}; }
  template <typename T> std::span<const T> span() const {
    return {data<T>(), static_cast<size_t>(numel_)};
  }

  // Same storage, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  // Deep copy.
  Tensor clone() const;
  // Same storage and shape viewed as another type of the same element size.
  Tensor bitcast(DType dtype) const;

  // Copies `count` elements of `src` (same dtype) from element `src_at` to element `at` of this
  // tensor: strings by assignment, other types byte-wise. Bounds are the caller's to check.
  void copy_elements(const Tensor& src, int64_t src_at, int64_t at, int64_t count);

  // Reads element i as double / int64 whatever the dtype (for shapes, indices and tests).
  double get_f64(int64_t i) const;
  int64_t get_i64(int64_t i) const;
  std::vector<int64_t> to_i64_vector() const;

  // Sequences and optionals.
  ValueKind kind() const { return kind_; }
  bool is_tensor() const { return kind_ == ValueKind::kTensor; }
  bool is_sequence() const { return kind_ == ValueKind::kSequence; }
  bool is_optional() const { return kind_ == ValueKind::kOptional; }
  // A sequence's tensors; an optional's value (none: no item); nothing for a tensor.
  const std::vector<Tensor>& items() const;
  // The element type of a sequence's tensors or of what an optional holds.
  DType elem_dtype() const { return elem_dtype_; }
  // What a none optional would hold (an optional of a sequence says kSequence).
  ValueKind optional_of() const { return optional_of_; }
  static Tensor sequence(DType elem_dtype, std::vector<Tensor> items);
  // An optional holding `value` (a tensor or a sequence).
  static Tensor optional(Tensor value);
  // An optional holding nothing; `of` and `elem_dtype` describe what it could hold.
  static Tensor none(ValueKind of, DType elem_dtype);

  static Tensor scalar_f32(float v);
  static Tensor from_f32(Shape shape, const std::vector<float>& v);
  static Tensor from_i64(Shape shape, const std::vector<int64_t>& v);
  static Tensor from_strings(Shape shape, const std::vector<std::string>& v);

 private:
  DType dtype_ = DType::kUndefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<uint8_t> data_;
  ValueKind kind_ = ValueKind::kTensor;
  ValueKind optional_of_ = ValueKind::kTensor;
  DType elem_dtype_ = DType::kUndefined;
  std::shared_ptr<const std::vector<Tensor>> items_;
};

}  // namespace qtune
