// Comparison, boolean and bitwise operators: Equal, Greater, Less, GreaterOrEqual, LessOrEqual
// (bool outputs, numpy broadcasting), And/Or/Xor/Not on bool tensors, and BitShift on unsigned
// integers. Comparisons read f16/bf16 as f32 (exact) and every other type natively.
#include <string>
#include <type_traits>

#include "runtime/op_util.h"

namespace qtune {
namespace {

// out[i] = f(a[i], b[i]) over the broadcast output; A/O are element tags, f sees storage values.
template <typename A, typename O, typename F>
Status broadcast_binary(OpContext& ctx, DType out_type, F f) {
  const Tensor& a = *ctx.input(0);
  const Tensor& b = *ctx.input(1);
  BroadcastPlan p;
  if (!make_broadcast_plan({a.shape(), b.shape()}, &p)) {
    return ctx.invalid("input shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                       " do not broadcast");
  }
  Tensor y(out_type, p.out_shape);
  const storage_t<A>* pa = a.data<storage_t<A>>();
  const storage_t<A>* pb = b.data<storage_t<A>>();
  storage_t<O>* po = y.data<storage_t<O>>();
  const int64_t sa = p.inner_stride(0), sb = p.inner_stride(1);
  for_each_broadcast_run(p, [&](int64_t o, const int64_t* off, int64_t n) {
    const storage_t<A>* xa = pa + off[0];
    const storage_t<A>* xb = pb + off[1];
    for (int64_t i = 0; i < n; ++i) po[o + i] = f(xa[i * sa], xb[i * sb]);
  });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

Status need_two_of_one_type(const OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 2));
  if (ctx.input(0)->dtype() != ctx.input(1)->dtype()) {
    return ctx.invalid("inputs have different element types " + dtype_str(ctx.input(0)->dtype()) +
                       " and " + dtype_str(ctx.input(1)->dtype()));
  }
  return Status::Ok();
}

// ------------------------------------------------------------------ comparisons

enum class Cmp { kEq, kGt, kLt, kGe, kLe };

template <Cmp kOp, typename V>
bool compare(V x, V y) {
  if constexpr (kOp == Cmp::kEq) return x == y;
  if constexpr (kOp == Cmp::kGt) return x > y;
  if constexpr (kOp == Cmp::kLt) return x < y;
  if constexpr (kOp == Cmp::kGe) return x >= y;
  if constexpr (kOp == Cmp::kLe) return x <= y;
}

template <Cmp kOp>
Status compare_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_two_of_one_type(ctx));
  return visit_any(ctx.input(0)->dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    using S = storage_t<T>;
    if constexpr (std::is_same_v<T, F16> || std::is_same_v<T, BF16>) {
      return broadcast_binary<T, Bool>(ctx, DType::kBool, [](S x, S y) -> uint8_t {
        return compare<kOp>(load_as_double<T>(x), load_as_double<T>(y));
      });
    } else if constexpr (std::is_same_v<T, Bool>) {
      return broadcast_binary<T, Bool>(ctx, DType::kBool, [](S x, S y) -> uint8_t {
        return compare<kOp>(x != 0, y != 0);
      });
    } else {
      return broadcast_binary<T, Bool>(ctx, DType::kBool,
                                       [](S x, S y) -> uint8_t { return compare<kOp>(x, y); });
    }
  });
}

// ------------------------------------------------------------------ boolean logic

enum class Logic { kAnd, kOr, kXor };

template <Logic kOp>
Status logic_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_two_of_one_type(ctx));
  return broadcast_binary<Bool, Bool>(ctx, DType::kBool, [](uint8_t x, uint8_t y) -> uint8_t {
    const bool a = x != 0, b = y != 0;
    if constexpr (kOp == Logic::kAnd) return a && b;
    if constexpr (kOp == Logic::kOr) return a || b;
    if constexpr (kOp == Logic::kXor) return a != b;
  });
}

Status not_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  Tensor y(DType::kBool, x.shape());
  const uint8_t* in = x.data<uint8_t>();
  uint8_t* out = y.data<uint8_t>();
  parallel_ranges(x.numel(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) out[i] = in[i] == 0;
  });
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------ BitShift

// Shifting by the bit width or more gives 0 (a plain C++ shift would be undefined).
template <bool kLeft>
Status bit_shift_typed(OpContext& ctx) {
  return visit_numeric(ctx.input(0)->dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (!std::is_unsigned_v<T>) {
      return ctx.unsupported("element type " + dtype_str(ctx.input(0)->dtype()) +
                             " is not supported");
    } else {
      return broadcast_binary<T, T>(ctx, ctx.input(0)->dtype(), [](T x, T s) -> T {
        if (s >= sizeof(T) * 8) return T(0);
        return kLeft ? static_cast<T>(x << s) : static_cast<T>(x >> s);
      });
    }
  });
}

Status bit_shift_op(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_two_of_one_type(ctx));
  const std::string direction = ctx.node.attr_string("direction", "");
  if (direction == "LEFT") return bit_shift_typed<true>(ctx);
  if (direction == "RIGHT") return bit_shift_typed<false>(ctx);
  return ctx.invalid("direction must be \"LEFT\" or \"RIGHT\", got \"" + direction + "\"");
}

}  // namespace

void register_logical_kernels(KernelRegistry& r) {
  const std::vector<DType> b = {DType::kBool};
  r.add({"", "Equal", 7, kLatestOpset, kAllTypes}, compare_op<Cmp::kEq>);
  r.add({"", "Greater", 7, kLatestOpset, kNumericTypes}, compare_op<Cmp::kGt>);
  r.add({"", "Less", 7, kLatestOpset, kNumericTypes}, compare_op<Cmp::kLt>);
  r.add({"", "GreaterOrEqual", 12, kLatestOpset, kNumericTypes}, compare_op<Cmp::kGe>);
  r.add({"", "LessOrEqual", 12, kLatestOpset, kNumericTypes}, compare_op<Cmp::kLe>);
  r.add({"", "And", 7, kLatestOpset, b}, logic_op<Logic::kAnd>);
  r.add({"", "Or", 7, kLatestOpset, b}, logic_op<Logic::kOr>);
  r.add({"", "Xor", 7, kLatestOpset, b}, logic_op<Logic::kXor>);
  r.add({"", "Not", 1, kLatestOpset, b}, not_op);
  r.add({"", "BitShift", 11, kLatestOpset, {DType::kU8, DType::kU16, DType::kU32, DType::kU64}},
        bit_shift_op);
}

}  // namespace qtune
