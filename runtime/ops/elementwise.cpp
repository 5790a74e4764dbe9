// Element-wise operators of the fp32 reference runtime: activations, broadcasting arithmetic,
// Where, Cast, Identity and Constant. Semantics follow the ONNX operator specs (opset 13, plus the
// older attribute forms the backend tests still use).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "runtime/broadcast.h"
#include "runtime/kernel_registry.h"
#include "kernels/cpu_features.h"

namespace qtune {
namespace {

template <typename T>
struct TypeTag {
  using type = T;
};
// Element types without a C++ arithmetic type of their own (storage is uint16_t / uint8_t).
struct F16 {};
struct BF16 {};
struct Bool {};

std::string type_name(DType t) { return std::string(dtype_name(t)); }

// Calls fn(TypeTag<T>{}) for the C++ type of a plain numeric dtype (no f16/bf16/bool).
template <typename Fn>
Status visit_numeric(DType t, const OpContext& ctx, Fn&& fn) {
  switch (t) {
    case DType::kF32: return fn(TypeTag<float>{});
    case DType::kF64: return fn(TypeTag<double>{});
    case DType::kU8: return fn(TypeTag<uint8_t>{});
    case DType::kS8: return fn(TypeTag<int8_t>{});
    case DType::kU16: return fn(TypeTag<uint16_t>{});
    case DType::kS16: return fn(TypeTag<int16_t>{});
    case DType::kS32: return fn(TypeTag<int32_t>{});
    case DType::kS64: return fn(TypeTag<int64_t>{});
    case DType::kU32: return fn(TypeTag<uint32_t>{});
    case DType::kU64: return fn(TypeTag<uint64_t>{});
    default: return ctx.unsupported("element type " + type_name(t) + " is not supported");
  }
}

// Every dtype qtune stores, with F16/BF16/Bool tags for the ones that need special conversion.
template <typename Fn>
Status visit_any(DType t, const OpContext& ctx, Fn&& fn) {
  switch (t) {
    case DType::kF16: return fn(TypeTag<F16>{});
    case DType::kBF16: return fn(TypeTag<BF16>{});
    case DType::kBool: return fn(TypeTag<Bool>{});
    default: return visit_numeric(t, ctx, fn);
  }
}

template <typename T> struct Storage { using type = T; };
template <> struct Storage<F16> { using type = uint16_t; };
template <> struct Storage<BF16> { using type = uint16_t; };
template <> struct Storage<Bool> { using type = uint8_t; };
template <typename T> using storage_t = typename Storage<T>::type;

template <typename T>
constexpr bool is_float_v = std::is_floating_point_v<T> || std::is_same_v<T, F16> ||
                            std::is_same_v<T, BF16>;

// Integer arithmetic wraps (two's complement) as in ONNX Runtime; doing it in a wide unsigned
// type avoids signed-overflow UB and the int promotion of 16-bit operands.
template <typename T>
using wide_unsigned_t =
    std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;

template <typename T> T wrap_add(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) + static_cast<U>(b));
}
template <typename T> T wrap_sub(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) - static_cast<U>(b));
}
template <typename T> T wrap_mul(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(a) * static_cast<U>(b));
}

// Float to integer without UB: NaN becomes 0, out-of-range values saturate, the rest truncate.
template <typename T>
T saturate_cast(double v) {
  if (std::isnan(v)) return 0;
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest())) {
    return std::numeric_limits<T>::lowest();
  }
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

// ------------------------------------------------------------------ input checks

Status need_inputs(const OpContext& ctx, size_t min, size_t max) {
  const size_t n = ctx.num_inputs();
  if (n < min || n > max) {
    const std::string range =
        min == max ? std::to_string(min) : std::to_string(min) + " to " + std::to_string(max);
    return ctx.invalid("expects " + range + " inputs, got " + std::to_string(n));
  }
  for (size_t i = 0; i < min; ++i) {
    if (!ctx.input(i)) return ctx.invalid("required input " + std::to_string(i) + " is missing");
  }
  if (ctx.outputs.empty()) return ctx.invalid("has no output");
  return Status::Ok();
}

