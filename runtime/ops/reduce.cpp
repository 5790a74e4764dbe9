// Reductions: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare over any set of axes
// and ArgMax/ArgMin along one axis, for every element type their schemas allow. Floating inputs
// accumulate in double, integers in 64 bits with wrap-around, so results do not depend on threads.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "runtime/op_util.h"

namespace qtune {
namespace {

// Accumulator of element type T: double for floating types, 64-bit integers otherwise.
template <typename T>
using acc_t = std::conditional_t<is_float_v<T>, double,
                                 std::conditional_t<std::is_signed_v<storage_t<T>>, int64_t,
                                                    uint64_t>>;

template <typename T>
acc_t<T> load(storage_t<T> v) {
  if constexpr (is_float_v<T>) return load_as_double<T>(v);
  else return static_cast<acc_t<T>>(v);
}

template <typename T, typename V>
storage_t<T> store(V v) {
  if constexpr (is_float_v<T>) return store_from_double<T>(static_cast<double>(v));
  else if constexpr (std::is_floating_point_v<V>) return saturate_cast<storage_t<T>>(v);
  else return static_cast<storage_t<T>>(v);  // modular, as the integer arithmetic of the schema
}

// Integer sums and products wrap (two's complement) instead of overflowing.
template <typename A>
A add(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  } else {
    return a + b;
  }
}
template <typename A>
A mul(A a, A b) {
  if constexpr (std::is_integral_v<A>) {
    return static_cast<A>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  } else {
    return a * b;
  }
}
template <typename A>
A absolute(A v) {
  if constexpr (std::is_floating_point_v<A>) return std::fabs(v);
  else if constexpr (std::is_signed_v<A>) {
    return v < 0 ? static_cast<A>(0 - static_cast<uint64_t>(v)) : v;
  }
  else return v;
}

// Each reducer folds values of accumulator type A: init, step (one value), merge (two partial
// results) and finish (the folded count is known there).
struct SumR {
  template <typename A> using Acc = A;
  template <typename A> static A init() { return A{0}; }
  template <typename A> static void step(A& acc, A v) { acc = add(acc, v); }
  template <typename A> static void merge(A& acc, A b) { acc = add(acc, b); }
  template <typename A> static A finish(A acc, int64_t) { return acc; }
};
struct MeanR : SumR {
  template <typename A> static auto finish(A acc, int64_t n) {
    if constexpr (std::is_integral_v<A>) {
      return n == 0 ? A{0} : static_cast<A>(acc / static_cast<A>(n));
    } else {
      return acc / static_cast<double>(n);  // empty: 0/0 = NaN
    }
  }
};
struct SumSquareR : SumR {
  template <typename A> static void step(A& acc, A v) { acc = add(acc, mul(v, v)); }
};
struct L1R : SumR {
  template <typename A> static void step(A& acc, A v) { acc = add(acc, absolute(v)); }
};
struct L2R : SumSquareR {
  template <typename A> static double finish(A acc, int64_t) {
    return std::sqrt(static_cast<double>(acc));
  }
};
struct LogSumR : SumR {
  template <typename A> static double finish(A acc, int64_t) {
    return std::log(static_cast<double>(acc));
  }
};
struct ProdR {
  template <typename A> using Acc = A;
  template <typename A> static A init() { return A{1}; }
  template <typename A> static void step(A& acc, A v) { acc = mul(acc, v); }
  template <typename A> static void merge(A& acc, A b) { acc = mul(acc, b); }
  template <typename A> static A finish(A acc, int64_t) { return acc; }
};
// Max/Min propagate NaN as numpy does; an empty reduction yields the type's lowest (highest)
// value, -inf (+inf) for floating types.
template <bool kMax>
struct ExtremeR {
  template <typename A> using Acc = A;
  template <typename A> static A init() {
    if constexpr (std::is_floating_point_v<A>) {
      return kMax ? -std::numeric_limits<A>::infinity() : std::numeric_limits<A>::infinity();
    } else {
      return kMax ? std::numeric_limits<A>::lowest() : std::numeric_limits<A>::max();
    }
  }
  template <typename A> static void step(A& acc, A v) {
    if constexpr (std::is_floating_point_v<A>) {
      if (!std::isnan(acc) && ((kMax ? v > acc : v < acc) || std::isnan(v))) acc = v;
    } else if (kMax ? v > acc : v < acc) {
      acc = v;
    }
  }
  template <typename A> static void merge(A& acc, A b) { step(acc, b); }
  template <typename A> static A finish(A acc, int64_t) { return acc; }
};
// log(sum(exp(x))) in one pass: a running maximum and the sum of exp(x - maximum).
struct LogSumExpR {
  struct State {
    double max, sum;
  };
  template <typename A> using Acc = State;
  template <typename A> static State init() {
    return {-std::numeric_limits<double>::infinity(), 0.0};
  }
  static void add_scaled(State& s, double m, double sum) {
    if (sum == 0.0) return;
    if (std::isnan(m) || m > s.max) {
      s.sum = s.sum * std::exp(s.max - m) + sum;
      s.max = m;
    } else {
      s.sum += sum * std::exp(m - s.max);
    }
  }
  template <typename A> static void step(State& s, A v) {
    const double d = static_cast<double>(v);
    if (d == -std::numeric_limits<double>::infinity()) return;  // adds exp(-inf) = 0
    add_scaled(s, d, 1.0);
  }
  template <typename A> static void merge(State& s, State b) { add_scaled(s, b.max, b.sum); }
  template <typename A> static double finish(State s, int64_t) {
    return s.sum == 0.0 ? -std::numeric_limits<double>::infinity() : s.max + std::log(s.sum);
  }
};

// Where the folded elements of each output lie. When the reduced axes form one block (after
// dropping size-1 dims), x is [outer, count, inner]; otherwise each output starts at the offset
// of its kept index and folds the elements at `red_offsets` from there.
struct ReduceGeometry {
  Shape out_shape;
  int64_t out_numel = 0, count = 1;
  bool block = false;
  int64_t outer = 1, inner = 1;
  std::vector<int64_t> kept_dims, kept_strides, red_offsets;
};

ReduceGeometry reduce_geometry(const Shape& s, const std::vector<bool>& reduce, bool keepdims) {
  ReduceGeometry g;
  const size_t rank = s.size();
  const std::vector<int64_t> stride = contiguous_strides(s);
  std::vector<int64_t> red_dims, red_strides;
  int first = -1, last = -1;
  bool split = false;
  for (size_t i = 0; i < rank; ++i) {
    if (reduce[i]) {
      g.count *= s[i];
      if (keepdims) g.out_shape.push_back(1);
      if (s[i] == 1) continue;
      red_dims.push_back(s[i]);
      red_strides.push_back(stride[i]);
      if (first >= 0 && last + 1 < static_cast<int>(i)) {
        for (int k = last + 1; k < static_cast<int>(i); ++k) split |= s[k] != 1;
      }
      if (first < 0) first = static_cast<int>(i);
      last = static_cast<int>(i);
    } else {
      g.out_shape.push_back(s[i]);
      g.kept_dims.push_back(s[i]);
      g.kept_strides.push_back(stride[i]);
    }
  }
  g.out_numel = shape_numel(g.out_shape);
  g.block = !split;
  if (g.block) {
    if (first < 0) first = last = static_cast<int>(rank);  // nothing of size > 1 is reduced
    g.outer = dims_product(s, 0, static_cast<size_t>(first));
    g.inner = dims_product(s, static_cast<size_t>(last) + 1, rank);
    return g;
  }
  g.red_offsets.assign(static_cast<size_t>(g.count), 0);
  std::vector<int64_t> idx(red_dims.size(), 0);
  for (int64_t j = 0, off = 0; j < g.count; ++j) {
    g.red_offsets[static_cast<size_t>(j)] = off;
    for (size_t k = idx.size(); k-- > 0;) {
      off += red_strides[k];
      if (++idx[k] < red_dims[k]) break;
      off -= red_dims[k] * red_strides[k];
      idx[k] = 0;
    }
  }
  return g;
}

template <typename T, typename R>
void run_reduce(const ReduceGeometry& g, const storage_t<T>* x, storage_t<T>* y) {
  using A = acc_t<T>;
  using Acc = typename R::template Acc<A>;
  const int64_t count = g.count, inner = g.inner;
  const int64_t work = std::max<int64_t>(count, 1);
  if (g.block && inner == 1) {
    parallel_ranges(g.outer, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const storage_t<T>* p = x + o * count;
        // Four partial results break the dependency chain of the fold.
        Acc a[4] = {R::template init<A>(), R::template init<A>(), R::template init<A>(),
                    R::template init<A>()};
        int64_t j = 0;
        for (; j + 4 <= count; j += 4) {
          for (int k = 0; k < 4; ++k) R::step(a[k], load<T>(p[j + k]));
        }
        for (; j < count; ++j) R::step(a[0], load<T>(p[j]));
        R::template merge<A>(a[0], a[1]);
        R::template merge<A>(a[2], a[3]);
        R::template merge<A>(a[0], a[2]);
        y[o] = store<T>(R::template finish<A>(a[0], count));
      }
    }, std::max<int64_t>(1, kMinParallelElements / work));
    return;
  }
  if (g.block) {
    // Rows of `inner` values folded together; long rows are split into column chunks so a
    // single outer row still spreads over threads.
    const int64_t chunk = std::min<int64_t>(inner, 1024);
    const int64_t chunks = (inner + chunk - 1) / chunk;
    parallel_ranges(g.outer * chunks, [&](int64_t t0, int64_t t1) {
      std::vector<Acc> acc(static_cast<size_t>(chunk));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t o = t / chunks, c0 = (t % chunks) * chunk;
        const int64_t c1 = std::min(inner, c0 + chunk);
        std::fill(acc.begin(), acc.end(), R::template init<A>());
        const storage_t<T>* p = x + o * count * inner;
        for (int64_t r = 0; r < count; ++r) {
          const storage_t<T>* row = p + r * inner;
          for (int64_t i = c0; i < c1; ++i) R::step(acc[i - c0], load<T>(row[i]));
        }
        for (int64_t i = c0; i < c1; ++i) {
          y[o * inner + i] = store<T>(R::template finish<A>(acc[i - c0], count));
        }
      }
    }, std::max<int64_t>(1, kMinParallelElements / (work * chunk)));
    return;
  }
  parallel_ranges(g.out_numel, [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      int64_t base = 0, rem = o;
      for (size_t k = g.kept_dims.size(); k-- > 0;) {
        base += (rem % g.kept_dims[k]) * g.kept_strides[k];
        rem /= g.kept_dims[k];
      }
      Acc acc = R::template init<A>();
      for (int64_t off : g.red_offsets) R::step(acc, load<T>(x[base + off]));
      y[o] = store<T>(R::template finish<A>(acc, count));
    }
  }, std::max<int64_t>(1, kMinParallelElements / work));
}

