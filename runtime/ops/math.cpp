// Unary element-wise operators: arithmetic (Abs, Neg, Sign, Reciprocal, rounding), exponentials,
// trigonometric and hyperbolic functions, Erf, IsNaN/IsInf, the activations (Relu, Sigmoid, Elu
// and friends) and Clip. f16/bf16 compute in f32 and round once per element; integer types never
// go through floating point unless the operator itself is a float formula (Shrink, Erf).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "kernels/erf_f32.h"
#include "runtime/op_util.h"

namespace qtune {
namespace {

// The type an element is computed in: f32 for the 16-bit floats, itself otherwise.
template <typename T>
using compute_t = std::conditional_t<std::is_same_v<T, F16> || std::is_same_v<T, BF16>, float, T>;

template <typename T>
inline compute_t<T> load(storage_t<T> v) {
  if constexpr (std::is_same_v<T, F16> || std::is_same_v<T, BF16>) {
    return static_cast<float>(load_as_double<T>(v));
  } else {
    return v;
  }
}
template <typename T>
inline storage_t<T> store(compute_t<T> v) {
  if constexpr (std::is_same_v<T, F16> || std::is_same_v<T, BF16>) {
    return store_from_double<T>(v);
  } else {
    return v;
  }
}

// out[i] = f(in[i]) over storage types, in parallel for large tensors.
template <typename T, typename O, typename F>
void map_elements(const Tensor& x, Tensor& y, F f) {
  const storage_t<T>* __restrict in = x.data<storage_t<T>>();
  storage_t<O>* __restrict out = y.data<storage_t<O>>();
  parallel_ranges(x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = f(in[i]);
  });
}

enum class Domain { kFloat, kSigned, kNumeric };

template <Domain kD, typename T>
constexpr bool accepts() {
  if constexpr (std::is_same_v<T, Bool>) return false;
  else if constexpr (kD == Domain::kFloat) return is_float_v<T>;
  else if constexpr (kD == Domain::kSigned) return is_float_v<T> || std::is_signed_v<T>;
  else return true;
}

// A same-type unary op: `make(ctx, TypeTag<C>{})` returns the element function on compute type C.
template <Domain kD, typename Make>
constexpr auto unary(Make make) {
  return [make](OpContext& ctx) -> Status {
    QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
    const Tensor& x = *ctx.input(0);
    return visit_any(x.dtype(), ctx, [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      if constexpr (!accepts<kD, T>()) {
        return ctx.unsupported("element type " + dtype_str(x.dtype()) + " is not supported");
      } else {
        using C = compute_t<T>;
        auto f = make(ctx, TypeTag<C>{});
        Tensor y(x.dtype(), x.shape());
        map_elements<T, T>(x, y, [f](storage_t<T> v) { return store<T>(f(load<T>(v))); });
        ctx.outputs[0] = std::move(y);
        return Status::Ok();
      }
    });
  };
}

// A float-only op given as a formula of `v`, in compute type C.
#define QT_FLOAT_UNARY(expr)                                      \
  unary<Domain::kFloat>([](const OpContext&, auto tag) {          \
    using C = typename decltype(tag)::type;                       \
    return [](C v) -> C { return static_cast<C>(expr); };         \
  })

constexpr auto erf_generic = unary<Domain::kNumeric>([](const OpContext&, auto tag) {
  using C = typename decltype(tag)::type;
  return [](C v) -> C {
    if constexpr (std::is_floating_point_v<C>) return static_cast<C>(std::erf(v));
    else return saturate_cast<C>(std::erf(static_cast<double>(v)));
  };
});

Status erf_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  if (x.dtype() != DType::kF32) return erf_generic(ctx);
  Tensor y(x.dtype(), x.shape());
  const float* in = x.data<float>();
  float* out = y.data<float>();
  // The rational approximation of kernels/erf_f32.h: std::erf does not vectorise.
  parallel_ranges(x.numel(), [&](int64_t b, int64_t e) { erf_f32(in + b, out + b, e - b); });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------ integer-aware arithmetic

// |x| and -x wrap for the most negative integer, as two's complement hardware does.
template <typename C>
C wrap_neg(C v) {
  if constexpr (std::is_integral_v<C>) {
    using U = std::conditional_t<(sizeof(C) < 4), uint32_t, std::make_unsigned_t<C>>;
    return static_cast<C>(U{0} - static_cast<U>(v));
  } else {
    return -v;
  }
}

constexpr auto abs_op = unary<Domain::kNumeric>([](const OpContext&, auto tag) {
  using C = typename decltype(tag)::type;
  return [](C v) -> C {
    if constexpr (std::is_unsigned_v<C>) return v;
    else if constexpr (std::is_integral_v<C>) return v < 0 ? wrap_neg(v) : v;
    else return std::fabs(v);
  };
});

constexpr auto neg_op = unary<Domain::kSigned>([](const OpContext&, auto tag) {
  using C = typename decltype(tag)::type;
  return [](C v) -> C { return wrap_neg(v); };
});

constexpr auto sign_op = unary<Domain::kNumeric>([](const OpContext&, auto tag) {
  using C = typename decltype(tag)::type;
  return [](C v) -> C {
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(v)) return v;
    }
    return static_cast<C>((C(0) < v) - (v < C(0)));
  };
});