Status plan_for(const OpContext& ctx, const std::vector<Shape>& shapes, BroadcastPlan* plan) {
  if (make_broadcast_plan(shapes, plan)) return Status::Ok();
  std::string s;
  for (const auto& sh : shapes) s += (s.empty() ? "" : " and ") + shape_str(sh);
  return ctx.invalid("input shapes " + s + " do not broadcast");
}

// ------------------------------------------------------------------ unary

template <typename T, typename F>
void unary_loop(const Tensor& x, Tensor& y, F f) {
  const T* __restrict in = x.data<T>();
  T* __restrict out = y.data<T>();
  parallel_ranges(x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = f(in[i]);
  });
}

// Registers a float-only unary op; `make` returns the per-element function for type T.
template <typename Make>
OpFn float_unary(Make make) {
  return [make](OpContext& ctx) -> Status {
    QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
    const Tensor& x = *ctx.input(0);
    auto run = [&](auto tag) -> Status {
      using T = typename decltype(tag)::type;
      Tensor y(x.dtype(), x.shape());
      unary_loop<T>(x, y, make(ctx, TypeTag<T>{}));
      ctx.outputs[0] = std::move(y);
      return Status::Ok();
    };
    if (x.dtype() == DType::kF32) return run(TypeTag<float>{});
    if (x.dtype() == DType::kF64) return run(TypeTag<double>{});
    return ctx.unsupported("element type " + type_name(x.dtype()) + " is not supported");
  };
}

// erf for f32 as the rational approximation Eigen and XLA use: |error| < 5e-7 everywhere, and
// beyond +-4 erf is +-1 in f32 anyway. Written on GCC vector types because std::erf does not
// vectorise and GELU applies it to every MLP activation. The AVX-512 build may fuse
// multiply-adds, so the two paths can differ in the last bit or two.
// GCC warns about the ABI of 64-byte vector arguments when it instantiates the templates below
// outside AVX-512 code; no such call survives inlining, so the warning is noise (it is emitted
// at the end of the file, hence no push/pop).
#pragma GCC diagnostic ignored "-Wpsabi"
using V4f = float __attribute__((vector_size(16)));
using V16f = float __attribute__((vector_size(64)));

template <typename V>
[[gnu::always_inline]] inline V erf_rational(V a) {
  const V hi = V{} + 4.0f;  // a splat for vectors, plain 4 for scalars
  V x = a > hi ? hi : a;    // NaN fails both tests and stays NaN
  x = x < -hi ? -hi : x;
  const V x2 = x * x;
  V p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  V q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return x * p / q;
}

template <typename V>
[[gnu::always_inline]] inline void erf_span(const float* in, float* out, int64_t n) {
  constexpr int64_t kLanes = sizeof(V) / sizeof(float);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    V v;
    std::memcpy(&v, in + i, sizeof v);
    v = erf_rational(v);
    std::memcpy(out + i, &v, sizeof v);
  }
  for (; i < n; ++i) out[i] = erf_rational(in[i]);
}

void erf_span_sse(const float* in, float* out, int64_t n) { erf_span<V4f>(in, out, n); }
__attribute__((target("avx512f"))) void erf_span_avx512(const float* in, float* out, int64_t n) {
  erf_span<V16f>(in, out, n);
}

Status erf_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  if (x.dtype() != DType::kF32 && x.dtype() != DType::kF64) {
    return ctx.unsupported("element type " + type_name(x.dtype()) + " is not supported");
  }
  Tensor y(x.dtype(), x.shape());
  if (x.dtype() == DType::kF32) {
    const float* in = x.data<float>();
    float* out = y.data<float>();
    const auto span = cpu_features().avx512f ? erf_span_avx512 : erf_span_sse;
    parallel_ranges(x.numel(), [&](int64_t b, int64_t e) { span(in + b, out + b, e - b); });
  } else {
    unary_loop<double>(x, y, [](double v) { return std::erf(v); });
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status relu(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  return visit_numeric(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_unsigned_v<T>) {
      ctx.outputs[0] = x;  // already non-negative
    } else {
      Tensor y(x.dtype(), x.shape());
      unary_loop<T>(x, y, [](T v) { return v < T(0) ? T(0) : v; });  // NaN passes through
      ctx.outputs[0] = std::move(y);
    }
    return Status::Ok();
  });
}