// Reduces input 0 over `axes` (all axes when empty, or identity when `noop` says so).
template <typename R>
Status reduce_over(OpContext& ctx, const std::vector<int64_t>& axes, bool noop) {
  const Tensor& x = *ctx.input(0);
  if (axes.empty() && noop) {
    ctx.outputs[0] = x;
    return Status::Ok();
  }
  const int64_t rank = x.rank();
  QT_ASSIGN_OR_RETURN(const std::vector<int64_t> norm, normalize_axes(ctx, axes, rank));
  std::vector<bool> reduce(static_cast<size_t>(rank), axes.empty());
  for (int64_t a : norm) reduce[static_cast<size_t>(a)] = true;
  const bool keepdims = ctx.node.attr_int("keepdims", 1) != 0;
  const ReduceGeometry g = reduce_geometry(x.shape(), reduce, keepdims);
  Tensor y(x.dtype(), g.out_shape);
  QT_RETURN_IF_ERROR(visit_any(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, Bool>) {
      return ctx.unsupported("bool input");
    } else {
      if (g.out_numel > 0) {
        run_reduce<T, R>(g, x.data<storage_t<T>>(), y.data<storage_t<T>>());
      }
      return Status::Ok();
    }
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// Opsets where the axes are an attribute (absent: every axis).
template <typename R>
Status reduce_attr_axes(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  return reduce_over<R>(ctx, ctx.node.attr_ints("axes"), false);
}

// ReduceSum from opset 13: optional axes input; empty axes reduce everything unless
// noop_with_empty_axes makes the op an identity.
Status reduce_sum_input_axes(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 2));
  std::vector<int64_t> axes;
  if (has_input(ctx, 1)) {
    QT_ASSIGN_OR_RETURN(axes, int_list_input(ctx, 1, "axes"));
  }
  return reduce_over<SumR>(ctx, axes, ctx.node.attr_int("noop_with_empty_axes", 0) != 0);
}

