// Linear algebra: Einsum (any equation: implicit or explicit output, ellipsis broadcasting,
// repeated labels as diagonals, sums over labels dropped from the output) and Det (batched
// determinants by LU decomposition). Accumulation is in double (64-bit for integers).
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "runtime/op_util.h"

namespace qtune {
namespace {

// ------------------------------------------------------------------------------------ Einsum

// Labels are letters; the ellipsis dims of an equation get labels 256, 257, ... from the left
// of the broadcast ellipsis shape, so they never clash with letters.
constexpr int kEllipsisLabel = 256;

struct EinsumTerm {
  std::vector<int> labels;  // letters, and -1 where the ellipsis stands
  bool has_ellipsis = false;
};

// Parses "ab,b...->a..." style terms; false on a character that is not a letter, '.', ',' or
// a well-formed "->" / "...".
bool parse_term(const std::string& s, EinsumTerm* t) {
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == ' ') continue;
    if (c == '.') {
      if (t->has_ellipsis || s.compare(i, 3, "...") != 0) return false;
      t->has_ellipsis = true;
      t->labels.push_back(-1);
      i += 2;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      t->labels.push_back(static_cast<unsigned char>(c));
    } else {
      return false;
    }
  }
  return true;
}

struct EinsumPlan {
  std::vector<int64_t> out_dims, sum_dims;
  // [input][output label] and [input][summed label] element strides (0 where broadcast).
  std::vector<std::vector<int64_t>> out_strides, sum_strides;
  Shape out_shape;
};

Result<EinsumPlan> einsum_plan(const OpContext& ctx, const std::string& eq) {
  const size_t arrow = eq.find("->");
  const std::string lhs = eq.substr(0, arrow);
  const size_t n_in = ctx.num_inputs();
  std::vector<EinsumTerm> terms;
  size_t start = 0;
  for (;;) {
    const size_t comma = lhs.find(',', start);
    EinsumTerm t;
    const size_t len = comma == std::string::npos ? std::string::npos : comma - start;
    if (!parse_term(lhs.substr(start, len), &t)) {
      return ctx.invalid("equation '" + eq + "' is malformed");
    }
    terms.push_back(std::move(t));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != n_in) {
    return ctx.invalid("equation '" + eq + "' has " + std::to_string(terms.size()) +
                       " input terms for " + std::to_string(n_in) + " inputs");
  }
  // Each label's extent; ellipsis dims broadcast numpy-style, aligned right.
  std::map<int, int64_t> extent;
  std::map<int, int> uses;  // axes carrying each label, over all inputs
  int64_t ell_rank = 0;
  std::vector<std::vector<int>> axis_labels(n_in);
  for (size_t k = 0; k < n_in; ++k) {
    const Tensor& x = *ctx.input(k);
    const EinsumTerm& t = terms[k];
    const int64_t letters = static_cast<int64_t>(t.labels.size()) - (t.has_ellipsis ? 1 : 0);
    const int64_t ell = x.rank() - letters;
    if (ell < 0 || (!t.has_ellipsis && ell != 0)) {
      return ctx.invalid("input " + std::to_string(k) + " of shape " + shape_str(x.shape()) +
                         " does not match its equation term");
    }
    ell_rank = std::max(ell_rank, ell);
    for (int l : t.labels) {
      if (l < 0) {
        for (int64_t e = 0; e < ell; ++e) axis_labels[k].push_back(-static_cast<int>(ell - e));
      } else {
        axis_labels[k].push_back(l);
      }
    }
  }
  // Ellipsis axes were tagged -(distance from the ellipsis end, 1-based); turn them into labels
  // kEllipsisLabel + position within the broadcast ellipsis shape.
  for (size_t k = 0; k < n_in; ++k) {
    const Tensor& x = *ctx.input(k);
    for (size_t a = 0; a < axis_labels[k].size(); ++a) {
      int& l = axis_labels[k][a];
      if (l < 0) l = kEllipsisLabel + static_cast<int>(ell_rank) + l;
      const int64_t d = x.dim(static_cast<int64_t>(a));
      auto [it, fresh] = extent.emplace(l, d);
      if (!fresh && it->second != d) {
        if (l >= kEllipsisLabel && (d == 1 || it->second == 1)) {
          it->second = std::max(it->second, d);
        } else {
          return ctx.invalid("label of size " + std::to_string(d) + " and " +
                             std::to_string(it->second) + " in equation '" + eq + "'");
        }
      }
    }
    for (int l : axis_labels[k]) ++uses[l];
  }
  // Output labels: explicit, or the ellipsis dims then letters used once, in alphabetical order.
  std::vector<int> out_labels;
  if (arrow != std::string::npos) {
    EinsumTerm t;
    if (!parse_term(eq.substr(arrow + 2), &t)) {
      return ctx.invalid("equation '" + eq + "' is malformed");
    }
    for (int l : t.labels) {
      if (l < 0) {
        for (int64_t e = 0; e < ell_rank; ++e) {
          out_labels.push_back(kEllipsisLabel + static_cast<int>(e));
        }
      } else if (!extent.count(l)) {
        return ctx.invalid("output label '" + std::string(1, static_cast<char>(l)) +
                           "' is not in any input of '" + eq + "'");
      } else {
        out_labels.push_back(l);
      }
    }
    std::vector<int> sorted = out_labels;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) {
      return ctx.invalid("equation '" + eq + "' repeats an output label");
    }
  } else {
    for (int64_t e = 0; e < ell_rank; ++e) {
      out_labels.push_back(kEllipsisLabel + static_cast<int>(e));
    }
    for (const auto& [l, n] : uses) {
      if (l < kEllipsisLabel && n == 1) out_labels.push_back(l);
    }
  }
  std::vector<int> sum_labels;
  for (const auto& [l, d] : extent) {
    if (std::find(out_labels.begin(), out_labels.end(), l) == out_labels.end()) {
      sum_labels.push_back(l);
    }
  }
  EinsumPlan p;
  for (int l : out_labels) p.out_dims.push_back(extent[l]);
  for (int l : sum_labels) p.sum_dims.push_back(extent[l]);
  p.out_shape = p.out_dims;
  // A label's stride in an input is the sum over its axes (a diagonal when repeated); an axis of
  // size 1 under a larger extent is broadcast.
  for (size_t k = 0; k < n_in; ++k) {
    const Tensor& x = *ctx.input(k);
    const std::vector<int64_t> st = contiguous_strides(x.shape());
    std::map<int, int64_t> label_stride;
    for (size_t a = 0; a < axis_labels[k].size(); ++a) {
      const int l = axis_labels[k][a];
      if (x.dim(static_cast<int64_t>(a)) != 1 || extent[l] == 1) label_stride[l] += st[a];
    }
    auto strides_for = [&](const std::vector<int>& labels) {
      std::vector<int64_t> s;
      for (int l : labels) s.push_back(label_stride.count(l) ? label_stride[l] : 0);
      return s;
    };
    p.out_strides.push_back(strides_for(out_labels));
    p.sum_strides.push_back(strides_for(sum_labels));
  }
  return p;
}