// Reads a Clip bound given as an input: a scalar (or one-element tensor) of x's type.
template <typename T>
Status clip_bound(const OpContext& ctx, size_t i, DType want, T* out) {
  const Tensor* t = ctx.input(i);
  if (!t) return Status::Ok();
  if (t->dtype() != want) {
    return ctx.invalid(std::string(i == 1 ? "min" : "max") + " has type " + type_name(t->dtype()) +
                       ", input has " + type_name(want));
  }
  if (t->numel() != 1) {
    return ctx.invalid(std::string(i == 1 ? "min" : "max") + " must be a scalar, got shape " +
                       shape_str(t->shape()));
  }
  *out = t->data<T>()[0];
  return Status::Ok();
}

Status clip(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 3));
  const Tensor& x = *ctx.input(0);
  const bool attr_form = ctx.opset < 11;  // min/max moved from attributes to inputs in opset 11
  if (attr_form && ctx.num_inputs() != 1) return ctx.invalid("expects 1 input before opset 11");
  switch (x.dtype()) {
    case DType::kF32: case DType::kF64: case DType::kS8: case DType::kU8: case DType::kS32:
    case DType::kS64:
      break;
    default:
      return ctx.unsupported("element type " + type_name(x.dtype()) + " is not supported");
  }
  return visit_numeric(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    T lo = std::numeric_limits<T>::lowest();
    T hi = std::numeric_limits<T>::max();
    if (attr_form) {
      if constexpr (std::is_floating_point_v<T>) {
        lo = static_cast<T>(ctx.node.attr_float("min", std::numeric_limits<float>::lowest()));
        hi = static_cast<T>(ctx.node.attr_float("max", std::numeric_limits<float>::max()));
      } else {
        return ctx.unsupported("integer Clip needs opset 11 or later");
      }
    } else {
      QT_RETURN_IF_ERROR(clip_bound<T>(ctx, 1, x.dtype(), &lo));
      QT_RETURN_IF_ERROR(clip_bound<T>(ctx, 2, x.dtype(), &hi));
    }
    Tensor y(x.dtype(), x.shape());
    // min(max(x, lo), hi): yields hi everywhere when lo > hi, and keeps NaN, as the spec says.
    unary_loop<T>(x, y, [lo, hi](T v) {
      v = v < lo ? lo : v;
      return v > hi ? hi : v;
    });
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

// ------------------------------------------------------------------ binary

// One loop per input-stride pattern, so the common cases (same shape, scalar operand, broadcast
// row) are plain vectorisable loops.
template <typename A, typename B, typename O, typename F>
[[gnu::always_inline]] inline void binary_run(const A* __restrict pa, const B* __restrict pb,
                                              O* __restrict po, int64_t n, bool a_runs,
                                              bool b_runs, F f) {
  if (a_runs && b_runs) {
    for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
  } else if (a_runs) {
    const B bv = *pb;
    for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], bv);
  } else if (b_runs) {
    const A av = *pa;
    for (int64_t i = 0; i < n; ++i) po[i] = f(av, pb[i]);
  } else {
    const O v = f(*pa, *pb);
    for (int64_t i = 0; i < n; ++i) po[i] = v;
  }
}

template <typename A, typename B, typename O, typename F>
void binary_loop(const A* a, const B* b, O* out, const BroadcastPlan& p, F f) {
  const bool a_runs = p.inner_stride(0) == 1, b_runs = p.inner_stride(1) == 1;
  for_each_broadcast_run(p, [&](int64_t o, const int64_t* off, int64_t n) {
    binary_run(a + off[0], b + off[1], out + o, n, a_runs, b_runs, f);
  });
}

enum class Arith { kAdd, kSub, kMul, kDiv };

template <typename T>
Status check_divisor(const OpContext& ctx, const Tensor& b) {
  const T* d = b.data<T>();
  for (int64_t i = 0; i < b.numel(); ++i) {
    if (d[i] == T(0)) return ctx.invalid("integer division by zero");
  }
  return Status::Ok();
}