constexpr auto relu_op = unary<Domain::kSigned>([](const OpContext&, auto tag) {
  using C = typename decltype(tag)::type;
  return [](C v) -> C { return v < C(0) ? C(0) : v; };  // NaN passes through
});

// Shrink: floats compute in their own type; integers in double, saturating into the type.
constexpr auto shrink_op = unary<Domain::kNumeric>([](const OpContext& ctx, auto tag) {
  using C = typename decltype(tag)::type;
  const double lambd = ctx.node.attr_float("lambd", 0.5f);
  const double bias = ctx.node.attr_float("bias", 0.0f);
  return [lambd, bias](C v) -> C {
    const double d = static_cast<double>(v);
    const double r = d < -lambd ? d + bias : d > lambd ? d - bias : 0.0;
    if constexpr (std::is_floating_point_v<C>) return static_cast<C>(r);
    else return saturate_cast<C>(r);
  };
});

// ------------------------------------------------------------------ float activations

// alpha (and beta) read once per node in the compute type.
template <typename C>
C attr_as(const OpContext& ctx, const char* name, float fallback) {
  return static_cast<C>(ctx.node.attr_float(name, fallback));
}

constexpr auto leaky_relu_op = unary<Domain::kFloat>([](const OpContext& ctx, auto tag) {
  using C = typename decltype(tag)::type;
  const C alpha = attr_as<C>(ctx, "alpha", 0.01f);
  return [alpha](C v) -> C { return v < C(0) ? v * alpha : v; };
});

constexpr auto elu_op = unary<Domain::kFloat>([](const OpContext& ctx, auto tag) {
  using C = typename decltype(tag)::type;
  const C alpha = attr_as<C>(ctx, "alpha", 1.0f);
  return [alpha](C v) -> C { return v < C(0) ? alpha * std::expm1(v) : v; };
});

constexpr auto selu_op = unary<Domain::kFloat>([](const OpContext& ctx, auto tag) {
  using C = typename decltype(tag)::type;
  const C alpha = attr_as<C>(ctx, "alpha", 1.67326319217681884765625f);
  const C gamma = attr_as<C>(ctx, "gamma", 1.05070102214813232421875f);
  return [alpha, gamma](C v) -> C { return gamma * (v > C(0) ? v : alpha * std::expm1(v)); };
});

constexpr auto celu_op = unary<Domain::kFloat>([](const OpContext& ctx, auto tag) {
  using C = typename decltype(tag)::type;
  const C alpha = attr_as<C>(ctx, "alpha", 1.0f);
  return [alpha](C v) -> C { return v > C(0) ? v : alpha * std::expm1(v / alpha); };
});

constexpr auto hard_sigmoid_op = unary<Domain::kFloat>([](const OpContext& ctx, auto tag) {
  using C = typename decltype(tag)::type;
  const C alpha = attr_as<C>(ctx, "alpha", 0.2f);
  const C beta = attr_as<C>(ctx, "beta", 0.5f);
  return [alpha, beta](C v) -> C { return std::clamp(alpha * v + beta, C(0), C(1)); };
});

