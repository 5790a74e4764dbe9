// Broadcasting element-wise operators: Add/Sub/Mul/Div, Pow, Mod, PRelu, the variadic Sum, Mean,
// Max and Min, and Where; plus the type and value plumbing ops Cast, CastLike, Identity and
// Constant. Integers compute exactly in their own type (wrapping like two's complement hardware);
// f16/bf16 compute in f32 and round once.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "kernels/cpu_features.h"
#include "runtime/op_util.h"

namespace qtune {
namespace {

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

Status need_same_types(const OpContext& ctx) {
  const DType t = ctx.input(0)->dtype();
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (ctx.input(i) && ctx.input(i)->dtype() != t) {
      return ctx.invalid("inputs have different element types " + dtype_str(t) + " and " +
                         dtype_str(ctx.input(i)->dtype()));
    }
  }
  return Status::Ok();
}

Status plan_for(const OpContext& ctx, const std::vector<Shape>& shapes, BroadcastPlan* plan) {
  if (make_broadcast_plan(shapes, plan)) return Status::Ok();
  std::string s;
  for (const auto& sh : shapes) s += (s.empty() ? "" : " and ") + shape_str(sh);
  return ctx.invalid("input shapes " + s + " do not broadcast");
}

// Runs `fn` with input 1 viewed under `shape` (same elements, e.g. a channel vector as [C,1,1]).
Status with_input1_shape(OpContext& ctx, const Shape& shape, const OpFn& fn) {
  const Tensor view = ctx.input(1)->reshaped(shape);
  OpContext sub{ctx.node, ctx.opset, {ctx.input(0), &view}, {}, nullptr, {}};
  sub.outputs.resize(ctx.outputs.size());
  QT_RETURN_IF_ERROR(fn(sub));
  ctx.outputs = std::move(sub.outputs);
  return Status::Ok();
}

// Opsets 1-6 of the binary arithmetic ops: shapes must be equal unless `broadcast` is 1; then B
// is a scalar or matches a contiguous run of A's dims starting at `axis` (default: A's trailing
// dims) and repeats over the rest.
OpFn legacy_broadcast(OpFn fn) {
  return [fn](OpContext& ctx) -> Status {
    QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
    const Shape& a = ctx.input(0)->shape();
    const Shape& b = ctx.input(1)->shape();
    if (ctx.node.attr_int("broadcast", 0) == 0) {
      if (a != b) {
        return ctx.invalid("input shapes " + shape_str(a) + " and " + shape_str(b) +
                           " differ and attribute broadcast is 0");
      }
      return fn(ctx);
    }
    const int64_t ra = static_cast<int64_t>(a.size()), rb = static_cast<int64_t>(b.size());
    Shape view(a.size(), 1);
    if (shape_numel(b) != 1) {
      const int64_t axis = ctx.node.attr_int("axis", ra - rb);
      if (axis < 0 || axis + rb > ra) {
        return ctx.invalid("B of shape " + shape_str(b) + " does not fit A of shape " +
                           shape_str(a) + " at axis " + std::to_string(axis));
      }
      for (int64_t k = 0; k < rb; ++k) {
        if (b[k] != a[axis + k] && b[k] != 1) {
          return ctx.invalid("B of shape " + shape_str(b) + " does not match A of shape " +
                             shape_str(a) + " at axis " + std::to_string(axis));
        }
        view[axis + k] = b[k];
      }
    }
    return with_input1_shape(ctx, view, fn);
  };
}

// ------------------------------------------------------------------ binary loops

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

// A same-type binary op with numpy broadcasting: `make(ctx, b, TypeTag<T>{})` checks the divisor
// or attributes and returns the element function on plain numeric T (half types go via f32).
template <typename Make>
constexpr auto same_type_binary(Make make) {
  return [make](OpContext& ctx) -> Status {
    QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
    QT_RETURN_IF_ERROR(need_same_types(ctx));
    return run_in_f32(ctx, [&](OpContext& c) -> Status {
      const Tensor& a = *c.input(0);
      const Tensor& b = *c.input(1);
      BroadcastPlan plan;
      QT_RETURN_IF_ERROR(plan_for(c, {a.shape(), b.shape()}, &plan));
      return visit_numeric(a.dtype(), c, [&](auto tag) -> Status {
        using T = typename decltype(tag)::type;
        auto f = make(c, b, tag);
        if (!f.ok()) return f.status();
        Tensor y(a.dtype(), plan.out_shape);
        binary_loop(a.data<T>(), b.data<T>(), y.data<T>(), plan, *f);
        c.outputs[0] = std::move(y);
        return Status::Ok();
      });
    });
  };
}

// ------------------------------------------------------------------ Add, Sub, Mul, Div

enum class Arith { kAdd, kSub, kMul, kDiv };

// Zero divisors would trap; rejecting them up front keeps the loops branch-light.
template <typename T>
Status check_divisor(const OpContext& ctx, const Tensor& b) {
  if constexpr (std::is_integral_v<T>) {
    const T* d = b.data<T>();
    for (int64_t i = 0; i < b.numel(); ++i) {
      if (d[i] == T(0)) return ctx.invalid("integer division by zero");
    }
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
Status arith_typed(OpContext& ctx) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  BroadcastPlan plan;
  QT_RETURN_IF_ERROR(plan_for(ctx, {a.shape(), b.shape()}, &plan));
  return visit_numeric(a.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (kOp == Arith::kDiv) QT_RETURN_IF_ERROR(check_divisor<T>(ctx, b));
    Tensor y(a.dtype(), plan.out_shape);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
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

template <Arith kOp>
Status arith(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  QT_RETURN_IF_ERROR(need_same_types(ctx));
  return run_in_f32(ctx, arith_typed<kOp>);
}

// ------------------------------------------------------------------ Pow

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

// The output has the base's type. Before opset 12 base and exponent share one type.
template <bool kMixedTypes>
Status pow_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  if constexpr (!kMixedTypes) QT_RETURN_IF_ERROR(need_same_types(ctx));
  return run_in_f32(ctx, [](OpContext& c) -> Status {
    const Tensor& a = *c.input(0);
    const Tensor& b = *c.input(1);
    BroadcastPlan plan;
    QT_RETURN_IF_ERROR(plan_for(c, {a.shape(), b.shape()}, &plan));
    if (a.dtype() != DType::kF32 && a.dtype() != DType::kF64 && a.dtype() != DType::kS32 &&
        a.dtype() != DType::kS64) {
      return c.unsupported("base of element type " + dtype_str(a.dtype()) + " is not supported");
    }
    return visit_numeric(a.dtype(), c, [&](auto base_tag) -> Status {
      using T = typename decltype(base_tag)::type;
      return visit_numeric(b.dtype(), c, [&](auto exp_tag) -> Status {
        using E = typename decltype(exp_tag)::type;
        return pow_typed<T, E>(c, a, b, plan);
      });
    });
  });
}

// ------------------------------------------------------------------ Mod

// fmod=0: the result takes the divisor's sign (Python's %), integers only; fmod=1: C's fmod, the
// dividend's sign.
constexpr auto mod_op = same_type_binary([](const OpContext& ctx, const Tensor& b, auto tag) {
  using T = typename decltype(tag)::type;
  const bool c_fmod = ctx.node.attr_int("fmod", 0) != 0;
  using F = T (*)(T, T);
  auto fail = [](Status s) -> Result<F> { return s; };
  if constexpr (std::is_floating_point_v<T>) {
    if (!c_fmod) return fail(ctx.invalid("fmod must be 1 for floating-point inputs"));
    return Result<F>(F([](T x, T y) -> T { return std::fmod(x, y); }));
  } else {
    Status s = check_divisor<T>(ctx, b);
    if (!s.ok()) return fail(s);
    if constexpr (std::is_unsigned_v<T>) {
      return Result<F>(F([](T x, T y) -> T { return static_cast<T>(x % y); }));
    } else {
      // y == -1 is special-cased: INT_MIN % -1 traps.
      if (c_fmod) {
        return Result<F>(F([](T x, T y) -> T { return y == T(-1) ? T(0) : T(x % y); }));
      }
      return Result<F>(F([](T x, T y) -> T {
        if (y == T(-1)) return T(0);
        const T r = static_cast<T>(x % y);
        return (r != 0 && ((r < 0) != (y < 0))) ? static_cast<T>(r + y) : r;
      }));
    }
  }
});

// ------------------------------------------------------------------ PRelu

constexpr auto prelu_elements = same_type_binary([](const OpContext&, const Tensor&, auto tag) {
  using T = typename decltype(tag)::type;
  using F = T (*)(T, T);
  if constexpr (std::is_unsigned_v<T>) {
    return Result<F>(F([](T x, T) -> T { return x; }));  // never negative
  } else if constexpr (std::is_floating_point_v<T>) {
    return Result<F>(F([](T x, T s) -> T { return x < T(0) ? x * s : x; }));
  } else {
    return Result<F>(F([](T x, T s) -> T { return x < T(0) ? wrap_mul<T>(x, s) : x; }));
  }
});

// y = x < 0 ? slope * x : x, the slope broadcasting to X (unidirectionally) from opset 7.
Status prelu_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  Shape out;
  if (!broadcast_shape({ctx.input(0)->shape(), ctx.input(1)->shape()}, &out) ||
      out != ctx.input(0)->shape()) {
    return ctx.invalid("slope of shape " + shape_str(ctx.input(1)->shape()) +
                       " does not broadcast to X of shape " + shape_str(ctx.input(0)->shape()));
  }
  return prelu_elements(ctx);
}

// Before opset 7 a 1-D slope of X's channel count applies per channel (axis 1), as the exporters
// of that time wrote it; a one-element slope is shared.
Status prelu_channel_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  const Tensor& x = *ctx.input(0);
  const Tensor& slope = *ctx.input(1);
  if (slope.numel() == 1) return with_input1_shape(ctx, {}, prelu_op);
  if (slope.rank() == 1 && x.rank() >= 2 && slope.dim(0) == x.dim(1)) {
    Shape per_channel(static_cast<size_t>(x.rank() - 1), 1);
    per_channel[0] = slope.dim(0);
    return with_input1_shape(ctx, per_channel, prelu_op);
  }
  return prelu_op(ctx);
}

// ------------------------------------------------------------------ Sum, Mean, Max, Min

enum class Fold { kSum, kMean, kMax, kMin };

template <Fold kOp, typename T>
T fold_apply(T acc, T x) {
  if constexpr (kOp == Fold::kSum || kOp == Fold::kMean) {
    if constexpr (std::is_floating_point_v<T>) return acc + x;
    else return wrap_add<T>(acc, x);
  } else {
    if constexpr (std::is_floating_point_v<T>) {  // NaN wins, as numpy's maximum/minimum
      if (std::isnan(acc) || std::isnan(x)) return std::isnan(acc) ? acc : x;
    }
    if constexpr (kOp == Fold::kMax) return x > acc ? x : acc;
    else return x < acc ? x : acc;
  }
}

// acc = f(acc, x) over the output, x broadcast into it.
template <typename T, typename F>
void fold_into(T* acc, const Shape& out_shape, const Tensor& x, F f) {
  BroadcastPlan p;
  make_broadcast_plan({out_shape, x.shape()}, &p);
  const T* px = x.data<T>();
  const int64_t sx = p.inner_stride(1);
  for_each_broadcast_run(p, [&](int64_t o, const int64_t* off, int64_t n) {
    T* a = acc + o;
    const T* xx = px + off[1];
    for (int64_t i = 0; i < n; ++i) a[i] = f(a[i], xx[i * sx]);
  });
}

// Variadic Sum/Mean/Max/Min; before opset 8 all inputs have one shape, from 8 they broadcast.
template <Fold kOp, bool kBroadcast>
Status fold_typed(OpContext& ctx) {
  std::vector<Shape> shapes;
  for (const Tensor* t : ctx.inputs) shapes.push_back(t->shape());
  Shape out;
  if (!broadcast_shape(shapes, &out) ||
      (!kBroadcast && std::any_of(shapes.begin(), shapes.end(),
                                  [&](const Shape& s) { return s != shapes[0]; }))) {
    std::string s;
    for (const auto& sh : shapes) s += (s.empty() ? "" : " and ") + shape_str(sh);
    return ctx.invalid("input shapes " + s + (kBroadcast ? " do not broadcast" : " differ"));
  }
  const Tensor& first = *ctx.input(0);
  return visit_numeric(first.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    Tensor y(first.dtype(), out);
    T* acc = y.data<T>();
    fold_into(acc, out, first, [](T, T x) { return x; });
    for (size_t k = 1; k < ctx.num_inputs(); ++k) {
      fold_into(acc, out, *ctx.input(k), [](T a, T x) { return fold_apply<kOp, T>(a, x); });
    }
    if constexpr (kOp == Fold::kMean) {
      const T n = static_cast<T>(ctx.num_inputs());
      parallel_ranges(y.numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) acc[i] /= n;
      });
    }
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

template <Fold kOp, bool kBroadcast>
Status fold_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, ctx.num_inputs()));
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.input(i)) return ctx.invalid("input " + std::to_string(i) + " is missing");
  }
  QT_RETURN_IF_ERROR(need_same_types(ctx));
  return run_in_f32(ctx, fold_typed<kOp, kBroadcast>);
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
    return ctx.invalid("condition must be bool, got " + dtype_str(c.dtype()));
  }
  if (x.dtype() != y.dtype()) {
    return ctx.invalid("X and Y have different element types " + dtype_str(x.dtype()) + " and " +
                       dtype_str(y.dtype()));
  }
  BroadcastPlan plan;
  QT_RETURN_IF_ERROR(plan_for(ctx, {c.shape(), x.shape(), y.shape()}, &plan));
  Tensor out(x.dtype(), plan.out_shape);
  QT_RETURN_IF_ERROR(visit_by_size(x.dtype(), ctx, [&](auto tag) -> Status {
    where_loop<typename decltype(tag)::type>(c, x, y, out, plan);  // only bytes move
    return Status::Ok();
  }));
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
    return store_float<D>(load_as_double<S>(v));
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