template <Arith kOp, typename T>
[[gnu::always_inline]] inline T arith_apply(T x, T z) {
  if constexpr (std::is_floating_point_v<T>) {
    if constexpr (kOp == Arith::kAdd) return x + z;
    if constexpr (kOp == Arith::kSub) return x - z;
    if constexpr (kOp == Arith::kMul) return x * z;
    if constexpr (kOp == Arith::kDiv) return x / z;
  } else {
    if constexpr (kOp == Arith::kAdd) return wrap_add<T>(x, z);
    if constexpr (kOp == Arith::kSub) return wrap_sub<T>(x, z);
    if constexpr (kOp == Arith::kMul) return wrap_mul<T>(x, z);
    if constexpr (kOp == Arith::kDiv) {
      if constexpr (std::is_signed_v<T>) {
        if (z == T(-1)) return wrap_sub<T>(T(0), x);  // INT_MIN / -1 traps too
      }
      return static_cast<T>(x / z);  // C++ truncates toward zero, like ONNX
    }
  }
}

template <Arith kOp>
struct ArithFn {
  template <typename T>
  [[gnu::always_inline]] T operator()(T x, T z) const { return arith_apply<kOp, T>(x, z); }
};

// f32 arithmetic, the bulk of a transformer's element-wise work, also gets an AVX-512 build of
// its inner loops, picked at run time. Single IEEE operations, so both builds agree bit for bit.
template <Arith kOp>
void f32_arith_run(const float* a, const float* b, float* o, int64_t n, bool ar, bool br) {
  binary_run(a, b, o, n, ar, br, ArithFn<kOp>{});
}
template <Arith kOp>
__attribute__((target("avx512f"))) void f32_arith_run_avx512(const float* a, const float* b,
                                                             float* o, int64_t n, bool ar,
                                                             bool br) {
  binary_run(a, b, o, n, ar, br, ArithFn<kOp>{});
}

