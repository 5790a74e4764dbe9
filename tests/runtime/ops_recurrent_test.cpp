// LSTM, GRU and RNN against a plain per-element reference written from the ONNX equations: every
// direction, sequence_lens, initial states, peepholes, clip, activations with alpha/beta, GRU's
// linear_before_reset, LSTM's input_forget, layout 1, f64/f16 and the opset-7 forms.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "runtime/op_util.h"
#include "tests/runtime/op_test_util.h"

namespace qtune {
namespace {

using namespace op_test;

struct Act {
  std::string name;
  double alpha = 0, beta = 0;
};

double apply(const Act& a, double x) {
  if (a.name == "Sigmoid") return 1 / (1 + std::exp(-x));
  if (a.name == "Tanh") return std::tanh(x);
  if (a.name == "Relu") return x > 0 ? x : 0;
  if (a.name == "Affine") return a.alpha * x + a.beta;
  if (a.name == "LeakyRelu") return x >= 0 ? x : a.alpha * x;
  if (a.name == "ThresholdedRelu") return x >= a.alpha ? x : 0;
  if (a.name == "ScaledTanh") return a.alpha * std::tanh(a.beta * x);
  if (a.name == "HardSigmoid") return std::min(1.0, std::max(0.0, a.alpha * x + a.beta));
  if (a.name == "Elu") return x >= 0 ? x : a.alpha * (std::exp(x) - 1);
  if (a.name == "Softsign") return x / (1 + std::fabs(x));
  if (a.name == "Softplus") return std::log(1 + std::exp(x));
  ADD_FAILURE() << "unknown activation " << a.name;
  return 0;
}

// One recurrent problem in layout 0 with double data; the reference walks every (direction,
// batch row, time) with scalar loops.
struct Problem {
  std::string op;  // "LSTM", "GRU", "RNN"
  int64_t S = 3, B = 2, I = 3, H = 4, D = 1;
  std::string direction = "forward";
  std::vector<double> x, w, r, b, h0, c0, p;  // empty = input omitted
  std::vector<int64_t> lens;                  // empty = omitted
  std::vector<Act> acts;                      // per direction, concatenated
  double clip = 0;                            // 0 = none
  bool lbr = false, input_forget = false;