// ------------------------------------------------------------------ ArgMax / ArgMin

template <bool kMax, bool kSelectLastAttr>
Status arg_extreme(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  const int64_t rank = x.rank();
  if (rank == 0) return ctx.invalid("needs an input of rank 1 or more");
  QT_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, ctx.node.attr_int("axis", 0), rank));
  const bool last = kSelectLastAttr && ctx.node.attr_int("select_last_index", 0) != 0;
  const Shape& s = x.shape();
  const int64_t n = s[static_cast<size_t>(axis)];
  if (n == 0) return ctx.invalid("cannot take the index of an extreme along an empty axis");
  const int64_t outer = dims_product(s, 0, static_cast<size_t>(axis));
  const int64_t inner = dims_product(s, static_cast<size_t>(axis) + 1, s.size());
  Shape out_shape = s;
  if (ctx.node.attr_int("keepdims", 1) != 0) out_shape[static_cast<size_t>(axis)] = 1;
  else out_shape.erase(out_shape.begin() + axis);
  Tensor y(DType::kS64, out_shape);
  int64_t* yd = y.data<int64_t>();
  QT_RETURN_IF_ERROR(visit_any(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, Bool>) {
      return ctx.unsupported("bool input");
    } else {
      const storage_t<T>* xd = x.data<storage_t<T>>();
      parallel_ranges(outer * inner, [&](int64_t b, int64_t e) {
        for (int64_t t = b; t < e; ++t) {
          const storage_t<T>* p = xd + (t / inner) * n * inner + t % inner;
          acc_t<T> best = load<T>(p[0]);
          int64_t at = 0;
          for (int64_t j = 1; j < n; ++j) {
            const acc_t<T> v = load<T>(p[j * inner]);
            if constexpr (is_float_v<T>) {  // the first NaN wins, as in numpy
              if (std::isnan(best)) break;
              if (std::isnan(v)) {
                at = j;
                break;
              }
            }
            const bool better =
                kMax ? (last ? v >= best : v > best) : (last ? v <= best : v < best);
            if (better) {
              best = v;
              at = j;
            }
          }
          yd[t] = at;
        }
      }, std::max<int64_t>(1, kMinParallelElements / n));
      return Status::Ok();
    }
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

const std::vector<DType> kReduceTypes = {DType::kF32, DType::kF64, DType::kF16, DType::kBF16,
                                         DType::kS32, DType::kS64, DType::kU32, DType::kU64};
const std::vector<DType> kReduceExtremeTypes = {DType::kF32, DType::kF64, DType::kF16,
                                                DType::kBF16, DType::kS32, DType::kS64,
                                                DType::kU32, DType::kU64, DType::kS8,
                                                DType::kU8};
const std::vector<DType> kArgTypes = kNumericTypes;

}  // namespace