constexpr auto thresholded_relu_op = unary<Domain::kFloat>([](const OpContext& ctx, auto tag) {
  using C = typename decltype(tag)::type;
  const C alpha = attr_as<C>(ctx, "alpha", 1.0f);
  return [alpha](C v) -> C { return v > alpha ? v : C(0); };
});

// ------------------------------------------------------------------ IsNaN, IsInf

template <typename Pred>
Status float_test(OpContext& ctx, Pred pred) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  return visit_any(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (!is_float_v<T>) {
      return ctx.unsupported("element type " + dtype_str(x.dtype()) + " is not supported");
    } else {
      Tensor y(DType::kBool, x.shape());
      map_elements<T, Bool>(x, y, [pred](storage_t<T> v) -> uint8_t { return pred(load<T>(v)); });
      ctx.outputs[0] = std::move(y);
      return Status::Ok();
    }
  });
}

Status is_nan_op(OpContext& ctx) {
  return float_test(ctx, [](auto v) { return std::isnan(v); });
}

Status is_inf_op(OpContext& ctx) {
  const bool pos = ctx.node.attr_int("detect_positive", 1) != 0;
  const bool neg = ctx.node.attr_int("detect_negative", 1) != 0;
  return float_test(ctx, [pos, neg](auto v) { return std::isinf(v) && (v > 0 ? pos : neg); });
}

// ------------------------------------------------------------------ Clip

template <typename T>
Status clip_input_bound(const OpContext& ctx, size_t i, compute_t<T>* out) {
  if (!has_input(ctx, i)) return Status::Ok();
  const Tensor& t = *ctx.input(i);
  const char* name = i == 1 ? "min" : "max";
  if (t.dtype() != ctx.input(0)->dtype()) {
    return ctx.invalid(std::string(name) + " has type " + dtype_str(t.dtype()) + ", input has " +
                       dtype_str(ctx.input(0)->dtype()));
  }
  if (t.numel() != 1) {
    return ctx.invalid(std::string(name) + " must be a scalar, got shape " + shape_str(t.shape()));
  }
  *out = load<T>(t.data<storage_t<T>>()[0]);
  return Status::Ok();
}

// Bounds are float attributes before opset 11 and optional scalar inputs of x's type from 11.
template <bool kInputBounds>
Status clip_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, kInputBounds ? 3 : 1));
  const Tensor& x = *ctx.input(0);
  return visit_any(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using C = compute_t<T>;
    if constexpr (std::is_same_v<T, Bool>) {
      return ctx.unsupported("element type bool is not supported");
    } else {
      C lo = std::numeric_limits<C>::lowest(), hi = std::numeric_limits<C>::max();
      if constexpr (kInputBounds) {
        QT_RETURN_IF_ERROR(clip_input_bound<T>(ctx, 1, &lo));
        QT_RETURN_IF_ERROR(clip_input_bound<T>(ctx, 2, &hi));
      } else if constexpr (std::is_floating_point_v<C>) {  // the float range by default
        lo = static_cast<C>(ctx.node.attr_float("min", std::numeric_limits<float>::lowest()));
        hi = static_cast<C>(ctx.node.attr_float("max", std::numeric_limits<float>::max()));
      } else {
        return ctx.unsupported("integer Clip needs opset 12 or later");
      }
      Tensor y(x.dtype(), x.shape());
      // min(max(x, lo), hi): yields hi everywhere when lo > hi, and keeps NaN, as the spec says.
      map_elements<T, T>(x, y, [lo, hi](storage_t<T> s) {
        C v = load<T>(s);
        v = v < lo ? lo : v;
        return store<T>(v > hi ? hi : v);
      });
      ctx.outputs[0] = std::move(y);
      return Status::Ok();
    }
  });
}

std::vector<DType> float_and_signed_types() {
  return {DType::kF32, DType::kF64, DType::kF16, DType::kBF16,
          DType::kS8,  DType::kS16, DType::kS32, DType::kS64};
}

}  // namespace