  int gates() const { return op == "LSTM" ? 4 : op == "GRU" ? 3 : 1; }
};

struct Outputs {
  std::vector<double> y, yh, yc;  // [S,D,B,H], [D,B,H], [D,B,H]
};

Outputs reference(const Problem& p) {
  const int64_t S = p.S, B = p.B, I = p.I, H = p.H, D = p.D, G = p.gates();
  Outputs o;
  o.y.assign(S * D * B * H, 0.0);
  o.yh.assign(D * B * H, 0.0);
  o.yc.assign(D * B * H, 0.0);
  const size_t per_dir = p.op == "LSTM" ? 3 : p.op == "GRU" ? 2 : 1;
  auto clip = [&](double v) { return p.clip > 0 ? std::min(p.clip, std::max(-p.clip, v)) : v; };
  for (int64_t d = 0; d < D; ++d) {
    const bool rev = p.direction == "reverse" || d == 1;
    auto act = [&](size_t k, double v) { return apply(p.acts[d * per_dir + k], v); };
    auto W = [&](int64_t g, int64_t j, int64_t k) { return p.w[((d * G + g) * H + j) * I + k]; };
    auto R = [&](int64_t g, int64_t j, int64_t k) { return p.r[((d * G + g) * H + j) * H + k]; };
    auto Wb = [&](int64_t g, int64_t j) { return p.b.empty() ? 0 : p.b[(d * 2 * G + g) * H + j]; };
    auto Rb = [&](int64_t g, int64_t j) {
      return p.b.empty() ? 0 : p.b[(d * 2 * G + G + g) * H + j];
    };
    for (int64_t bb = 0; bb < B; ++bb) {
      const int64_t len = p.lens.empty() ? S : p.lens[bb];
      std::vector<double> h(H, 0), c(H, 0);
      for (int64_t j = 0; j < H; ++j) {
        if (!p.h0.empty()) h[j] = p.h0[(d * B + bb) * H + j];
        if (!p.c0.empty()) c[j] = p.c0[(d * B + bb) * H + j];
      }
      for (int64_t step = 0; step < len; ++step) {
        const int64_t t = rev ? len - 1 - step : step;
        auto xw = [&](int64_t g, int64_t j) {
          double s = 0;
          for (int64_t k = 0; k < I; ++k) s += p.x[(t * B + bb) * I + k] * W(g, j, k);
          return s;
        };
        auto hr = [&](int64_t g, int64_t j, const std::vector<double>& hv) {
          double s = 0;
          for (int64_t k = 0; k < H; ++k) s += hv[k] * R(g, j, k);
          return s;
        };
        std::vector<double> hn(H), cn(H);
        if (p.op == "RNN") {
          for (int64_t j = 0; j < H; ++j) {
            hn[j] = act(0, clip(xw(0, j) + hr(0, j, h) + Wb(0, j) + Rb(0, j)));
          }
        } else if (p.op == "GRU") {
          std::vector<double> z(H), rr(H), rh(H);
          for (int64_t j = 0; j < H; ++j) {
            z[j] = act(0, clip(xw(0, j) + hr(0, j, h) + Wb(0, j) + Rb(0, j)));
            rr[j] = act(0, clip(xw(1, j) + hr(1, j, h) + Wb(1, j) + Rb(1, j)));
            rh[j] = rr[j] * h[j];
          }
          for (int64_t j = 0; j < H; ++j) {
            const double pre = p.lbr ? xw(2, j) + rr[j] * (hr(2, j, h) + Rb(2, j)) + Wb(2, j)
                                     : xw(2, j) + hr(2, j, rh) + Rb(2, j) + Wb(2, j);
            const double hh = act(1, clip(pre));
            hn[j] = (1 - z[j]) * hh + z[j] * h[j];
          }
        } else {  // LSTM, gates i o f c, peepholes i o f
          auto P = [&](int64_t g, int64_t j) { return p.p.empty() ? 0 : p.p[(d * 3 + g) * H + j]; };
          for (int64_t j = 0; j < H; ++j) {
            auto pre = [&](int64_t g) { return xw(g, j) + hr(g, j, h) + Wb(g, j) + Rb(g, j); };
            const double i = act(0, clip(pre(0) + P(0, j) * c[j]));
            const double f = p.input_forget ? 1 - i : act(0, clip(pre(2) + P(2, j) * c[j]));
            const double cc = act(1, clip(pre(3)));
            cn[j] = f * c[j] + i * cc;
            const double og = act(0, clip(pre(1) + P(1, j) * cn[j]));
            hn[j] = og * act(2, cn[j]);
          }
          c = cn;
        }
        h = hn;
        for (int64_t j = 0; j < H; ++j) o.y[((t * D + d) * B + bb) * H + j] = h[j];
      }
      for (int64_t j = 0; j < H; ++j) {
        o.yh[(d * B + bb) * H + j] = h[j];
        o.yc[(d * B + bb) * H + j] = c[j];
      }
    }
  }
  return o;
}

std::vector<double> random_values(size_t n, std::mt19937& rng, double scale = 0.5) {
  std::uniform_real_distribution<double> dist(-scale, scale);
  std::vector<double> v(n);
  for (auto& e : v) e = dist(rng);
  return v;
}

// A problem with every weight random and the optional inputs chosen by the caller.
Problem make_problem(const std::string& op, const std::string& direction, uint32_t seed) {
  std::mt19937 rng(seed);
  Problem p;
  p.op = op;
  p.direction = direction;
  p.D = direction == "bidirectional" ? 2 : 1;
  const int64_t G = p.gates();
  p.x = random_values(p.S * p.B * p.I, rng, 1.0);
  p.w = random_values(p.D * G * p.H * p.I, rng);
  p.r = random_values(p.D * G * p.H * p.H, rng);
  p.b = random_values(p.D * 2 * G * p.H, rng);
  p.h0 = random_values(p.D * p.B * p.H, rng);
  if (op == "LSTM") {
    p.c0 = random_values(p.D * p.B * p.H, rng);
    p.p = random_values(p.D * 3 * p.H, rng);
  }
  const std::vector<std::string> defaults =
      op == "LSTM"  ? std::vector<std::string>{"Sigmoid", "Tanh", "Tanh"}
      : op == "GRU" ? std::vector<std::string>{"Sigmoid", "Tanh"}
                    : std::vector<std::string>{"Tanh"};
  for (int64_t d = 0; d < p.D; ++d) {
    for (const auto& n : defaults) p.acts.push_back({n});
  }
  return p;
}

// An empty `v` (an omitted input) gives an empty tensor.
Tensor to_tensor(DType dt, Shape shape, const std::vector<double>& v) {
  if (v.empty()) return Tensor();
  Tensor t(dt, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) {
    if (dt == DType::kF64)
      t.data<double>()[i] = v[i];
    else if (dt == DType::kF32)
      t.data<float>()[i] = static_cast<float>(v[i]);
    else
      t.data<uint16_t>()[i] = f32_to_f16(static_cast<float>(v[i]));
  }
  return t;
}

// [S,B,I] -> [B,S,I] style swap of the two leading dims of a 3-D or the [S,D,B,H] -> [B,S,D,H]
// of Y; `dims` is the layout-0 shape.
std::vector<double> to_batch_major(const std::vector<double>& v, const Shape& dims) {
  std::vector<double> out(v.size());
  if (dims.size() == 3) {  // [A,B,C] -> [B,A,C]
    for (int64_t a = 0; a < dims[0]; ++a)
      for (int64_t b = 0; b < dims[1]; ++b)
        for (int64_t c = 0; c < dims[2]; ++c)
          out[(b * dims[0] + a) * dims[2] + c] = v[(a * dims[1] + b) * dims[2] + c];
  } else {  // [S,D,B,H] -> [B,S,D,H]
    const int64_t S = dims[0], D = dims[1], B = dims[2], H = dims[3];
    for (int64_t s = 0; s < S; ++s)
      for (int64_t d = 0; d < D; ++d)
        for (int64_t b = 0; b < B; ++b)
          for (int64_t h = 0; h < H; ++h)
            out[((b * S + s) * D + d) * H + h] = v[((s * D + d) * B + b) * H + h];
  }
  return out;
}

struct RunOptions {
  DType dtype = DType::kF32;
  int64_t opset = kLatestOpset;
  bool batch_major = false;
  bool set_activations = false;  // write the activations attribute even when default
};

// Runs the problem as a node with all outputs, checks values against the reference.
void run_and_compare(const Problem& p, const RunOptions& opt, double tol) {
  const int64_t G = p.gates();
  std::map<std::string, Attribute> attrs{{"hidden_size", attr_int(p.H)},
                                         {"direction", attr_string(p.direction)}};
  if (opt.batch_major) attrs["layout"] = attr_int(1);
  if (p.clip > 0) attrs["clip"] = attr_float(static_cast<float>(p.clip));
  if (p.lbr) attrs["linear_before_reset"] = attr_int(1);
  if (p.input_forget) attrs["input_forget"] = attr_int(1);
  if (opt.set_activations) {
    Attribute names;
    names.kind = Attribute::Kind::kStrings;
    std::vector<float> alphas, betas;
    for (const auto& a : p.acts) {
      names.strings.push_back(a.name);
      if (a.name == "Affine" || a.name == "LeakyRelu" || a.name == "ThresholdedRelu" ||
          a.name == "ScaledTanh" || a.name == "HardSigmoid" || a.name == "Elu") {
        alphas.push_back(static_cast<float>(a.alpha));
      }
      if (a.name == "Affine" || a.name == "ScaledTanh" || a.name == "HardSigmoid") {
        betas.push_back(static_cast<float>(a.beta));
      }
    }
    attrs["activations"] = names;
    if (!alphas.empty()) attrs["activation_alpha"] = attr_floats(alphas);
    if (!betas.empty()) attrs["activation_beta"] = attr_floats(betas);
  }
  const bool lstm = p.op == "LSTM";
  Node node = make_node(p.op, lstm ? 8 : 6, lstm ? 3 : 2, attrs);
  const Shape xs{p.S, p.B, p.I}, ss{p.D, p.B, p.H};
  auto bm = [&](const std::vector<double>& v, const Shape& s) {
    return opt.batch_major && !v.empty() ? to_batch_major(v, s) : v;
  };
  auto state_shape = [&] { return opt.batch_major ? Shape{p.B, p.D, p.H} : ss; };
  Tensor x = to_tensor(opt.dtype, opt.batch_major ? Shape{p.B, p.S, p.I} : xs, bm(p.x, xs));
  Tensor w = to_tensor(opt.dtype, {p.D, G * p.H, p.I}, p.w);
  Tensor r = to_tensor(opt.dtype, {p.D, G * p.H, p.H}, p.r);
  Tensor b = to_tensor(opt.dtype, {p.D, 2 * G * p.H}, p.b);
  Tensor lens(DType::kS32, {p.B});
  for (int64_t i = 0; i < p.B && !p.lens.empty(); ++i) lens.data<int32_t>()[i] = p.lens[i];
  Tensor h0 = to_tensor(opt.dtype, state_shape(), bm(p.h0, ss));
  Tensor c0 = to_tensor(opt.dtype, state_shape(), bm(p.c0, ss));
  Tensor pp = to_tensor(opt.dtype, {p.D, 3 * p.H}, p.p);
  std::vector<const Tensor*> in{&x,
                                &w,
                                &r,
                                p.b.empty() ? nullptr : &b,
                                p.lens.empty() ? nullptr : &lens,
                                p.h0.empty() ? nullptr : &h0};
  if (lstm) {
    in.push_back(p.c0.empty() ? nullptr : &c0);
    in.push_back(p.p.empty() ? nullptr : &pp);
  }
  for (size_t i = 0; i < in.size(); ++i) {
    if (!in[i]) node.inputs[i] = "";
  }
  auto out = run_node(node, in, opt.opset);
  ASSERT_TRUE(out.ok()) << out.status().message();
  const Outputs want = reference(p);
  const std::vector<double> wy = bm(want.y, {p.S, p.D, p.B, p.H});
  const std::vector<double> wh = bm(want.yh, ss), wc = bm(want.yc, ss);
  auto check = [&](const Tensor& t, const std::vector<double>& v, const char* what) {
    ASSERT_EQ(t.dtype(), opt.dtype) << what;
    ASSERT_EQ(static_cast<size_t>(t.numel()), v.size()) << what;
    for (int64_t i = 0; i < t.numel(); ++i) {
      EXPECT_NEAR(t.get_f64(i), v[i], tol) << what << "[" << i << "]";
    }
  };
  check((*out)[0], wy, "Y");
  check((*out)[1], wh, "Y_h");
  if (lstm) check((*out)[2], wc, "Y_c");
}

class Recurrent : public ::testing::TestWithParam<std::string> {};

TEST_P(Recurrent, EveryDirectionWithAllOptionalInputs) {
  for (const char* dir : {"forward", "reverse", "bidirectional"}) {
    SCOPED_TRACE(dir);
    Problem p = make_problem(GetParam(), dir, 11);
    run_and_compare(p, {}, 1e-5);
  }
}

TEST_P(Recurrent, SequenceLensPadWithZerosAndFreezeTheState) {
  for (const char* dir : {"forward", "reverse", "bidirectional"}) {
    SCOPED_TRACE(dir);
    Problem p = make_problem(GetParam(), dir, 12);
    p.S = 4;
    p.B = 3;
    std::mt19937 rng(5);
    p.x = random_values(p.S * p.B * p.I, rng, 1.0);
    p.h0 = random_values(p.D * p.B * p.H, rng);
    if (!p.c0.empty()) p.c0 = random_values(p.D * p.B * p.H, rng);
    p.lens = {4, 2, 0};
    run_and_compare(p, {}, 1e-5);
  }
}

TEST_P(Recurrent, OmittedOptionalInputsAreZero) {
  Problem p = make_problem(GetParam(), "bidirectional", 13);
  p.b.clear();
  p.h0.clear();
  p.c0.clear();
  p.p.clear();
  run_and_compare(p, {}, 1e-5);
}

TEST_P(Recurrent, BatchMajorLayout) {
  Problem p = make_problem(GetParam(), "bidirectional", 14);
  p.lens = {3, 1};
  run_and_compare(p, {DType::kF32, 14, true, false}, 1e-5);
}

TEST_P(Recurrent, DoubleAndHalfPrecision) {
  Problem p = make_problem(GetParam(), "bidirectional", 15);
  run_and_compare(p, {DType::kF64, kLatestOpset, false, false}, 1e-12);
  run_and_compare(p, {DType::kF16, kLatestOpset, false, false}, 1e-2);
}

TEST_P(Recurrent, Opset7FormWithClip) {
  Problem p = make_problem(GetParam(), "reverse", 16);
  p.clip = 0.3;
  run_and_compare(p, {DType::kF32, 7, false, false}, 1e-5);
}

TEST_P(Recurrent, EveryActivationWithAlphaBeta) {
  const std::vector<Act> all = {{"Relu"},
                                {"Tanh"},
                                {"Sigmoid"},
                                {"Affine", 0.5, 0.1},
                                {"LeakyRelu", 0.2},
                                {"ThresholdedRelu", 0.1},
                                {"ScaledTanh", 0.7, 1.3},
                                {"HardSigmoid", 0.3, 0.4},
                                {"Elu", 0.9},
                                {"Softsign"},
                                {"Softplus"}};
  const size_t per_dir = GetParam() == "LSTM" ? 3 : GetParam() == "GRU" ? 2 : 1;
  for (size_t start = 0; start < all.size(); start += per_dir) {
    Problem p = make_problem(GetParam(), "bidirectional", 17);
    p.acts.clear();
    for (size_t k = 0; k < 2 * per_dir; ++k) p.acts.push_back(all[(start + k) % all.size()]);
    SCOPED_TRACE(p.acts[0].name);
    run_and_compare(p, {DType::kF32, kLatestOpset, false, true}, 1e-5);
  }
}

TEST_P(Recurrent, LargeBatchSplitsRowsAcrossThreads) {
  Problem p = make_problem(GetParam(), "bidirectional", 18);
  p.S = 2;
  p.B = 2100;
  p.H = 16;
  std::mt19937 rng(6);
  const int64_t G = p.gates();
  p.x = random_values(p.S * p.B * p.I, rng, 1.0);
  p.w = random_values(p.D * G * p.H * p.I, rng);
  p.r = random_values(p.D * G * p.H * p.H, rng);
  p.b = random_values(p.D * 2 * G * p.H, rng);
  p.h0 = random_values(p.D * p.B * p.H, rng);
  p.c0 = GetParam() == "LSTM" ? random_values(p.D * p.B * p.H, rng) : std::vector<double>{};
  p.p = GetParam() == "LSTM" ? random_values(p.D * 3 * p.H, rng) : std::vector<double>{};
  p.lens.assign(p.B, 2);
  for (int64_t b = 0; b < p.B; b += 3) p.lens[b] = 1;
  run_and_compare(p, {}, 1e-5);
}

INSTANTIATE_TEST_SUITE_P(OpsRecurrentTest, Recurrent, ::testing::Values("LSTM", "GRU", "RNN"));

TEST(OpsRecurrentTest, GruLinearBeforeReset) {
  for (const char* dir : {"forward", "bidirectional"}) {
    Problem p = make_problem("GRU", dir, 21);
    p.lbr = true;
    run_and_compare(p, {}, 1e-5);
    run_and_compare(p, {DType::kF32, 7, false, false}, 1e-5);
  }
}

TEST(OpsRecurrentTest, LstmInputForgetCouplesGates) {
  Problem p = make_problem("LSTM", "bidirectional", 22);
  p.input_forget = true;
  run_and_compare(p, {}, 1e-5);
}

TEST(OpsRecurrentTest, ActivationNamesAreCaseInsensitiveAndAlphaDefaults) {
  // LeakyRelu without activation_alpha uses the operator's default 0.01.
  Problem p = make_problem("RNN", "forward", 23);
  p.acts = {{"LeakyRelu", 0.01}};
  Node node = make_node("RNN", 3, 2, {{"hidden_size", attr_int(p.H)}});
  Attribute names;
  names.kind = Attribute::Kind::kStrings;
  names.strings = {"leakyrelu"};
  node.attrs["activations"] = names;
  Tensor x = to_tensor(DType::kF32, {p.S, p.B, p.I}, p.x);
  Tensor w = to_tensor(DType::kF32, {1, p.H, p.I}, p.w);
  Tensor r = to_tensor(DType::kF32, {1, p.H, p.H}, p.r);
  auto out = run_node(node, {&x, &w, &r});
  ASSERT_TRUE(out.ok()) << out.status().message();
  p.b.clear();
  p.h0.clear();
  const Outputs want = reference(p);
  for (int64_t i = 0; i < (*out)[1].numel(); ++i) {
    EXPECT_NEAR((*out)[1].data<float>()[i], want.yh[i], 1e-5);
  }
}

TEST(OpsRecurrentTest, RejectsBadAttributesAndShapes) {
  Problem p = make_problem("LSTM", "forward", 24);
  Tensor x = to_tensor(DType::kF32, {p.S, p.B, p.I}, p.x);
  Tensor w = to_tensor(DType::kF32, {1, 4 * p.H, p.I}, p.w);
  Tensor r = to_tensor(DType::kF32, {1, 4 * p.H, p.H}, p.r);
  auto expect_invalid = [&](Node node, std::vector<const Tensor*> in) {
    auto out = run_node(node, std::move(in));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.status().code(), StatusCode::kInvalidInput) << out.status().message();
    EXPECT_NE(out.status().message().find("node 'n' (LSTM)"), std::string::npos);
  };
  expect_invalid(
      make_node("LSTM", 3, 2,
                {{"hidden_size", attr_int(p.H)}, {"direction", attr_string("sideways")}}),
      {&x, &w, &r});
  expect_invalid(make_node("LSTM", 3, 2, {{"hidden_size", attr_int(p.H + 1)}}), {&x, &w, &r});
  expect_invalid(
      make_node("LSTM", 3, 2, {{"hidden_size", attr_int(p.H)}, {"clip", attr_float(-1.0f)}}),
      {&x, &w, &r});
  Node bad_act = make_node("LSTM", 3, 2, {{"hidden_size", attr_int(p.H)}});
  Attribute names;
  names.kind = Attribute::Kind::kStrings;
  names.strings = {"Sigmoid", "Tanh", "Swish"};
  bad_act.attrs["activations"] = names;
  expect_invalid(bad_act, {&x, &w, &r});
  names.strings = {"Sigmoid", "Tanh"};
  bad_act.attrs["activations"] = names;
  expect_invalid(bad_act, {&x, &w, &r});
  Tensor lens(DType::kS32, {p.B});
  lens.data<int32_t>()[0] = static_cast<int32_t>(p.S + 1);
  Node with_lens = make_node("LSTM", 5, 2, {{"hidden_size", attr_int(p.H)}});
  with_lens.inputs[3] = "";
  expect_invalid(with_lens, {&x, &w, &r, nullptr, &lens});
  Tensor x64 = to_tensor(DType::kF64, {p.S, p.B, p.I}, p.x);
  expect_invalid(make_node("LSTM", 3, 2, {{"hidden_size", attr_int(p.H)}}), {&x64, &w, &r});
}

TEST(OpsRecurrentTest, OnlyRequestedOutputsAreProduced) {
  Problem p = make_problem("GRU", "forward", 25);
  Node node = make_node("GRU", 3, 2, {{"hidden_size", attr_int(p.H)}});
  node.outputs[0] = "";
  Tensor x = to_tensor(DType::kF32, {p.S, p.B, p.I}, p.x);
  Tensor w = to_tensor(DType::kF32, {1, 3 * p.H, p.I}, p.w);
  Tensor r = to_tensor(DType::kF32, {1, 3 * p.H, p.H}, p.r);
  auto out = run_node(node, {&x, &w, &r});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_TRUE((*out)[0].empty());
  EXPECT_EQ((*out)[1].shape(), (Shape{1, p.B, p.H}));
}

}  // namespace
}  // namespace qtune