template <typename T>
void run_einsum(const EinsumPlan& p, const std::vector<const storage_t<T>*>& in,
                storage_t<T>* out) {
  using A = std::conditional_t<
      is_float_v<T>, double,
      std::conditional_t<std::is_signed_v<storage_t<T>>, int64_t, uint64_t>>;
  const size_t n_in = in.size();
  const int64_t out_n = shape_numel(p.out_dims);
  const int64_t sum_n = shape_numel(p.sum_dims);
  auto load = [](storage_t<T> v) -> A {
    if constexpr (is_float_v<T>) return load_as_double<T>(v);
    else return static_cast<A>(v);
  };
  // Integer products and sums wrap instead of overflowing.
  auto mul = [](A a, A b) -> A {
    if constexpr (std::is_integral_v<A>) {
      return static_cast<A>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
    } else {
      return a * b;
    }
  };
  auto add = [](A a, A b) -> A {
    if constexpr (std::is_integral_v<A>) {
      return static_cast<A>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
    } else {
      return a + b;
    }
  };
  // The innermost summed label is a tight strided loop; the other summed labels step an
  // odometer between runs of it.
  const size_t n_sum = p.sum_dims.size();
  const int64_t run_len = n_sum == 0 ? 1 : p.sum_dims.back();
  const int64_t runs = run_len == 0 ? 0 : sum_n / run_len;
  std::vector<int64_t> run_stride(n_in, 0);
  for (size_t k = 0; k < n_in && n_sum > 0; ++k) run_stride[k] = p.sum_strides[k].back();
  parallel_ranges(out_n, [&](int64_t o0, int64_t o1) {
    std::vector<int64_t> off(n_in), idx(n_sum);
    for (int64_t o = o0; o < o1; ++o) {
      std::fill(off.begin(), off.end(), 0);
      int64_t rem = o;
      for (size_t d = p.out_dims.size(); d-- > 0;) {
        const int64_t i = rem % p.out_dims[d];
        rem /= p.out_dims[d];
        for (size_t k = 0; k < n_in; ++k) off[k] += i * p.out_strides[k][d];
      }
      std::fill(idx.begin(), idx.end(), 0);
      A acc = 0;
      for (int64_t r = 0; r < runs; ++r) {
        if (n_in == 2) {
          const storage_t<T>* a = in[0] + off[0];
          const storage_t<T>* b = in[1] + off[1];
          const int64_t sa = run_stride[0], sb = run_stride[1];
          for (int64_t t = 0; t < run_len; ++t) {
            acc = add(acc, mul(load(a[t * sa]), load(b[t * sb])));
          }
        } else {
          for (int64_t t = 0; t < run_len; ++t) {
            A prod = 1;
            for (size_t k = 0; k < n_in; ++k) {
              prod = mul(prod, load(in[k][off[k] + t * run_stride[k]]));
            }
            acc = add(acc, prod);
          }
        }
        // Odometer over the outer summed labels.
        for (size_t d = n_sum > 0 ? n_sum - 1 : 0; d-- > 0;) {
          for (size_t k = 0; k < n_in; ++k) off[k] += p.sum_strides[k][d];
          if (++idx[d] < p.sum_dims[d]) break;
          for (size_t k = 0; k < n_in; ++k) off[k] -= p.sum_dims[d] * p.sum_strides[k][d];
          idx[d] = 0;
        }
      }
      if constexpr (is_float_v<T>) out[o] = store_from_double<T>(acc);
      else out[o] = static_cast<storage_t<T>>(acc);
    }
  }, std::max<int64_t>(1, kMinParallelElements /
                             std::max<int64_t>(sum_n * static_cast<int64_t>(n_in), 1)));
}

