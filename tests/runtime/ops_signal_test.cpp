// DFT and STFT against a direct O(n^2) DFT (powers of two and other lengths, real and complex
// input, inverse, onesided, dft_length, axes, f64/f16), the cosine windows against their formulas
// and MelWeightMatrix against values from ONNX's reference implementation.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <random>
#include <vector>

#include "runtime/op_util.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;
using cd = std::complex<double>;

// x[0..n) zero-padded/truncated to `len`, transformed directly.
std::vector<cd> direct_dft(const std::vector<cd>& x, int64_t len, bool inverse) {
  std::vector<cd> out(static_cast<size_t>(len));
  const double sign = inverse ? 1.0 : -1.0;
  for (int64_t k = 0; k < len; ++k) {
    cd acc = 0;
    for (int64_t j = 0; j < len && j < static_cast<int64_t>(x.size()); ++j) {
      acc += x[j] * std::polar(1.0, sign * 2 * std::numbers::pi * double(j * k % len) / len);
    }
    out[k] = inverse ? acc / double(len) : acc;
  }
  return out;
}

Tensor signal_tensor(DType dt, Shape shape, std::mt19937& rng) {
  Tensor t(dt, std::move(shape));
  std::uniform_real_distribution<double> d(-1.0, 1.0);
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = d(rng);
    if (dt == DType::kF32)
      t.data<float>()[i] = static_cast<float>(v);
    else if (dt == DType::kF64)
      t.data<double>()[i] = v;
    else
      t.data<uint16_t>()[i] = f32_to_f16(static_cast<float>(v));
  }
  return t;
}

Tensor scalar_i64(int64_t v) { return Tensor::from_i64({}, {v}); }

struct DftCase {
  Shape shape;  // input, last dim 1 or 2
  int64_t axis = 1;
  bool inverse = false, onesided = false;
  int64_t dft_length = 0;  // 0 = input omitted
  DType dtype = DType::kF32;
};

// Runs DFT and compares every transformed line with direct_dft.
void check_dft(const DftCase& c, double tol) {
  std::mt19937 rng(7);
  Tensor x = signal_tensor(c.dtype, c.shape, rng);
  std::map<std::string, Attribute> attrs{{"axis", attr_int(c.axis)},
                                         {"inverse", attr_int(c.inverse)},
                                         {"onesided", attr_int(c.onesided)}};
  Tensor len = scalar_i64(c.dft_length);
  auto out = c.dft_length > 0 ? run_node(make_node("DFT", 2, 1, attrs), {&x, &len})
                              : run_node(make_node("DFT", 1, 1, attrs), {&x});
  ASSERT_TRUE(out.ok()) << out.status().message();
  const Tensor& y = (*out)[0];
  const int64_t rank = x.rank(), axis = c.axis < 0 ? c.axis + rank : c.axis;
  const int64_t comps = x.dim(rank - 1), n_in = x.dim(axis);
  const int64_t n = c.dft_length > 0 ? c.dft_length : n_in;
  const int64_t n_out = c.onesided ? n / 2 + 1 : n;
  Shape want_shape = x.shape();
  want_shape[axis] = n_out;
  want_shape.back() = 2;
  ASSERT_EQ(y.shape(), want_shape);
  ASSERT_EQ(y.dtype(), c.dtype);
  const int64_t outer = dims_product(x.shape(), 0, axis);
  const int64_t inner = dims_product(x.shape(), axis + 1, rank - 1);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      std::vector<cd> line;
      for (int64_t k = 0; k < n_in; ++k) {
        const int64_t e = ((o * n_in + k) * inner + i) * comps;
        line.emplace_back(x.get_f64(e), comps == 2 ? x.get_f64(e + 1) : 0.0);
      }
      const std::vector<cd> want = direct_dft(line, n, c.inverse);
      for (int64_t k = 0; k < n_out; ++k) {
        const int64_t e = ((o * n_out + k) * inner + i) * 2;
        EXPECT_NEAR(y.get_f64(e), want[k].real(), tol) << "line " << o << "," << i << " bin " << k;
        EXPECT_NEAR(y.get_f64(e + 1), want[k].imag(), tol)
            << "line " << o << "," << i << " bin " << k;
      }
    }
  }
}