// A number as text the way NumPy's astype(str) writes it (the ONNX reference): the shortest
// digits that read back to the same value, positional for 1e-4 <= |v| < 1e16, else scientific.
template <typename V>
std::string number_text(V v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const double a = std::fabs(static_cast<double>(v));
  const bool positional = a == 0.0 || (a >= 1e-4 && a < 1e16);
  auto r = std::to_chars(buf, buf + sizeof buf, v,
                         positional ? std::chars_format::fixed : std::chars_format::scientific);
  std::string t(buf, r.ptr);
  // NumPy keeps a fractional part on whole floats ("1.0") and writes exponents with at least
  // two digits ("1e-05"), which to_chars also does.
  if (positional && t.find('.') == std::string::npos) t += ".0";
  return t;
}

// Numbers from text as NumPy reads them: decimal or scientific, "nan", "inf" in any case with an
// optional sign. Anything else is invalid input naming the element.
Result<double> text_number(const OpContext& ctx, const std::string& s, int64_t i) {
  const char* begin = s.c_str();
  char* end = nullptr;
  const double v = std::strtod(begin, &end);
  if (end == begin || *end != '\0') {
    return ctx.invalid("element " + std::to_string(i) + " '" + s + "' is not a number");
  }
  return v;
}

Status cast_string(OpContext& ctx, const Tensor& x, DType to) {
  if (to == DType::kString) {
    Tensor y(DType::kString, x.shape());
    std::string* out = y.data<std::string>();
    QT_RETURN_IF_ERROR(visit_any(x.dtype(), ctx, [&](auto tag) -> Status {
      using S = typename decltype(tag)::type;
      const storage_t<S>* in = x.data<storage_t<S>>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        if constexpr (std::is_same_v<S, Bool>) {
          out[i] = in[i] ? "True" : "False";
        } else if constexpr (std::is_same_v<S, F16> || std::is_same_v<S, BF16> ||
                             std::is_same_v<S, float>) {
          out[i] = number_text(static_cast<float>(load_as_double<S>(in[i])));
        } else if constexpr (std::is_same_v<S, double>) {
          out[i] = number_text(in[i]);
        } else {
          out[i] = std::to_string(in[i]);
        }
      }
      return Status::Ok();
    }));
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  Tensor y(to, x.shape());
  const std::string* in = x.data<std::string>();
  QT_RETURN_IF_ERROR(visit_any(to, ctx, [&](auto tag) -> Status {
    using D = typename decltype(tag)::type;
    storage_t<D>* out = y.data<storage_t<D>>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      QT_ASSIGN_OR_RETURN(const double v, text_number(ctx, in[i], i));
      out[i] = convert<double, D>(v);
    }
    return Status::Ok();
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status cast_to(OpContext& ctx, const Tensor& x, DType to) {
  if (to == x.dtype()) {
    ctx.outputs[0] = x;
    return Status::Ok();
  }
  if (to == DType::kString || x.dtype() == DType::kString) return cast_string(ctx, x, to);
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

// Opset 1 names the target type as a string ("FLOAT"), opset 6 on as a TensorProto enum.
Status cast_named_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const std::string name = ctx.node.attr_string("to", "");
  if (name.empty()) return ctx.invalid("attribute 'to' is missing");
  DType to = DType::kUndefined;
  if (!dtype_from_name(name, &to)) {
    return ctx.unsupported("cast to '" + name + "' is not supported");
  }
  return cast_to(ctx, *ctx.input(0), to);
}

Status cast_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  if (!ctx.node.has_attr("to")) return ctx.invalid("attribute 'to' is missing");
  const int64_t onnx_type = ctx.node.attr_int("to", 0);
  DType to = DType::kUndefined;
  if (!dtype_from_onnx(static_cast<int32_t>(onnx_type), &to)) {
    return ctx.unsupported("cast to ONNX element type " + std::to_string(onnx_type) +
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

// Opset 12 added value_float(s), value_int(s) and value_string(s) beside value/sparse_value.
template <bool kScalarAttrs>
Status constant_op(OpContext& ctx) {
  if (ctx.num_inputs() != 0) return ctx.invalid("expects no inputs");
  if (ctx.outputs.empty()) return ctx.invalid("has no output");
  const auto& attrs = ctx.node.attrs;
  if (attrs.size() != 1) {
    return ctx.invalid("needs exactly one value attribute, got " + std::to_string(attrs.size()));
  }
  const auto& [key, a] = *attrs.begin();
  if (!kScalarAttrs && key != "value" && key != "sparse_value") {
    return ctx.invalid("attribute '" + key + "' needs opset 12 or later");
  }
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
  const auto& F = kFloatTypes;
  r.add({"", "Add", 1, 6, kNumericTypes}, legacy_broadcast(arith<Arith::kAdd>));
  r.add({"", "Add", 7, kLatestOpset, kNumericTypes}, arith<Arith::kAdd>);
  r.add({"", "Sub", 1, 6, kNumericTypes}, legacy_broadcast(arith<Arith::kSub>));
  r.add({"", "Sub", 7, kLatestOpset, kNumericTypes}, arith<Arith::kSub>);
  r.add({"", "Mul", 1, 6, kNumericTypes}, legacy_broadcast(arith<Arith::kMul>));
  r.add({"", "Mul", 7, kLatestOpset, kNumericTypes}, arith<Arith::kMul>);
  r.add({"", "Div", 1, 6, kNumericTypes}, legacy_broadcast(arith<Arith::kDiv>));
  r.add({"", "Div", 7, kLatestOpset, kNumericTypes}, arith<Arith::kDiv>);
  const std::vector<DType> pow_bases = {DType::kF32, DType::kF64, DType::kF16, DType::kBF16,
                                        DType::kS32, DType::kS64};
  r.add({"", "Pow", 1, 6, pow_bases}, legacy_broadcast(pow_op<false>));
  r.add({"", "Pow", 7, 11, pow_bases}, pow_op<false>);
  r.add({"", "Pow", 12, kLatestOpset, pow_bases}, pow_op<true>);
  r.add({"", "Mod", 10, kLatestOpset, kNumericTypes}, mod_op);
  const std::vector<DType> prelu_types = {DType::kF32, DType::kF64, DType::kF16, DType::kBF16,
                                          DType::kS32, DType::kS64, DType::kU32, DType::kU64};
  r.add({"", "PRelu", 6, 6, prelu_types}, prelu_channel_op);
  r.add({"", "PRelu", 7, kLatestOpset, prelu_types}, prelu_op);
  r.add({"", "Sum", 6, 7, F}, fold_op<Fold::kSum, false>);
  r.add({"", "Sum", 8, kLatestOpset, F}, fold_op<Fold::kSum, true>);
  r.add({"", "Mean", 6, 7, F}, fold_op<Fold::kMean, false>);
  r.add({"", "Mean", 8, kLatestOpset, F}, fold_op<Fold::kMean, true>);
  r.add({"", "Max", 6, 7, F}, fold_op<Fold::kMax, false>);
  r.add({"", "Max", 8, 11, F}, fold_op<Fold::kMax, true>);
  r.add({"", "Max", 12, kLatestOpset, kNumericTypes}, fold_op<Fold::kMax, true>);
  r.add({"", "Min", 6, 7, F}, fold_op<Fold::kMin, false>);
  r.add({"", "Min", 8, 11, F}, fold_op<Fold::kMin, true>);
  r.add({"", "Min", 12, kLatestOpset, kNumericTypes}, fold_op<Fold::kMin, true>);
  r.add({"", "Where", 9, kLatestOpset, kAllTypes, /*type_input=*/1}, where_op);
  std::vector<DType> with_strings = kAllTypes;
  with_strings.push_back(DType::kString);
  r.add({"", "Cast", 1, 5, kAllTypes}, cast_named_op);
  r.add({"", "Cast", 6, kLatestOpset, with_strings}, cast_op);
  r.add({"", "CastLike", 15, kLatestOpset, with_strings}, cast_like_op);
  // Any value: tensors of every type, strings, and (from opset 14/16) sequences and optionals.
  r.add({"", "Identity", 1, kLatestOpset, {}}, identity_op);
  r.add({"", "Constant", 1, 11}, constant_op<false>);
  r.add({"", "Constant", 12, kLatestOpset}, constant_op<true>);
}

}  // namespace qtune
