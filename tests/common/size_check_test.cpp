#include "common/size_check.h"

#include <gtest/gtest.h>

#include "common/tensor.h"

namespace qtune {
namespace {

constexpr int64_t k2to62 = int64_t{1} << 62;

// Restores the process-wide limits a test changed.
class ScopedLimits {
 public:
  explicit ScopedLimits(const SizeLimits& l) : saved_(size_limits()) { set_size_limits(l); }
  ~ScopedLimits() { set_size_limits(saved_); }

 private:
  SizeLimits saved_;
};

TEST(SizeCheckTest, CountsElements) {
  EXPECT_EQ(checked_numel(std::vector<int64_t>{}), 1);
  EXPECT_EQ(checked_numel(std::vector<int64_t>{2, 3, 4}), 24);
  EXPECT_EQ(checked_numel(std::vector<int64_t>{7, 0, 5}), 0);
  EXPECT_EQ(checked_numel(std::vector<int64_t>{k2to62, 1}), k2to62);
}

TEST(SizeCheckTest, RefusesOverflowNegativeAndHiddenOverflowBehindAZero) {
  EXPECT_FALSE(checked_numel(std::vector<int64_t>{k2to62, 4, 1, 1}));
  EXPECT_FALSE(checked_numel(std::vector<int64_t>{1, int64_t{1} << 31, int64_t{1} << 31, int64_t{1} << 31, 4}));
  EXPECT_FALSE(checked_numel(std::vector<int64_t>{3, -1}));
  // Zero elements, yet a kernel's inner product of the other dimensions would overflow.
  EXPECT_FALSE(checked_numel(std::vector<int64_t>{0, k2to62, 8}));
  Result<int64_t> r = checked_numel({k2to62, 4, 1, 1}, "initializer 'w'");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_EQ(r.status().message(),
            "initializer 'w': shape [4611686018427387904,4,1,1] has more elements than int64 can count");
}

TEST(SizeCheckTest, TensorBytesAgainstTheLimit) {
  ScopedLimits limits({1000, 1 << 20});
  EXPECT_EQ(checked_tensor_bytes(DType::kF32, {10, 25}, "t").value(), 1000);
  Result<int64_t> r = checked_tensor_bytes(DType::kF32, {10, 26}, "input 'x'");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "input 'x': shape [10,26] of f32 needs 1040 bytes, more than the tensor "
                                  "size limit of 1000 bytes (QTUNE_MAX_TENSOR_BYTES)");
  // Elements that fit int64 whose bytes do not.
  Result<int64_t> wrap = checked_tensor_bytes(DType::kF32, {k2to62, 1}, "w");
  ASSERT_FALSE(wrap.ok());
  EXPECT_NE(wrap.status().message().find("more bytes than int64 can count"), std::string::npos);
  EXPECT_TRUE(check_model_file_size("m.onnx", 1 << 20).ok());
  EXPECT_EQ(check_model_file_size("m.onnx", (1 << 20) + 1).message(),
            "m.onnx: 1048577 bytes, more than the model size limit of 1048576 bytes (QTUNE_MAX_MODEL_BYTES)");
}

TEST(SizeCheckTest, TensorConstructionChecksBeforeAllocating) {
  EXPECT_THROW(Tensor(DType::kF32, {k2to62, 4, 1, 1}), SizeError);
  EXPECT_THROW(Tensor(DType::kF32, {2, -3}), SizeError);
  EXPECT_THROW(shape_numel({int64_t{1} << 32, int64_t{1} << 32}), SizeError);
  ScopedLimits limits({64, 1 << 20});
  EXPECT_NO_THROW(Tensor(DType::kF32, {16}));
  EXPECT_THROW(Tensor(DType::kF32, {17}), SizeError);
  EXPECT_THROW(Tensor(DType::kString, {3}), SizeError);  // three std::string objects > 64 bytes
}

TEST(SizeCheckTest, LimitsComeFromTheEnvironment) {
  const SizeLimits saved = size_limits();
  ::setenv("QTUNE_MAX_TENSOR_BYTES", "4096", 1);
  ::setenv("QTUNE_MAX_MODEL_BYTES", "8192", 1);
  EXPECT_TRUE(set_size_limits_from_environment().ok());
  EXPECT_EQ(size_limits().max_tensor_bytes, 4096);
  EXPECT_EQ(size_limits().max_model_bytes, 8192);
  ::setenv("QTUNE_MAX_MODEL_BYTES", "lots", 1);
  Status bad = set_size_limits_from_environment();
  EXPECT_EQ(bad.message(), "environment variable QTUNE_MAX_MODEL_BYTES: expects a positive number of bytes, got 'lots'");
  ::unsetenv("QTUNE_MAX_TENSOR_BYTES");
  ::unsetenv("QTUNE_MAX_MODEL_BYTES");
  set_size_limits(saved);
  EXPECT_GT(default_size_limits().max_tensor_bytes, 0);
  EXPECT_EQ(default_size_limits().max_model_bytes, int64_t{2} << 30);
}

}  // namespace
}  // namespace qtune