TEST(OpsSignalTest, DftRealAndComplexAnyLength) {
  for (int64_t n : {1, 2, 7, 12, 16, 30}) {
    SCOPED_TRACE(n);
    check_dft({{2, n, 1}}, 1e-4);
    check_dft({{2, n, 3, 2}}, 1e-4);
  }
}

TEST(OpsSignalTest, DftInverseOnesidedAxisAndLength) {
  check_dft({{2, 5, 6, 2}, 2, true}, 1e-5);
  check_dft({{2, 5, 6, 1}, -2, false, true}, 1e-4);
  check_dft({{3, 9, 1}, 1, false, true}, 1e-4);
  check_dft({{2, 6, 4, 2}, 1, false, false, 11}, 1e-4);  // zero-padded
  check_dft({{2, 6, 4, 1}, 1, true, false, 4}, 1e-5);    // truncated
  check_dft({{4, 8, 1}, 0}, 1e-4);                       // the batch axis as signal
}

TEST(OpsSignalTest, DftDoubleAndHalf) {
  check_dft({{2, 10, 2}, 1, false, false, 0, DType::kF64}, 1e-12);
  check_dft({{2, 13, 1}, 1, true, false, 0, DType::kF64}, 1e-12);
  check_dft({{2, 8, 1}, 1, false, false, 0, DType::kF16}, 2e-2);
}

TEST(OpsSignalTest, DftInverseUndoesForward) {
  std::mt19937 rng(3);
  Tensor x = signal_tensor(DType::kF64, {1, 21, 2}, rng);
  auto fwd = run_node(make_node("DFT", 1), {&x});
  ASSERT_TRUE(fwd.ok());
  auto back = run_node(make_node("DFT", 1, 1, {{"inverse", attr_int(1)}}), {&(*fwd)[0]});
  ASSERT_TRUE(back.ok());
  for (int64_t i = 0; i < x.numel(); ++i) {
    EXPECT_NEAR((*back)[0].data<double>()[i], x.data<double>()[i], 1e-12);
  }
}

TEST(OpsSignalTest, DftRejectsBadAxisAndShapes) {
  Tensor x = iota_f32({2, 4, 1});
  Tensor x3 = iota_f32({2, 4, 3});
  Tensor zero = scalar_i64(0);
  for (auto [node, in] : std::vector<std::pair<Node, std::vector<const Tensor*>>>{
           {make_node("DFT", 1, 1, {{"axis", attr_int(2)}}), {&x}},
           {make_node("DFT", 1, 1, {{"axis", attr_int(5)}}), {&x}},
           {make_node("DFT", 1), {&x3}},
           {make_node("DFT", 2), {&x, &zero}}}) {
    auto out = run_node(node, in, kLatestOpset, false);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidInput) << out.status().message();
  }
}

// STFT frames against direct_dft of each windowed frame.
void check_stft(int64_t comps, int64_t length, int64_t step, int64_t n, bool use_window,
                bool onesided, bool with_length) {
  std::mt19937 rng(9);
  Tensor signal = signal_tensor(DType::kF32, {2, length, comps}, rng);
  Tensor window = signal_tensor(DType::kF32, {n}, rng);
  Tensor step_t = scalar_i64(step), len_t = scalar_i64(n);
  Node node = make_node("STFT", with_length ? 4 : 3, 1, {{"onesided", attr_int(onesided)}});
  if (!use_window) node.inputs[2] = "";
  std::vector<const Tensor*> in{&signal, &step_t, use_window ? &window : nullptr};
  if (with_length) in.push_back(&len_t);
  // libonnx 1.12's STFT inference counts frames from the onesided bin count instead of the
  // frame length, so only the two-sided shapes can be checked against it.
  auto out = run_node(node, in, kLatestOpset, !onesided);
  ASSERT_TRUE(out.ok()) << out.status().message();
  const Tensor& y = (*out)[0];
  const int64_t frames = (length - n) / step + 1, bins = onesided ? n / 2 + 1 : n;
  ASSERT_EQ(y.shape(), (Shape{2, frames, bins, 2}));
  for (int64_t b = 0; b < 2; ++b) {
    for (int64_t f = 0; f < frames; ++f) {
      std::vector<cd> frame;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t e = (b * length + f * step + k) * comps;
        const double w = use_window ? window.data<float>()[k] : 1.0;
        frame.push_back(cd(signal.get_f64(e), comps == 2 ? signal.get_f64(e + 1) : 0.0) * w);
      }
      const auto want = direct_dft(frame, n, false);
      for (int64_t k = 0; k < bins; ++k) {
        const int64_t e = ((b * frames + f) * bins + k) * 2;
        EXPECT_NEAR(y.get_f64(e), want[k].real(), 1e-4);
        EXPECT_NEAR(y.get_f64(e + 1), want[k].imag(), 1e-4);
      }
    }
  }
}