template <Arith kOp>
Status arith(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  if (a.dtype() != b.dtype()) {
    return ctx.invalid("inputs have different element types " + type_name(a.dtype()) + " and " +
                       type_name(b.dtype()));
  }
  BroadcastPlan plan;
  QT_RETURN_IF_ERROR(plan_for(ctx, {a.shape(), b.shape()}, &plan));
  return visit_numeric(a.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    Tensor y(a.dtype(), plan.out_shape);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
    if constexpr (std::is_integral_v<T> && kOp == Arith::kDiv) {
      // Zero divisors would trap; rejecting them up front keeps the loop branch-light.
      QT_RETURN_IF_ERROR(check_divisor<T>(ctx, b));
    }
    if constexpr (std::is_same_v<T, float>) {
      const auto run = cpu_features().avx512f ? f32_arith_run_avx512<kOp> : f32_arith_run<kOp>;
      const bool ar = plan.inner_stride(0) == 1, br = plan.inner_stride(1) == 1;
      for_each_broadcast_run(plan, [&](int64_t o, const int64_t* off, int64_t n) {
        run(pa + off[0], pb + off[1], py + o, n, ar, br);
      });
    } else {
      binary_loop(pa, pb, py, plan, ArithFn<kOp>{});
    }
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

// Integer power by squaring, wrapping on overflow; negative exponents truncate 1/x^n toward 0.
template <typename T, typename E>
T int_pow(T base, E exp) {
  if constexpr (std::is_signed_v<E>) {
    if (exp < 0) {
      if (base == T(1)) return T(1);
      if constexpr (std::is_signed_v<T>) {
        if (base == T(-1)) return (exp % 2 == 0) ? T(1) : T(-1);
      }
      return T(0);
    }
  }
  using U = std::make_unsigned_t<E>;
  U e = static_cast<U>(exp);
  T result = T(1);
  while (e) {
    if (e & 1u) result = wrap_mul<T>(result, base);
    base = wrap_mul<T>(base, base);
    e >>= 1;
  }
  return result;
}

template <typename T, typename E>
Status pow_typed(OpContext& ctx, const Tensor& a, const Tensor& b, const BroadcastPlan& plan) {
  Tensor y(a.dtype(), plan.out_shape);
  const T* pa = a.data<T>();
  const E* pb = b.data<E>();
  T* py = y.data<T>();
  if constexpr (std::is_floating_point_v<T> && std::is_same_v<T, E>) {
    if (b.numel() == 1 && pb[0] == T(2)) {  // x^2 (variance in decomposed LayerNorm): exact
      binary_loop(pa, pb, py, plan, [](T x, T) { return x * x; });
    } else {
      binary_loop(pa, pb, py, plan, [](T x, T e) { return static_cast<T>(std::pow(x, e)); });
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    binary_loop(pa, pb, py, plan, [](T x, E e) {
      return static_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(e)));
    });
  } else if constexpr (std::is_integral_v<E>) {
    binary_loop(pa, pb, py, plan, [](T x, E e) { return int_pow<T, E>(x, e); });
  } else {
    binary_loop(pa, pb, py, plan, [](T x, E e) {
      return saturate_cast<T>(std::pow(static_cast<double>(x), static_cast<double>(e)));
    });
  }
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// Pow: the output has the base's type; the exponent may be any numeric type.
Status pow_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  BroadcastPlan plan;
  QT_RETURN_IF_ERROR(plan_for(ctx, {a.shape(), b.shape()}, &plan));
  switch (a.dtype()) {
    case DType::kF32: case DType::kF64: case DType::kS32: case DType::kS64: break;
    default: return ctx.unsupported("base of element type " + type_name(a.dtype()) +
                                    " is not supported");
  }
  return visit_numeric(a.dtype(), ctx, [&](auto base_tag) -> Status {
    using T = typename decltype(base_tag)::type;
    return visit_numeric(b.dtype(), ctx, [&](auto exp_tag) -> Status {
      using E = typename decltype(exp_tag)::type;
      return pow_typed<T, E>(ctx, a, b, plan);
    });
  });
}

// ------------------------------------------------------------------ Where

template <typename T>
void where_loop(const Tensor& c, const Tensor& x, const Tensor& y, Tensor& out,
                const BroadcastPlan& p) {
  const uint8_t* pc = c.data<uint8_t>();
  const T* px = x.data<T>();
  const T* py = y.data<T>();
  T* po = out.data<T>();
  const int64_t sc = p.inner_stride(0), sx = p.inner_stride(1), sy = p.inner_stride(2);
  for_each_broadcast_run(p, [&](int64_t o, const int64_t* off, int64_t n) {
    const uint8_t* cc = pc + off[0];
    const T* xx = px + off[1];
    const T* yy = py + off[2];
    for (int64_t i = 0; i < n; ++i) po[o + i] = cc[i * sc] ? xx[i * sx] : yy[i * sy];
  });
}

Status where_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 3, 3));
  const Tensor& c = *ctx.input(0);
  const Tensor& x = *ctx.input(1);
  const Tensor& y = *ctx.input(2);
  if (c.dtype() != DType::kBool) {
    return ctx.invalid("condition must be bool, got " + type_name(c.dtype()));
  }
  if (x.dtype() != y.dtype()) {
    return ctx.invalid("X and Y have different element types " + type_name(x.dtype()) + " and " +
                       type_name(y.dtype()));
  }
  BroadcastPlan plan;
  QT_RETURN_IF_ERROR(plan_for(ctx, {c.shape(), x.shape(), y.shape()}, &plan));
  Tensor out(x.dtype(), plan.out_shape);
  switch (dtype_size(x.dtype())) {  // only bytes move, so the element size is all that matters
    case 1: where_loop<uint8_t>(c, x, y, out, plan); break;
    case 2: where_loop<uint16_t>(c, x, y, out, plan); break;
    case 4: where_loop<uint32_t>(c, x, y, out, plan); break;
    case 8: where_loop<uint64_t>(c, x, y, out, plan); break;
    default: return ctx.unsupported("element type " + type_name(x.dtype()) + " is not supported");
  }
  ctx.outputs[0] = std::move(out);
  return Status::Ok();
}

// ------------------------------------------------------------------ Cast