void register_math_kernels(KernelRegistry& r) {
  const auto& F = kFloatTypes;
  // Plain float formulas: one registration from the first opset without legacy attributes.
  struct Formula {
    const char* op;
    int since;
    OpFn fn;
  };
  const Formula formulas[] = {
      {"Reciprocal", 6, QT_FLOAT_UNARY(C(1) / v)},
      {"Floor", 6, QT_FLOAT_UNARY(std::floor(v))},
      {"Ceil", 6, QT_FLOAT_UNARY(std::ceil(v))},
      {"Round", 11, QT_FLOAT_UNARY(std::nearbyint(v))},  // ties to even in the default mode
      {"Exp", 6, QT_FLOAT_UNARY(std::exp(v))},
      {"Log", 6, QT_FLOAT_UNARY(std::log(v))},
      {"Sqrt", 6, QT_FLOAT_UNARY(std::sqrt(v))},
      {"Sin", 7, QT_FLOAT_UNARY(std::sin(v))},
      {"Cos", 7, QT_FLOAT_UNARY(std::cos(v))},
      {"Tan", 7, QT_FLOAT_UNARY(std::tan(v))},
      {"Asin", 7, QT_FLOAT_UNARY(std::asin(v))},
      {"Acos", 7, QT_FLOAT_UNARY(std::acos(v))},
      {"Atan", 7, QT_FLOAT_UNARY(std::atan(v))},
      {"Sinh", 9, QT_FLOAT_UNARY(std::sinh(v))},
      {"Cosh", 9, QT_FLOAT_UNARY(std::cosh(v))},
      {"Asinh", 9, QT_FLOAT_UNARY(std::asinh(v))},
      {"Acosh", 9, QT_FLOAT_UNARY(std::acosh(v))},
      {"Atanh", 9, QT_FLOAT_UNARY(std::atanh(v))},
      {"Sigmoid", 6, QT_FLOAT_UNARY(C(1) / (C(1) + std::exp(-v)))},
      {"Tanh", 6, QT_FLOAT_UNARY(std::tanh(v))},
      {"Softsign", 1, QT_FLOAT_UNARY(v / (C(1) + std::fabs(v)))},
      // max(x, 0) + log1p(exp(-|x|)) == log(exp(x) + 1) without overflowing for large x.
      {"Softplus", 1, QT_FLOAT_UNARY(std::max(v, C(0)) + std::log1p(std::exp(-std::fabs(v))))},
      {"HardSwish", 14, QT_FLOAT_UNARY(v * std::clamp(v / C(6) + C(0.5), C(0), C(1)))},
  };
  for (const auto& f : formulas) r.add({"", f.op, f.since, kLatestOpset, F}, f.fn);

  r.add({"", "Abs", 6, kLatestOpset, kNumericTypes}, abs_op);
  r.add({"", "Neg", 6, kLatestOpset, float_and_signed_types()}, neg_op);
  r.add({"", "Sign", 9, kLatestOpset, kNumericTypes}, sign_op);
  r.add({"", "Erf", 9, kLatestOpset, kNumericTypes}, erf_op);
  r.add({"", "IsNaN", 9, kLatestOpset, F}, is_nan_op);
  r.add({"", "IsInf", 10, kLatestOpset, F}, is_inf_op);
  r.add({"", "Relu", 6, kLatestOpset, float_and_signed_types()}, relu_op);
  r.add({"", "LeakyRelu", 6, kLatestOpset, F}, leaky_relu_op);
  r.add({"", "Elu", 6, kLatestOpset, F}, elu_op);
  r.add({"", "Selu", 6, kLatestOpset, F}, selu_op);
  r.add({"", "Celu", 12, kLatestOpset, {DType::kF32}}, celu_op);
  r.add({"", "HardSigmoid", 6, kLatestOpset, F}, hard_sigmoid_op);
  r.add({"", "ThresholdedRelu", 10, kLatestOpset, F}, thresholded_relu_op);
  r.add({"", "Shrink", 9, kLatestOpset, kNumericTypes}, shrink_op);
  r.add({"", "Clip", 6, 10, F}, clip_op<false>);
  r.add({"", "Clip", 11, 11, F}, clip_op<true>);
  r.add({"", "Clip", 12, kLatestOpset, kNumericTypes}, clip_op<true>);
}

}  // namespace qtune