TEST(OpsSignalTest, StftWindowFrameLengthAndSides) {
  check_stft(1, 40, 8, 16, true, true, false);
  check_stft(1, 40, 5, 12, false, false, true);
  check_stft(2, 33, 7, 10, true, false, true);
  check_stft(1, 16, 3, 16, true, true, true);  // one frame
}

TEST(OpsSignalTest, StftIsOnesidedByDefault) {
  // libonnx 1.12's STFT inference reads an absent onesided as 0; the schema default is 1.
  Tensor signal = iota_f32({1, 32, 1});
  Tensor step = scalar_i64(8), len = scalar_i64(16);
  Node node = make_node("STFT", 4);
  node.inputs[2] = "";
  auto out = run_node(node, {&signal, &step, nullptr, &len}, kLatestOpset, false);
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].shape(), (Shape{1, 3, 9, 2}));
}

TEST(OpsSignalTest, StftRejectsInconsistentInputs) {
  Tensor signal = iota_f32({1, 32, 1});
  Tensor step = scalar_i64(8), len = scalar_i64(16), long_len = scalar_i64(40);
  Tensor zero = scalar_i64(0);
  Tensor window = iota_f32({12});
  auto expect_invalid = [](Node node, std::vector<const Tensor*> in) {
    for (size_t i = 0; i < in.size(); ++i) {
      if (!in[i]) node.inputs[i] = "";
    }
    auto out = run_node(node, in, kLatestOpset, false);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidInput) << out.status().message();
  };
  expect_invalid(make_node("STFT", 4), {&signal, &step, &window, &len});  // window != length
  expect_invalid(make_node("STFT", 2), {&signal, &step});                 // no frame size
  expect_invalid(make_node("STFT", 4), {&signal, &zero, nullptr, &len});  // zero step
  expect_invalid(make_node("STFT", 4), {&signal, &step, nullptr, &long_len});
}

std::vector<double> window_formula(const std::vector<double>& a, int64_t size, bool periodic) {
  std::vector<double> w(static_cast<size_t>(size));
  const double n = periodic ? size : size - 1;
  for (int64_t i = 0; i < size; ++i) {
    double v = 0, sign = 1;
    for (size_t k = 0; k < a.size(); ++k, sign = -sign) {
      v += sign * a[k] * std::cos(2 * std::numbers::pi * double(k) * i / n);
    }
    w[i] = v;
  }
  return w;
}

TEST(OpsSignalTest, WindowsMatchTheirFormulas) {
  const std::vector<std::pair<const char*, std::vector<double>>> kinds = {
      {"HannWindow", {0.5, 0.5}},
      {"HammingWindow", {25.0 / 46, 21.0 / 46}},
      {"BlackmanWindow", {0.42, 0.5, 0.08}}};
  for (const auto& [op, a] : kinds) {
    for (bool periodic : {true, false}) {
      SCOPED_TRACE(std::string(op) + (periodic ? " periodic" : " symmetric"));
      Tensor size = Tensor::from_i64({}, {11});
      auto out =
          run_node(make_node(op, 1, 1,
                             {{"periodic", attr_int(periodic)}, {"output_datatype", attr_int(11)}}),
                   {&size});
      ASSERT_TRUE(out.ok()) << out.status().message();
      ASSERT_EQ((*out)[0].dtype(), DType::kF64);
      const auto want = window_formula(a, 11, periodic);
      for (int64_t i = 0; i < 11; ++i) EXPECT_NEAR((*out)[0].data<double>()[i], want[i], 1e-12);
    }
  }
}