void register_reduce_kernels(KernelRegistry& r) {
  r.add({"", "ReduceSum", 1, 12, kReduceTypes}, reduce_attr_axes<SumR>);
  r.add({"", "ReduceSum", 13, kLatestOpset, kReduceTypes}, reduce_sum_input_axes);
  r.add({"", "ReduceMean", 1, kLatestOpset, kReduceTypes}, reduce_attr_axes<MeanR>);
  r.add({"", "ReduceMax", 1, kLatestOpset, kReduceExtremeTypes}, reduce_attr_axes<ExtremeR<true>>);
  r.add({"", "ReduceMin", 1, kLatestOpset, kReduceExtremeTypes}, reduce_attr_axes<ExtremeR<false>>);
  r.add({"", "ReduceProd", 1, kLatestOpset, kReduceTypes}, reduce_attr_axes<ProdR>);
  r.add({"", "ReduceL1", 1, kLatestOpset, kReduceTypes}, reduce_attr_axes<L1R>);
  r.add({"", "ReduceL2", 1, kLatestOpset, kReduceTypes}, reduce_attr_axes<L2R>);
  r.add({"", "ReduceLogSum", 1, kLatestOpset, kReduceTypes}, reduce_attr_axes<LogSumR>);
  r.add({"", "ReduceLogSumExp", 1, kLatestOpset, kReduceTypes}, reduce_attr_axes<LogSumExpR>);
  r.add({"", "ReduceSumSquare", 1, kLatestOpset, kReduceTypes}, reduce_attr_axes<SumSquareR>);
  r.add({"", "ArgMax", 1, 11, kArgTypes}, arg_extreme<true, false>);
  r.add({"", "ArgMax", 12, kLatestOpset, kArgTypes}, arg_extreme<true, true>);
  r.add({"", "ArgMin", 1, 11, kArgTypes}, arg_extreme<false, false>);
  r.add({"", "ArgMin", 12, kLatestOpset, kArgTypes}, arg_extreme<false, true>);
}

}  // namespace qtune