// double -> float rounding to odd, so that a second rounding to f16 equals one direct rounding.
float f64_to_f32_round_odd(double d) {
  float f = static_cast<float>(d);
  if (std::isfinite(f) && static_cast<double>(f) != d) {
    if (std::fabs(static_cast<double>(f)) > std::fabs(d)) f = std::nextafter(f, 0.0f);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    u |= 1u;
    std::memcpy(&f, &u, 4);
  }
  return f;
}

// FLOAT -> BFLOAT16 truncates: the ONNX 1.12 reference (and its backend test data) keeps the top
// 16 bits. NaN stays a quiet NaN rather than truncating to inf.
uint16_t f32_to_bf16_truncate(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40u);
  return static_cast<uint16_t>(u >> 16);
}

template <typename S>
double load_float(storage_t<S> v) {
  if constexpr (std::is_same_v<S, F16>) return f16_to_f32(v);
  else if constexpr (std::is_same_v<S, BF16>) return bf16_to_f32(v);
  else return static_cast<double>(v);
}

template <typename D>
storage_t<D> store_float(double v) {
  if constexpr (std::is_same_v<D, F16>) return f32_to_f16(f64_to_f32_round_odd(v));
  else if constexpr (std::is_same_v<D, BF16>) return f32_to_bf16_truncate(static_cast<float>(v));
  else if constexpr (std::is_same_v<D, Bool>) return v != 0.0 ? 1 : 0;  // NaN is true, as numpy
  else if constexpr (std::is_floating_point_v<D>) return static_cast<D>(v);
  else return saturate_cast<D>(v);
}

template <typename S, typename D>
storage_t<D> convert(storage_t<S> v) {
  if constexpr (is_float_v<S>) {
    return store_float<D>(load_float<S>(v));
  } else if constexpr (std::is_same_v<D, Bool>) {
    return v != 0 ? 1 : 0;
  } else if constexpr (std::is_same_v<S, Bool>) {
    if constexpr (is_float_v<D>) return store_float<D>(v ? 1.0 : 0.0);
    else return static_cast<D>(v ? 1 : 0);
  } else if constexpr (is_float_v<D>) {
    return store_float<D>(static_cast<double>(v));
  } else {
    return static_cast<D>(v);  // integer to integer wraps modulo 2^n (C++20), like numpy astype
  }
}

bool dtype_from_name(const std::string& s, DType* out) {
  static const std::pair<const char*, DType> kNames[] = {
      {"FLOAT", DType::kF32},   {"UINT8", DType::kU8},    {"INT8", DType::kS8},
      {"UINT16", DType::kU16},  {"INT16", DType::kS16},   {"INT32", DType::kS32},
      {"INT64", DType::kS64},   {"BOOL", DType::kBool},   {"FLOAT16", DType::kF16},
      {"DOUBLE", DType::kF64},  {"UINT32", DType::kU32},  {"UINT64", DType::kU64},
      {"BFLOAT16", DType::kBF16}};
  for (const auto& [name, t] : kNames) {
    if (s == name) {
      *out = t;
      return true;
    }
  }
  return false;
}

Status cast_to(OpContext& ctx, const Tensor& x, DType to) {
  if (to == x.dtype()) {
    ctx.outputs[0] = x;
    return Status::Ok();
  }
  Tensor y(to, x.shape());
  Status s = visit_any(x.dtype(), ctx, [&](auto src_tag) -> Status {
    using S = typename decltype(src_tag)::type;
    return visit_any(to, ctx, [&](auto dst_tag) -> Status {
      using D = typename decltype(dst_tag)::type;
      const storage_t<S>* in = x.data<storage_t<S>>();
      storage_t<D>* out = y.data<storage_t<D>>();
      parallel_ranges(x.numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[i] = convert<S, D>(in[i]);
      });
      return Status::Ok();
    });
  });
  if (!s.ok()) return s;
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status cast_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  auto it = ctx.node.attrs.find("to");
  if (it == ctx.node.attrs.end()) return ctx.invalid("attribute 'to' is missing");
  DType to = DType::kUndefined;
  if (it->second.kind == Attribute::Kind::kString) {  // opset 1 names the type as a string
    if (!dtype_from_name(it->second.s, &to)) {
      return ctx.unsupported("cast to '" + it->second.s + "' is not supported");
    }
  } else if (!dtype_from_onnx(static_cast<int32_t>(it->second.i), &to)) {
    return ctx.unsupported("cast to ONNX element type " + std::to_string(it->second.i) +
                           " is not supported");
  }
  return cast_to(ctx, *ctx.input(0), to);
}