TEST(OpsSignalTest, WindowOutputTypesAndSizes) {
  Tensor size = make_tensor<int32_t>(DType::kS32, {}, {4});
  auto f16 = run_node(make_node("HannWindow", 1, 1, {{"output_datatype", attr_int(10)}}), {&size});
  ASSERT_TRUE(f16.ok()) << f16.status().message();
  EXPECT_EQ((*f16)[0].dtype(), DType::kF16);
  EXPECT_NEAR((*f16)[0].get_f64(2), 1.0, 1e-3);  // 0.5 - 0.5 cos(pi)
  auto i32 = run_node(make_node("HannWindow", 1, 1, {{"output_datatype", attr_int(6)}}), {&size});
  ASSERT_TRUE(i32.ok());
  EXPECT_EQ(values<int32_t>((*i32)[0]), (std::vector<int32_t>{0, 0, 1, 0}));
  Tensor one = Tensor::from_i64({}, {1});
  auto sym1 = run_node(make_node("BlackmanWindow", 1, 1, {{"periodic", attr_int(0)}}), {&one});
  ASSERT_TRUE(sym1.ok());
  EXPECT_EQ(values<float>((*sym1)[0]), std::vector<float>{1.0f});
  for (int64_t bad_size : {0, -3}) {
    Tensor t = Tensor::from_i64({}, {bad_size});
    auto bad = run_node(make_node("HammingWindow", 1), {&t}, kLatestOpset, false);
    EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
  }
  auto bad_type = run_node(make_node("HannWindow", 1, 1, {{"output_datatype", attr_int(9)}}),
                           {&size}, kLatestOpset, false);
  EXPECT_EQ(bad_type.status().code(), StatusCode::kInvalidInput);
}

TEST(OpsSignalTest, MelWeightMatrixMatchesReference) {
  // ONNX's reference implementation for (4 bins, dft 32, 16 kHz, 100..8000 Hz).
  const std::vector<double> want = {
      0, 0,        0,        0, 1, 0,        0,        0, 0, 1, 0, 0, 0, 0, 1,    0, 0,
      0, 0.666667, 0.333333, 0, 0, 0.333333, 0.666667, 0, 0, 0, 1, 0, 0, 0, 0.75, 0, 0,
      0, 0.5,      0,        0, 0, 0.25,     0,        0, 0, 0, 0, 0, 0, 0, 0,    0, 0,
      0, 0,        0,        0, 0, 0,        0,        0, 0, 0, 0, 0, 0, 0, 0,    0, 0};
  Tensor bins = Tensor::from_i64({}, {4}), dft = Tensor::from_i64({}, {32});
  Tensor rate = Tensor::from_i64({}, {16000});
  Tensor lo = Tensor::scalar_f32(100), hi = Tensor::scalar_f32(8000);
  for (int64_t code : {1, 11}) {
    auto out = run_node(make_node("MelWeightMatrix", 5, 1, {{"output_datatype", attr_int(code)}}),
                        {&bins, &dft, &rate, &lo, &hi});
    ASSERT_TRUE(out.ok()) << out.status().message();
    const Tensor& m = (*out)[0];
    ASSERT_EQ(m.shape(), (Shape{17, 4}));
    for (int64_t i = 0; i < m.numel(); ++i) EXPECT_NEAR(m.get_f64(i), want[i], 1e-6) << i;
  }
  Tensor too_high = Tensor::scalar_f32(20000);
  auto bad = run_node(make_node("MelWeightMatrix", 5), {&bins, &dft, &rate, &lo, &too_high},
                      kLatestOpset, false);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidInput);
}

}  // namespace
}  // namespace qtune