Status einsum(OpContext& ctx) {
  if (ctx.num_inputs() == 0) return ctx.invalid("needs at least one input");
  QT_RETURN_IF_ERROR(need_inputs(ctx, ctx.num_inputs(), ctx.num_inputs()));
  const DType dt = ctx.input(0)->dtype();
  for (size_t k = 1; k < ctx.num_inputs(); ++k) {
    if (ctx.input(k)->dtype() != dt) return ctx.invalid("inputs differ in element type");
  }
  const std::string eq = ctx.node.attr_string("equation", "");
  QT_ASSIGN_OR_RETURN(const EinsumPlan plan, einsum_plan(ctx, eq));
  Tensor y(dt, plan.out_shape);
  QT_RETURN_IF_ERROR(visit_any(dt, ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same_v<T, Bool>) {
      return ctx.unsupported("bool inputs");
    } else {
      std::vector<const storage_t<T>*> in;
      for (size_t k = 0; k < ctx.num_inputs(); ++k) {
        in.push_back(ctx.input(k)->data<storage_t<T>>());
      }
      run_einsum<T>(plan, in, y.data<storage_t<T>>());
      return Status::Ok();
    }
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// --------------------------------------------------------------------------------------- Det

// Determinant of each trailing [M, M] matrix: LU decomposition with partial pivoting.
Status det(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  const int64_t r = x.rank();
  if (r < 2 || x.dim(r - 1) != x.dim(r - 2)) {
    return ctx.invalid("input has shape " + shape_str(x.shape()) + "; needs [*, M, M]");
  }
  const int64_t m = x.dim(r - 1);
  const Shape out_shape(x.shape().begin(), x.shape().end() - 2);
  const int64_t batch = shape_numel(out_shape);
  Tensor y(x.dtype(), out_shape);
  QT_RETURN_IF_ERROR(visit_any(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    if constexpr (!is_float_v<T>) {
      return ctx.unsupported("element type " + dtype_str(x.dtype()));
    } else {
      const storage_t<T>* xd = x.data<storage_t<T>>();
      storage_t<T>* yd = y.data<storage_t<T>>();
      parallel_ranges(batch, [&](int64_t b0, int64_t b1) {
        std::vector<double> a(static_cast<size_t>(m * m));
        for (int64_t b = b0; b < b1; ++b) {
          for (int64_t i = 0; i < m * m; ++i) a[i] = load_as_double<T>(xd[b * m * m + i]);
          double d = 1.0;
          for (int64_t c = 0; c < m && d != 0.0; ++c) {
            int64_t piv = c;
            for (int64_t i = c + 1; i < m; ++i) {
              if (std::fabs(a[i * m + c]) > std::fabs(a[piv * m + c])) piv = i;
            }
            if (a[piv * m + c] == 0.0) {
              d = 0.0;
              break;
            }
            if (piv != c) {
              for (int64_t j = 0; j < m; ++j) std::swap(a[c * m + j], a[piv * m + j]);
              d = -d;
            }
            d *= a[c * m + c];
            for (int64_t i = c + 1; i < m; ++i) {
              const double f = a[i * m + c] / a[c * m + c];
              for (int64_t j = c; j < m; ++j) a[i * m + j] -= f * a[c * m + j];
            }
          }
          yd[b] = store_from_double<T>(d);
        }
      }, std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(m * m * m, 1)));
      return Status::Ok();
    }
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

const std::vector<DType> kEinsumTypes = {DType::kF32, DType::kF64, DType::kF16, DType::kU8,
                                         DType::kS8,  DType::kU16, DType::kS16, DType::kU32,
                                         DType::kS32, DType::kU64, DType::kS64};

}  // namespace

void register_linalg_kernels(KernelRegistry& r) {
  r.add({"", "Einsum", 12, kLatestOpset, kEinsumTypes}, einsum);
  r.add({"", "Det", 11, kLatestOpset, {DType::kF32, DType::kF64, DType::kF16}}, det);
}

}  // namespace qtune