Status cast_like_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  return cast_to(ctx, *ctx.input(0), ctx.input(1)->dtype());
}

// ------------------------------------------------------------------ Identity, Constant

Status identity_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  ctx.outputs[0] = *ctx.input(0);  // shares storage; nobody writes into op outputs in place
  return Status::Ok();
}

Status constant_op(OpContext& ctx) {
  if (ctx.num_inputs() != 0) return ctx.invalid("expects no inputs");
  if (ctx.outputs.empty()) return ctx.invalid("has no output");
  const auto& attrs = ctx.node.attrs;
  if (attrs.size() != 1) {
    return ctx.invalid("needs exactly one value attribute, got " + std::to_string(attrs.size()));
  }
  const auto& [key, a] = *attrs.begin();
  if (key == "value" && a.kind == Attribute::Kind::kTensor) {
    ctx.outputs[0] = a.t;
  } else if (key == "value_float" && a.kind == Attribute::Kind::kFloat) {
    ctx.outputs[0] = Tensor::scalar_f32(a.f);
  } else if (key == "value_floats" && a.kind == Attribute::Kind::kFloats) {
    Tensor t(DType::kF32, {static_cast<int64_t>(a.floats.size())});
    std::copy(a.floats.begin(), a.floats.end(), t.data<float>());
    ctx.outputs[0] = std::move(t);
  } else if (key == "value_int" && a.kind == Attribute::Kind::kInt) {
    ctx.outputs[0] = Tensor::from_i64({}, {a.i});
  } else if (key == "value_ints" && a.kind == Attribute::Kind::kInts) {
    Tensor t(DType::kS64, {static_cast<int64_t>(a.ints.size())});
    std::copy(a.ints.begin(), a.ints.end(), t.data<int64_t>());
    ctx.outputs[0] = std::move(t);
  } else if (key == "sparse_value" || key == "value_string" || key == "value_strings") {
    return ctx.unsupported("attribute '" + key + "' is not supported");
  } else {
    return ctx.invalid("unexpected attribute '" + key + "'");
  }
  return Status::Ok();
}

}  // namespace

void register_elementwise_kernels(KernelRegistry& r) {
  r.add({"", "Relu", 1}, relu);
  r.add({"", "Clip", 1}, clip);
  r.add({"", "LeakyRelu", 6}, float_unary([](const OpContext& ctx, auto tag) {
          using T = typename decltype(tag)::type;
          const T alpha = static_cast<T>(ctx.node.attr_float("alpha", 0.01f));
          return [alpha](T v) { return v < T(0) ? v * alpha : v; };
        }));
  r.add({"", "Sigmoid", 6}, float_unary([](const OpContext&, auto tag) {
          using T = typename decltype(tag)::type;
          return [](T v) { return T(1) / (T(1) + std::exp(-v)); };
        }));
  r.add({"", "Tanh", 6}, float_unary([](const OpContext&, auto tag) {
          using T = typename decltype(tag)::type;
          return [](T v) { return std::tanh(v); };
        }));
  r.add({"", "Erf", 9}, erf_op);
  r.add({"", "Sqrt", 6}, float_unary([](const OpContext&, auto tag) {
          using T = typename decltype(tag)::type;
          return [](T v) { return std::sqrt(v); };
        }));
  r.add({"", "Add", 1}, arith<Arith::kAdd>);
  r.add({"", "Sub", 1}, arith<Arith::kSub>);
  r.add({"", "Mul", 1}, arith<Arith::kMul>);
  r.add({"", "Div", 1}, arith<Arith::kDiv>);
  r.add({"", "Pow", 1}, pow_op);
  r.add({"", "Where", 9}, where_op);
  r.add({"", "Cast", 1}, cast_op);
  r.add({"", "CastLike", 15}, cast_like_op);
  r.add({"", "Identity", 1}, identity_op);
  r.add({"", "Constant", 1}, constant_op);
}

}  // namespace qtune
