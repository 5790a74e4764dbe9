#include "common/shape_inference.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>

namespace qtune {

Result<ConvGeometry> conv_geometry(const Node& n, const std::vector<int64_t>& in,
                                   const std::vector<int64_t>& kernel, bool ceil_mode) {
  const size_t r = in.size();
  auto bad = [&](const std::string& what) { return Status::InvalidInput(n.describe() + ": " + what); };
  if (kernel.size() != r) return bad("kernel has " + std::to_string(kernel.size()) +
                                     " spatial dims, input has " + std::to_string(r));
  ConvGeometry g;
  g.strides = n.attr_ints("strides", std::vector<int64_t>(r, 1));
  g.dilations = n.attr_ints("dilations", std::vector<int64_t>(r, 1));
  g.pads = n.attr_ints("pads", std::vector<int64_t>(2 * r, 0));
  if (g.strides.size() != r) return bad("strides has " + std::to_string(g.strides.size()) +
                                        " values, expected " + std::to_string(r));
  if (g.dilations.size() != r) return bad("dilations has " + std::to_string(g.dilations.size()) +
                                          " values, expected " + std::to_string(r));
  if (g.pads.size() != 2 * r) return bad("pads has " + std::to_string(g.pads.size()) +
                                         " values, expected " + std::to_string(2 * r));
  constexpr int64_t kMaxAttr = int64_t{1} << 31;  // keeps the size arithmetic below in range
  for (size_t i = 0; i < r; ++i) {
    if (g.strides[i] > kMaxAttr || g.dilations[i] > kMaxAttr || kernel[i] > kMaxAttr ||
        g.pads[i] > kMaxAttr || g.pads[i + r] > kMaxAttr || in[i] > (int64_t{1} << 40)) {
      return bad("kernel, stride, dilation, pad or input size out of range");
    }
    if (g.strides[i] < 1) return bad("strides must be >= 1");
    if (g.dilations[i] < 1) return bad("dilations must be >= 1");
    if (kernel[i] < 1) return bad("kernel size must be >= 1");
    if (g.pads[i] < 0 || g.pads[i + r] < 0) return bad("pads must be >= 0");
  }
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  g.out.assign(r, -1);
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (size_t i = 0; i < r; ++i) {
      g.pads[i] = g.pads[i + r] = 0;
      if (in[i] < 0) continue;
      const int64_t out = (in[i] + g.strides[i] - 1) / g.strides[i];
      const int64_t eff_k = (kernel[i] - 1) * g.dilations[i] + 1;
      const int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[i] + eff_k - in[i]);
      // SAME_UPPER puts the odd pixel at the end, SAME_LOWER at the beginning.
      g.pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pads[i + r] = total - g.pads[i];
      g.out[i] = out;
    }
    return g;
  }
  if (auto_pad == "VALID") {
    std::fill(g.pads.begin(), g.pads.end(), 0);
  } else if (auto_pad != "NOTSET" && !auto_pad.empty()) {
    return bad("unknown auto_pad '" + auto_pad + "'");
  }
  for (size_t i = 0; i < r; ++i) {
    if (in[i] < 0) continue;
    const int64_t eff_k = (kernel[i] - 1) * g.dilations[i] + 1;
    const int64_t span = in[i] + g.pads[i] + g.pads[i + r] - eff_k;
    if (span < 0) {
      return bad("kernel extent " + std::to_string(eff_k) + " exceeds padded input size " +
                 std::to_string(in[i] + g.pads[i] + g.pads[i + r]) + " on spatial axis " +
                 std::to_string(i));
    }
    g.out[i] = (ceil_mode ? (span + g.strides[i] - 1) / g.strides[i] : span / g.strides[i]) + 1;
  }
  return g;
}

}  // namespace qtune

// ---------------------------------------------------------------- infer_shapes

namespace qtune {
namespace {

constexpr int64_t kUnk = std::numeric_limits<int64_t>::min();  // unknown entry of an IntVal
constexpr int64_t kMaxIntVal = 64;  // longest integer tensor tracked by value

// The value of a small integer tensor (rank 0 or 1) known at load time, possibly with unknown
// entries: initializers, Constants, and Shape -> Gather -> Unsqueeze -> Concat style chains.
// An unknown entry read from a Shape keeps where it came from ("x#0": dim 0 of x), so a Reshape
// of x itself can carry that dim through (x.view(x.size(0), -1) keeps the dynamic batch).
struct IntVal {
  bool scalar = false;
  std::vector<int64_t> v;
  std::vector<std::string> sym;  // empty, or one per entry ("" when not from a Shape)
  const std::string& sym_at(size_t i) const {
    static const std::string kNone;
    return i < sym.size() ? sym[i] : kNone;
  }
  void push(int64_t value, const std::string& s) {
    sym.resize(v.size());
    v.push_back(value);
    sym.push_back(s);
  }
  bool complete() const {
    return std::none_of(v.begin(), v.end(), [](int64_t x) { return x == kUnk; });
  }
};

IntVal int_val(bool scalar, std::vector<int64_t> v) {
  IntVal iv;
  iv.scalar = scalar;
  iv.v = std::move(v);
  return iv;
}

std::optional<IntVal> int_val_of(const Tensor& t) {
  if ((t.dtype() != DType::kS64 && t.dtype() != DType::kS32) || t.rank() > 1 ||
      t.numel() > kMaxIntVal) {
    return std::nullopt;
  }
  IntVal iv;
  iv.scalar = t.rank() == 0;
  iv.v = t.to_i64_vector();
  return iv;
}

bool known(const Shape& s) {
  return std::none_of(s.begin(), s.end(), [](int64_t d) { return d < 0; });
}

// Product of dims, -1 if any is unknown.
int64_t product(const Shape& s, size_t from = 0, size_t to = SIZE_MAX) {
  int64_t p = 1;
  for (size_t i = from; i < std::min(to, s.size()); ++i) {
    if (s[i] < 0) return -1;
    if (__builtin_mul_overflow(p, s[i], &p)) return -1;
  }
  return p;
}

// numpy broadcasting of one dim pair; false on a definite mismatch.
bool broadcast_dim(int64_t a, int64_t b, int64_t* out) {
  if (a == 1) *out = b;
  else if (b == 1) *out = a;
  else if (a < 0) *out = b;  // a is 1 or b at run time; either way the result is b
  else if (b < 0) *out = a;
  else if (a == b) *out = a;
  else return false;
  return true;
}

Result<Shape> broadcast_shapes(const Node& n, const std::vector<Shape>& shapes) {
  size_t rank = 0;
  for (const auto& s : shapes) rank = std::max(rank, s.size());
  Shape out(rank, 1);
  for (const auto& s : shapes) {
    for (size_t i = 0; i < s.size(); ++i) {
      const size_t o = rank - s.size() + i;
      if (!broadcast_dim(out[o], s[i], &out[o])) {
        std::string all;
        for (const auto& t : shapes) all += (all.empty() ? "" : ", ") + shape_str(t);
        return Status::InvalidInput(n.describe() + ": shapes " + all + " do not broadcast");
      }
    }
  }
  return out;
}

struct InferCtx {
  const Node& n;
  int64_t opset;
  const std::map<std::string, ValueInfo>& values;
  const std::map<std::string, IntVal>& ints;
  std::vector<ValueInfo> out;            // one per node output
  std::vector<std::optional<IntVal>> out_ints;

  const ValueInfo* in(size_t i) const {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return nullptr;
    auto it = values.find(n.inputs[i]);
    return it == values.end() ? nullptr : &it->second;
  }
  bool has_input(size_t i) const { return i < n.inputs.size() && !n.inputs[i].empty(); }
  DType dtype(size_t i) const { return in(i) ? in(i)->dtype : DType::kUndefined; }
  std::optional<Shape> shape(size_t i) const {
    return in(i) ? in(i)->shape : std::optional<Shape>();
  }
  const IntVal* int_val(size_t i) const {
    if (!has_input(i)) return nullptr;
    auto it = ints.find(n.inputs[i]);
    return it == ints.end() ? nullptr : &it->second;
  }
  void set(size_t i, DType t, std::optional<Shape> s) {
    if (i < out.size()) {
      out[i].dtype = t;
      out[i].shape = std::move(s);
    }
  }
  void set_int(size_t i, IntVal v) {
    if (i < out_ints.size() && v.v.size() <= static_cast<size_t>(kMaxIntVal)) out_ints[i] = std::move(v);
  }
  Status invalid(const std::string& what) const {
    return Status::InvalidInput(n.describe() + ": " + what);
  }
  // Normalises an axis against `rank`; error names the node.
  Status axis(int64_t a, int64_t rank, int64_t* out_axis, const char* what = "axis") const {
    if (a < -rank || a >= rank) {
      return invalid(std::string(what) + " " + std::to_string(a) + " is out of range for rank " +
                     std::to_string(rank));
    }
    *out_axis = a < 0 ? a + rank : a;
    return Status::Ok();
  }
};

using InferFn = Status (*)(InferCtx&);

// ---------------------------------------------------------------- elementwise

Status same_as_input0(InferCtx& c) {
  c.set(0, c.dtype(0), c.shape(0));
  return Status::Ok();
}

Status identity(InferCtx& c) {
  c.set(0, c.dtype(0), c.shape(0));
  if (const IntVal* v = c.int_val(0)) c.set_int(0, *v);
  return Status::Ok();
}

Status softmax(InferCtx& c) {
  auto s = c.shape(0);
  if (s && !s->empty()) {
    int64_t a;
    QT_RETURN_IF_ERROR(c.axis(c.n.attr_int("axis", c.opset >= 13 ? -1 : 1),
                              static_cast<int64_t>(s->size()), &a));
  }
  return same_as_input0(c);
}

std::optional<IntVal> fold_binary(const std::string& op, const IntVal& a, const IntVal& b) {
  const size_t n = std::max(a.v.size(), b.v.size());
  if ((a.v.size() != n && a.v.size() != 1) || (b.v.size() != n && b.v.size() != 1)) {
    return std::nullopt;
  }
  IntVal r;
  r.scalar = a.scalar && b.scalar;
  for (size_t i = 0; i < n; ++i) {
    const int64_t x = a.v[a.v.size() == 1 ? 0 : i], y = b.v[b.v.size() == 1 ? 0 : i];
    if (x == kUnk || y == kUnk) {
      r.v.push_back(kUnk);
    } else if (int64_t z; op == "Add" && !__builtin_add_overflow(x, y, &z)) {
      r.v.push_back(z);
    } else if (op == "Sub" && !__builtin_sub_overflow(x, y, &z)) {
      r.v.push_back(z);
    } else if (op == "Mul" && !__builtin_mul_overflow(x, y, &z)) {
      r.v.push_back(z);
    } else if (op == "Div" && y > 0 && x >= 0) {
      r.v.push_back(x / y);  // both signs fixed, so truncation and floor agree
    } else {
      r.v.push_back(kUnk);
    }
  }
  return r;
}

Status binary_broadcast(InferCtx& c) {
  auto a = c.shape(0), b = c.shape(1);
  DType t = c.dtype(0);
  const std::string& op = c.n.op_type;
  if (op == "Equal" || op == "Less" || op == "Greater" || op == "LessOrEqual" ||
      op == "GreaterOrEqual" || op == "And" || op == "Or" || op == "Xor") {
    t = DType::kBool;
  }
  if (!a || !b) {
    c.set(0, t, std::nullopt);
    return Status::Ok();
  }
  QT_ASSIGN_OR_RETURN(Shape s, broadcast_shapes(c.n, {*a, *b}));
  c.set(0, t, s);
  const IntVal *x = c.int_val(0), *y = c.int_val(1);
  if (x && y) {
    if (auto r = fold_binary(op, *x, *y)) c.set_int(0, *r);
  }
  return Status::Ok();
}

// Sum, Mean, Min, Max: any number of broadcast inputs.
Status variadic_broadcast(InferCtx& c) {
  std::vector<Shape> shapes;
  for (size_t i = 0; i < c.n.inputs.size(); ++i) {
    auto s = c.shape(i);
    if (!s) {
      c.set(0, c.dtype(0), std::nullopt);
      return Status::Ok();
    }
    shapes.push_back(*s);
  }
  QT_ASSIGN_OR_RETURN(Shape s, broadcast_shapes(c.n, shapes));
  c.set(0, c.dtype(0), s);
  return Status::Ok();
}

Status where(InferCtx& c) {
  auto a = c.shape(0), b = c.shape(1), d = c.shape(2);
  if (!a || !b || !d) {
    c.set(0, c.dtype(1), std::nullopt);
    return Status::Ok();
  }
  QT_ASSIGN_OR_RETURN(Shape s, broadcast_shapes(c.n, {*a, *b, *d}));
  c.set(0, c.dtype(1), s);
  return Status::Ok();
}

Status cast(InferCtx& c) {
  DType t = DType::kUndefined;
  if (!c.n.has_attr("to")) return c.invalid("missing attribute 'to'");
  if (!dtype_from_onnx(static_cast<int32_t>(c.n.attr_int("to", 0)), &t)) t = DType::kUndefined;
  c.set(0, t, c.shape(0));
  if (const IntVal* v = c.int_val(0); v && (t == DType::kS64 || t == DType::kS32)) c.set_int(0, *v);
  return Status::Ok();
}

Status dropout(InferCtx& c) {
  c.set(0, c.dtype(0), c.shape(0));
  c.set(1, DType::kBool, c.shape(0));
  return Status::Ok();
}

// ---------------------------------------------------------------- matmul family

Result<std::optional<Shape>> matmul_shape(const InferCtx& c, const std::optional<Shape>& a_in,
                                          const std::optional<Shape>& b_in) {
  if (!a_in || !b_in) return std::optional<Shape>();
  if (a_in->empty() || b_in->empty()) return c.invalid("matmul operands must have rank >= 1");
  Shape a = *a_in, b = *b_in;
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  const int64_t ka = a.back(), kb = b[b.size() - 2];
  if (ka >= 0 && kb >= 0 && ka != kb) {
    return c.invalid("inner dimensions differ: A " + shape_str(*a_in) + " has K = " +
                     std::to_string(ka) + ", B " + shape_str(*b_in) + " has K = " +
                     std::to_string(kb));
  }
  QT_ASSIGN_OR_RETURN(Shape batch, broadcast_shapes(c.n, {Shape(a.begin(), a.end() - 2),
                                                          Shape(b.begin(), b.end() - 2)}));
  if (!a_vec) batch.push_back(a[a.size() - 2]);
  if (!b_vec) batch.push_back(b.back());
  return std::optional<Shape>(batch);
}

Status matmul(InferCtx& c) {
  QT_ASSIGN_OR_RETURN(auto s, matmul_shape(c, c.shape(0), c.shape(1)));
  c.set(0, c.dtype(0), s);
  return Status::Ok();
}
Status matmul_integer(InferCtx& c) {
  QT_ASSIGN_OR_RETURN(auto s, matmul_shape(c, c.shape(0), c.shape(1)));
  c.set(0, DType::kS32, s);
  return Status::Ok();
}
Status qlinear_matmul(InferCtx& c) {
  QT_ASSIGN_OR_RETURN(auto s, matmul_shape(c, c.shape(0), c.shape(3)));
  c.set(0, c.dtype(7), s);
  return Status::Ok();
}

Status gemm(InferCtx& c) {
  auto a = c.shape(0), b = c.shape(1);
  if (a && a->size() != 2) return c.invalid("A must be 2-D, got " + shape_str(*a));
  if (b && b->size() != 2) return c.invalid("B must be 2-D, got " + shape_str(*b));
  const bool ta = c.n.attr_int("transA", 0) != 0, tb = c.n.attr_int("transB", 0) != 0;
  const int64_t m = a ? (*a)[ta ? 1 : 0] : -1, ka = a ? (*a)[ta ? 0 : 1] : -1;
  const int64_t kb = b ? (*b)[tb ? 1 : 0] : -1, n = b ? (*b)[tb ? 0 : 1] : -1;
  if (ka >= 0 && kb >= 0 && ka != kb) {
    return c.invalid("inner dimensions differ: A " + shape_str(*a) + (ta ? " (transposed)" : "") +
                     ", B " + shape_str(*b) + (tb ? " (transposed)" : ""));
  }
  Shape out{m, n};
  if (auto cs = c.shape(2)) {
    // C broadcasts one way, to [M, N].
    if (cs->size() > 2) return c.invalid("C must have rank <= 2, got " + shape_str(*cs));
    for (size_t i = 0; i < cs->size(); ++i) {
      const int64_t d = (*cs)[i], o = out[2 - cs->size() + i];
      if (d >= 0 && d != 1 && o >= 0 && d != o) {
        return c.invalid("C " + shape_str(*cs) + " does not broadcast to " + shape_str(out));
      }
      if (d > 1 && o < 0) out[2 - cs->size() + i] = d;
    }
  }
  c.set(0, c.dtype(0), out);
  return Status::Ok();
}

// ---------------------------------------------------------------- conv and pooling

Status conv_like(InferCtx& c, size_t xi, size_t wi, DType out_type) {
  auto x = c.shape(xi), w = c.shape(wi);
  if (x && x->size() < 3) return c.invalid("input must be [N, C, D1, ...], got " + shape_str(*x));
  if (x && w && w->size() != x->size()) {
    return c.invalid("weight " + shape_str(*w) + " and input " + shape_str(*x) +
                     " differ in rank");
  }
  if (w && w->size() < 3) return c.invalid("weight must be [M, C/group, k1, ...], got " + shape_str(*w));
  const int64_t group = c.n.attr_int("group", 1);
  if (group < 1) return c.invalid("group must be >= 1");
  if (x && w && (*x)[1] >= 0 && (*w)[1] >= 0 && (*w)[1] * group != (*x)[1]) {
    return c.invalid("weight " + shape_str(*w) + " with group " + std::to_string(group) +
                     " does not fit input channels " + std::to_string((*x)[1]));
  }
  if (w && (*w)[0] >= 0 && (*w)[0] % group != 0) {
    return c.invalid("output channels " + std::to_string((*w)[0]) + " not divisible by group " +
                     std::to_string(group));
  }
  const size_t rank = x ? x->size() : (w ? w->size() : 0);
  if (rank == 0) {
    c.set(0, out_type, std::nullopt);
    return Status::Ok();
  }
  std::optional<Shape> kernel;
  if (c.n.has_attr("kernel_shape")) {
    kernel = c.n.attr_ints("kernel_shape");
    if (kernel->size() != rank - 2) {
      return c.invalid("kernel_shape " + shape_str(*kernel) + " does not have " +
                       std::to_string(rank - 2) + " spatial dims");
    }
    for (size_t i = 0; w && i < kernel->size(); ++i) {
      const int64_t wd = (*w)[i + 2];
      if (wd >= 0 && wd != (*kernel)[i]) {
        return c.invalid("kernel_shape " + shape_str(*kernel) + " does not match weight " +
                         shape_str(*w));
      }
    }
  } else if (w) {
    kernel = Shape(w->begin() + 2, w->end());
  }
  Shape out(rank, -1);
  out[0] = x ? (*x)[0] : -1;
  out[1] = w ? (*w)[0] : -1;
  if (kernel && known(*kernel)) {
    Shape in_sp = x ? Shape(x->begin() + 2, x->end()) : Shape(rank - 2, -1);
    QT_ASSIGN_OR_RETURN(ConvGeometry g, conv_geometry(c.n, in_sp, *kernel));
    std::copy(g.out.begin(), g.out.end(), out.begin() + 2);
  }
  c.set(0, out_type, out);
  return Status::Ok();
}

Status conv(InferCtx& c) { return conv_like(c, 0, 1, c.dtype(0)); }
Status conv_integer(InferCtx& c) { return conv_like(c, 0, 1, DType::kS32); }
Status qlinear_conv(InferCtx& c) { return conv_like(c, 0, 3, c.dtype(7)); }

Status pool(InferCtx& c) {
  if (!c.n.has_attr("kernel_shape")) return c.invalid("missing attribute 'kernel_shape'");
  const Shape kernel = c.n.attr_ints("kernel_shape");
  auto x = c.shape(0);
  if (x && x->size() != kernel.size() + 2) {
    return c.invalid("input " + shape_str(*x) + " does not match kernel_shape " +
                     shape_str(kernel));
  }
  Shape in_sp = x ? Shape(x->begin() + 2, x->end()) : Shape(kernel.size(), -1);
  QT_ASSIGN_OR_RETURN(ConvGeometry g,
                      conv_geometry(c.n, in_sp, kernel, c.n.attr_int("ceil_mode", 0) != 0));
  Shape out{x ? (*x)[0] : -1, x ? (*x)[1] : -1};
  out.insert(out.end(), g.out.begin(), g.out.end());
  c.set(0, c.dtype(0), out);
  c.set(1, DType::kS64, out);  // MaxPool indices
  return Status::Ok();
}

Status global_pool(InferCtx& c) {
  auto x = c.shape(0);
  if (x && x->size() < 3) return c.invalid("input must be [N, C, D1, ...], got " + shape_str(*x));
  if (!x) {
    c.set(0, c.dtype(0), std::nullopt);
    return Status::Ok();
  }
  Shape out(x->size(), 1);
  out[0] = (*x)[0];
  out[1] = (*x)[1];
  c.set(0, c.dtype(0), out);
  return Status::Ok();
}

// ---------------------------------------------------------------- normalization

Status batch_norm(InferCtx& c) {
  auto x = c.shape(0);
  if (x && x->size() < 2) return c.invalid("input must have rank >= 2, got " + shape_str(*x));
  for (size_t i = 1; i <= 4 && x; ++i) {
    auto p = c.shape(i);
    if (p && p->size() == 1 && (*p)[0] >= 0 && (*x)[1] >= 0 && (*p)[0] != (*x)[1]) {
      return c.invalid("parameter " + shape_str(*p) + " does not match channels " +
                       std::to_string((*x)[1]));
    }
  }
  c.set(0, c.dtype(0), x);
  // Training-mode extra outputs are per-channel statistics.
  for (size_t i = 1; i < c.out.size(); ++i) c.set(i, c.dtype(1), c.shape(1));
  return Status::Ok();
}

Status layer_norm(InferCtx& c) {
  auto x = c.shape(0);
  c.set(0, c.dtype(0), x);
  std::optional<Shape> stat;
  if (x) {
    int64_t a;
    QT_RETURN_IF_ERROR(c.axis(c.n.attr_int("axis", -1), static_cast<int64_t>(x->size()), &a));
    stat = *x;
    for (size_t i = static_cast<size_t>(a); i < stat->size(); ++i) (*stat)[i] = 1;
  }
  DType st = DType::kF32;
  if (!dtype_from_onnx(static_cast<int32_t>(c.n.attr_int("stash_type", 1)), &st)) st = DType::kF32;
  c.set(1, st, stat);
  c.set(2, st, stat);
  return Status::Ok();
}

// ReduceMean and friends: axes from the attribute (older opsets) or input 1.
Status reduce(InferCtx& c) {
  auto x = c.shape(0);
  const bool keep = c.n.attr_int("keepdims", 1) != 0;
  std::optional<std::vector<int64_t>> axes;
  bool axes_known = true;
  if (c.has_input(1)) {
    const IntVal* v = c.int_val(1);
    if (v && v->complete()) axes = v->v;
    else axes_known = false;
  } else if (c.n.has_attr("axes")) {
    axes = c.n.attr_ints("axes");
  }
  if (!x) {
    c.set(0, c.dtype(0), std::nullopt);
    return Status::Ok();
  }
  const int64_t r = static_cast<int64_t>(x->size());
  if (!axes_known) {
    // Which axes is only known at run time: with keepdims the rank survives.
    c.set(0, c.dtype(0), keep ? std::optional<Shape>(Shape(x->size(), -1)) : std::nullopt);
    return Status::Ok();
  }
  std::vector<bool> reduced(x->size(), false);
  if (!axes || axes->empty()) {
    if (c.n.attr_int("noop_with_empty_axes", 0) != 0) {
      c.set(0, c.dtype(0), x);
      return Status::Ok();
    }
    std::fill(reduced.begin(), reduced.end(), true);
  } else {
    for (int64_t a : *axes) {
      int64_t na;
      QT_RETURN_IF_ERROR(c.axis(a, r, &na, "axes value"));
      reduced[na] = true;
    }
  }
  Shape out;
  for (size_t i = 0; i < x->size(); ++i) {
    if (!reduced[i]) out.push_back((*x)[i]);
    else if (keep) out.push_back(1);
  }
  c.set(0, c.dtype(0), out);
  return Status::Ok();
}

// ---------------------------------------------------------------- shape manipulation

Status flatten(InferCtx& c) {
  auto x = c.shape(0);
  const int64_t axis = c.n.attr_int("axis", 1);
  if (!x) {
    c.set(0, c.dtype(0), axis == 0 ? Shape{1, -1} : Shape{-1, -1});
    return Status::Ok();
  }
  const int64_t r = static_cast<int64_t>(x->size());
  if (axis < -r || axis > r) {
    return c.invalid("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(r));
  }
  const size_t a = static_cast<size_t>(axis < 0 ? axis + r : axis);
  c.set(0, c.dtype(0), Shape{product(*x, 0, a), product(*x, a)});
  return Status::Ok();
}

Status reshape(InferCtx& c) {
  auto x = c.shape(0);
  const IntVal* target = c.int_val(1);
  const DType t = c.dtype(0);
  if (!target) {
    auto ts = c.shape(1);  // the target's length is the output rank
    if (ts && ts->size() == 1 && (*ts)[0] >= 0) c.set(0, t, Shape(static_cast<size_t>((*ts)[0]), -1));
    else c.set(0, t, std::nullopt);
    return Status::Ok();
  }
  const bool allow_zero = c.n.attr_int("allowzero", 0) != 0;
  Shape out(target->v.size(), -1);
  // Dims that appear on both sides (copied by 0, or read from x's own Shape) cancel in the
  // element count even when unknown, so a dynamic batch does not hide the other dims.
  std::vector<bool> copied(target->v.size(), false);
  std::vector<bool> in_cancel(x ? x->size() : 0, false);
  int64_t infer_at = -1;
  for (size_t i = 0; i < target->v.size(); ++i) {
    const int64_t d = target->v[i];
    if (d == kUnk) {
      const std::string& sym = target->sym_at(i);
      const size_t hash = sym.rfind('#');  // names may hold '#'; the dim index never does
      if (x && hash != std::string::npos && sym.compare(0, hash, c.n.inputs[0]) == 0) {
        const size_t k = std::stoul(sym.substr(hash + 1));
        if (k < in_cancel.size() && !in_cancel[k]) {
          in_cancel[k] = true;
          copied[i] = true;
        }
      }
      continue;
    }
    if (d == 0 && !allow_zero) {
      if (x && i >= x->size()) {
        return c.invalid("target shape " + shape_str(target->v) + " copies dim " +
                         std::to_string(i) + " of a rank-" + std::to_string(x->size()) + " input");
      }
      out[i] = x ? (*x)[i] : -1;
      if (x && !in_cancel[i]) {  // each input dim cancels against one output dim at most
        in_cancel[i] = true;
        copied[i] = true;
      }
    } else if (d == -1) {
      if (infer_at >= 0) return c.invalid("target shape has more than one -1");
      infer_at = static_cast<int64_t>(i);
    } else if (d < -1) {
      return c.invalid("target shape has negative dim " + std::to_string(d));
    } else {
      out[i] = d;
    }
  }
  if (x) {
    int64_t in_known = 1, out_known = 1;
    bool in_ok = true, out_ok = true;
    for (size_t i = 0; i < x->size(); ++i) {
      if (in_cancel[i]) continue;
      if ((*x)[i] < 0) in_ok = false;
      else if (__builtin_mul_overflow(in_known, (*x)[i], &in_known)) in_ok = false;
    }
    for (size_t i = 0; i < out.size(); ++i) {
      if (copied[i] || static_cast<int64_t>(i) == infer_at) continue;
      if (out[i] < 0) out_ok = false;
      else if (__builtin_mul_overflow(out_known, out[i], &out_known)) out_ok = false;
    }
    if (in_ok && out_ok) {
      if (infer_at >= 0) {
        if (out_known == 0 || in_known % out_known != 0) {
          return c.invalid("cannot reshape " + shape_str(*x) + " to " + shape_str(target->v));
        }
        out[infer_at] = in_known / out_known;
      } else if (in_known != out_known) {
        return c.invalid("cannot reshape " + shape_str(*x) + " (" + std::to_string(in_known) +
                         " elements) to " + shape_str(target->v));
      }
    }
  }
  c.set(0, t, out);
  return Status::Ok();
}

Status transpose(InferCtx& c) {
  auto x = c.shape(0);
  std::vector<int64_t> perm = c.n.attr_ints("perm");
  if (!x) {
    c.set(0, c.dtype(0), perm.empty() ? std::nullopt : std::optional<Shape>(Shape(perm.size(), -1)));
    return Status::Ok();
  }
  const size_t r = x->size();
  if (perm.empty()) {
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  }
  if (perm.size() != r) return c.invalid("perm " + shape_str(perm) + " does not match rank " + std::to_string(r));
  std::vector<bool> seen(r, false);
  Shape out;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(r) || seen[p]) {
      return c.invalid("perm " + shape_str(perm) + " is not a permutation of 0.." +
                       std::to_string(r - 1));
    }
    seen[p] = true;
    out.push_back((*x)[p]);
  }
  c.set(0, c.dtype(0), out);
  return Status::Ok();
}

Status concat(InferCtx& c) {
  if (!c.n.has_attr("axis")) return c.invalid("missing attribute 'axis'");
  std::optional<Shape> out;
  bool axis_known = true;
  int64_t axis = 0;
  for (size_t i = 0; i < c.n.inputs.size(); ++i) {
    auto s = c.shape(i);
    if (!s) {
      axis_known = false;
      continue;
    }
    if (!out) {
      QT_RETURN_IF_ERROR(c.axis(c.n.attr_int("axis", 0), static_cast<int64_t>(s->size()), &axis));
      out = *s;
      continue;
    }
    if (s->size() != out->size()) {
      return c.invalid("inputs differ in rank: " + shape_str(*out) + " and " + shape_str(*s));
    }
    for (size_t d = 0; d < s->size(); ++d) {
      const int64_t a = (*out)[d], b = (*s)[d];
      if (static_cast<int64_t>(d) == axis) {
        int64_t sum;
        (*out)[d] = (a < 0 || b < 0 || __builtin_add_overflow(a, b, &sum)) ? -1 : sum;
      } else if (a >= 0 && b >= 0 && a != b) {
        return c.invalid("inputs differ outside the axis: " + shape_str(*out) + " and " +
                         shape_str(*s));
      } else if (a < 0) {
        (*out)[d] = b;
      }
    }
  }
  if (out && !axis_known) (*out)[axis] = -1;
  c.set(0, c.dtype(0), out);
  // Fold integer vectors (shape arithmetic).
  IntVal folded;
  for (size_t i = 0; i < c.n.inputs.size(); ++i) {
    const IntVal* v = c.int_val(i);
    if (!v || v->scalar) return Status::Ok();
    for (size_t k = 0; k < v->v.size(); ++k) folded.push(v->v[k], v->sym_at(k));
  }
  if (!c.n.inputs.empty()) c.set_int(0, folded);
  return Status::Ok();
}

Status gather(InferCtx& c) {
  auto data = c.shape(0), idx = c.shape(1);
  if (!data || !idx) {
    c.set(0, c.dtype(0), std::nullopt);
    return Status::Ok();
  }
  int64_t axis;
  QT_RETURN_IF_ERROR(c.axis(c.n.attr_int("axis", 0), static_cast<int64_t>(data->size()), &axis));
  const int64_t dim = (*data)[axis];
  const IntVal* iv = c.int_val(1);
  if (iv && dim >= 0) {
    for (int64_t i : iv->v) {
      if (i != kUnk && (i < -dim || i >= dim)) {
        return c.invalid("index " + std::to_string(i) + " is out of range for dimension " +
                         std::to_string(dim));
      }
    }
  }
  Shape out(data->begin(), data->begin() + axis);
  out.insert(out.end(), idx->begin(), idx->end());
  out.insert(out.end(), data->begin() + axis + 1, data->end());
  c.set(0, c.dtype(0), out);
  const IntVal* dv = c.int_val(0);
  if (dv && !dv->scalar && iv && iv->complete() && axis == 0) {
    IntVal r;
    r.scalar = iv->scalar;
    const int64_t n = static_cast<int64_t>(dv->v.size());
    for (int64_t i : iv->v) {
      if (i < -n || i >= n) return Status::Ok();
      const size_t j = static_cast<size_t>(i < 0 ? i + n : i);
      r.push(dv->v[j], dv->sym_at(j));
    }
    c.set_int(0, r);
  }
  return Status::Ok();
}

Status shape_op(InferCtx& c) {
  auto x = c.shape(0);
  if (!x) {
    c.set(0, DType::kS64, Shape{-1});
    return Status::Ok();
  }
  const int64_t r = static_cast<int64_t>(x->size());
  auto clamp_index = [r](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + r : i, 0, r); };
  const int64_t start = clamp_index(c.n.attr_int("start", 0));
  const int64_t end = clamp_index(c.n.attr_int("end", r));
  IntVal v;
  for (int64_t i = start; i < end; ++i) {
    if ((*x)[i] < 0) v.push(kUnk, c.n.inputs[0] + "#" + std::to_string(i));
    else v.push((*x)[i], "");
  }
  c.set(0, DType::kS64, Shape{static_cast<int64_t>(v.v.size())});
  c.set_int(0, v);
  return Status::Ok();
}

Status size_op(InferCtx& c) {
  c.set(0, DType::kS64, Shape{});
  auto x = c.shape(0);
  if (x) c.set_int(0, int_val(true, {known(*x) ? product(*x) : kUnk}));
  return Status::Ok();
}

// Axes from the attribute (opset < 13) or input 1; nullopt when only known at run time.
std::optional<std::vector<int64_t>> axes_of(const InferCtx& c, bool* given) {
  *given = c.has_input(1) || c.n.has_attr("axes");
  if (c.has_input(1)) {
    const IntVal* v = c.int_val(1);
    if (v && v->complete()) return v->v;
    return std::nullopt;
  }
  return c.n.attr_ints("axes");
}

Status unsqueeze(InferCtx& c) {
  auto x = c.shape(0);
  bool given;
  auto axes = axes_of(c, &given);
  if (!given) return c.invalid("missing axes");
  if (!x || !axes) {
    auto as = c.has_input(1) ? c.shape(1) : std::nullopt;
    if (x && as && as->size() == 1 && (*as)[0] >= 0) {
      c.set(0, c.dtype(0), Shape(x->size() + static_cast<size_t>((*as)[0]), -1));
    } else if (x && axes) {
      c.set(0, c.dtype(0), Shape(x->size() + axes->size(), -1));
    } else {
      c.set(0, c.dtype(0), std::nullopt);
    }
    return Status::Ok();
  }
  const int64_t r = static_cast<int64_t>(x->size() + axes->size());
  std::vector<bool> is_new(static_cast<size_t>(r), false);
  for (int64_t a : *axes) {
    int64_t na;
    QT_RETURN_IF_ERROR(c.axis(a, r, &na, "axes value"));
    if (is_new[na]) return c.invalid("axes " + shape_str(*axes) + " repeat an axis");
    is_new[na] = true;
  }
  Shape out;
  size_t j = 0;
  for (int64_t i = 0; i < r; ++i) out.push_back(is_new[i] ? 1 : (*x)[j++]);
  c.set(0, c.dtype(0), out);
  if (const IntVal* v = c.int_val(0); v && v->scalar && r == 1) {
    IntVal u = *v;
    u.scalar = false;
    c.set_int(0, u);
  }
  return Status::Ok();
}

Status squeeze(InferCtx& c) {
  auto x = c.shape(0);
  bool given;
  auto axes = axes_of(c, &given);
  if (!x || (given && !axes)) {
    c.set(0, c.dtype(0), std::nullopt);
    return Status::Ok();
  }
  const int64_t r = static_cast<int64_t>(x->size());
  std::vector<bool> drop(x->size(), false);
  if (!given || axes->empty()) {
    for (size_t i = 0; i < x->size(); ++i) {
      if ((*x)[i] < 0) {  // might or might not be 1
        c.set(0, c.dtype(0), std::nullopt);
        return Status::Ok();
      }
      drop[i] = (*x)[i] == 1;
    }
  } else {
    for (int64_t a : *axes) {
      int64_t na;
      QT_RETURN_IF_ERROR(c.axis(a, r, &na, "axes value"));
      if ((*x)[na] >= 0 && (*x)[na] != 1) {
        return c.invalid("cannot squeeze axis " + std::to_string(a) + " of size " +
                         std::to_string((*x)[na]));
      }
      drop[na] = true;
    }
  }
  Shape out;
  for (size_t i = 0; i < x->size(); ++i) if (!drop[i]) out.push_back((*x)[i]);
  c.set(0, c.dtype(0), out);
  if (const IntVal* v = c.int_val(0); v && !v->scalar && v->v.size() == 1 && out.empty()) {
    IntVal u = *v;
    u.scalar = true;
    c.set_int(0, u);
  }
  return Status::Ok();
}

// [start, end) with step on a dim of size d, per the ONNX Slice clamping rules.
int64_t slice_len(int64_t d, int64_t start, int64_t end, int64_t step, int64_t* first) {
  if (start < 0) start += d;
  if (end < 0) end += d;
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, d);
    end = std::clamp<int64_t>(end, 0, d);
  } else {
    start = std::clamp<int64_t>(start, 0, d - 1);
    end = std::clamp<int64_t>(end, -1, d - 1);
  }
  *first = start;
  const int64_t span = step > 0 ? end - start : start - end;
  const int64_t s = step > 0 ? step : -step;
  return span <= 0 ? 0 : (span + s - 1) / s;
}

Status slice(InferCtx& c) {
  auto x = c.shape(0);
  std::optional<std::vector<int64_t>> starts, ends, axes, steps;
  bool axes_given = false, steps_given = false;
  if (c.opset < 10) {
    starts = c.n.attr_ints("starts");
    ends = c.n.attr_ints("ends");
    axes_given = c.n.has_attr("axes");
    if (axes_given) axes = c.n.attr_ints("axes");
  } else {
    auto get = [&](size_t i) -> std::optional<std::vector<int64_t>> {
      const IntVal* v = c.int_val(i);
      if (v && v->complete()) return v->v;
      return std::nullopt;
    };
    starts = get(1);
    ends = get(2);
    axes_given = c.has_input(3);
    steps_given = c.has_input(4);
    if (axes_given) axes = get(3);
    if (steps_given) steps = get(4);
  }
  if (!x) {
    c.set(0, c.dtype(0), std::nullopt);
    return Status::Ok();
  }
  const int64_t r = static_cast<int64_t>(x->size());
  Shape out = *x;
  if (!starts || !ends || (axes_given && !axes) || (steps_given && !steps)) {
    if (axes) {
      for (int64_t a : *axes) {
        int64_t na;
        QT_RETURN_IF_ERROR(c.axis(a, r, &na, "axes value"));
        out[na] = -1;
      }
    } else {
      std::fill(out.begin(), out.end(), -1);
    }
    c.set(0, c.dtype(0), out);
    return Status::Ok();
  }
  if (!axes) {
    axes.emplace();
    for (size_t i = 0; i < starts->size(); ++i) axes->push_back(static_cast<int64_t>(i));
  }
  if (!steps) steps = std::vector<int64_t>(starts->size(), 1);
  if (ends->size() != starts->size() || axes->size() != starts->size() ||
      steps->size() != starts->size()) {
    return c.invalid("starts, ends, axes and steps differ in length");
  }
  std::vector<int64_t> first(static_cast<size_t>(r), 0);
  std::vector<bool> seen(static_cast<size_t>(r), false);
  for (size_t i = 0; i < starts->size(); ++i) {
    int64_t a;
    QT_RETURN_IF_ERROR(c.axis((*axes)[i], r, &a, "axes value"));
    if (seen[a]) return c.invalid("axes repeat axis " + std::to_string(a));
    seen[a] = true;
    if ((*steps)[i] == 0) return c.invalid("steps must be non-zero");
    if ((*x)[a] < 0) {
      out[a] = -1;
      continue;
    }
    out[a] = slice_len((*x)[a], (*starts)[i], (*ends)[i], (*steps)[i], &first[a]);
  }
  c.set(0, c.dtype(0), out);
  const IntVal* v = c.int_val(0);
  if (v && !v->scalar && r == 1 && out[0] >= 0 && static_cast<int64_t>(v->v.size()) == (*x)[0]) {
    IntVal res;
    const int64_t step = seen[0] ? (*steps)[0] : 1;
    for (int64_t k = 0; k < out[0]; ++k) {
      const size_t j = static_cast<size_t>(first[0] + k * step);
      res.push(v->v[j], v->sym_at(j));
    }
    c.set_int(0, res);
  }
  return Status::Ok();
}

Status constant(InferCtx& c) {
  const Node& n = c.n;
  if (n.has_attr("value")) {
    const Tensor& t = n.attrs.at("value").t;
    c.set(0, t.dtype(), t.shape());
    if (auto iv = int_val_of(t)) c.set_int(0, *iv);
  } else if (n.has_attr("value_float")) {
    c.set(0, DType::kF32, Shape{});
  } else if (n.has_attr("value_floats")) {
    c.set(0, DType::kF32, Shape{static_cast<int64_t>(n.attr_floats("value_floats").size())});
  } else if (n.has_attr("value_int")) {
    c.set(0, DType::kS64, Shape{});
    c.set_int(0, int_val(true, {n.attr_int("value_int", 0)}));
  } else if (n.has_attr("value_ints")) {
    const auto v = n.attr_ints("value_ints");
    c.set(0, DType::kS64, Shape{static_cast<int64_t>(v.size())});
    c.set_int(0, int_val(false, v));
  }
  // Strings and sparse tensors: qtune cannot hold them; the output stays unknown.
  return Status::Ok();
}

// ---------------------------------------------------------------- quantization

Status quantize_linear(InferCtx& c) {
  DType t = DType::kU8;
  if (c.has_input(2)) {
    t = c.dtype(2);
  } else if (c.n.attr_int("output_dtype", 0) != 0 &&
             !dtype_from_onnx(static_cast<int32_t>(c.n.attr_int("output_dtype", 0)), &t)) {
    t = DType::kUndefined;
  }
  c.set(0, t, c.shape(0));
  return Status::Ok();
}

Status dequantize_linear(InferCtx& c) {
  // The output takes the scale's type (f32 before opset 19).
  DType t = c.dtype(1) == DType::kUndefined ? DType::kF32 : c.dtype(1);
  c.set(0, t, c.shape(0));
  return Status::Ok();
}

Status dynamic_quantize_linear(InferCtx& c) {
  c.set(0, DType::kU8, c.shape(0));
  c.set(1, DType::kF32, Shape{});
  c.set(2, DType::kU8, Shape{});
  return Status::Ok();
}

const std::map<std::string, InferFn, std::less<>>& infer_table() {
  static const std::map<std::string, InferFn, std::less<>> table = {
      // elementwise, shape-preserving
      {"Relu", same_as_input0}, {"LeakyRelu", same_as_input0}, {"Sigmoid", same_as_input0},
      {"Tanh", same_as_input0}, {"Erf", same_as_input0}, {"Sqrt", same_as_input0},
      {"Clip", same_as_input0}, {"Abs", same_as_input0}, {"Neg", same_as_input0},
      {"Exp", same_as_input0}, {"Log", same_as_input0}, {"Reciprocal", same_as_input0},
      {"Floor", same_as_input0}, {"Ceil", same_as_input0}, {"Round", same_as_input0},
      {"Sign", same_as_input0}, {"Sin", same_as_input0}, {"Cos", same_as_input0},
      {"Elu", same_as_input0}, {"Selu", same_as_input0}, {"HardSigmoid", same_as_input0},
      {"HardSwish", same_as_input0}, {"Softplus", same_as_input0},
      {"Softsign", same_as_input0}, {"Not", same_as_input0},
      {"Identity", identity}, {"Softmax", softmax}, {"LogSoftmax", softmax},
      {"Dropout", dropout}, {"Cast", cast},
      {"Add", binary_broadcast}, {"Sub", binary_broadcast}, {"Mul", binary_broadcast},
      {"Div", binary_broadcast}, {"Pow", binary_broadcast}, {"Equal", binary_broadcast},
      {"Less", binary_broadcast}, {"Greater", binary_broadcast},
      {"LessOrEqual", binary_broadcast}, {"GreaterOrEqual", binary_broadcast},
      {"And", binary_broadcast}, {"Or", binary_broadcast}, {"Xor", binary_broadcast},
      {"Sum", variadic_broadcast}, {"Mean", variadic_broadcast}, {"Min", variadic_broadcast},
      {"Max", variadic_broadcast}, {"Where", where},
      // linear algebra, conv, pooling
      {"MatMul", matmul}, {"Gemm", gemm}, {"Conv", conv},
      {"MaxPool", pool}, {"AveragePool", pool},
      {"GlobalAveragePool", global_pool}, {"GlobalMaxPool", global_pool},
      // normalization and reductions
      {"BatchNormalization", batch_norm}, {"LayerNormalization", layer_norm},
      {"ReduceMean", reduce}, {"ReduceSum", reduce}, {"ReduceMax", reduce},
      {"ReduceMin", reduce}, {"ReduceProd", reduce}, {"ReduceL1", reduce},
      {"ReduceL2", reduce}, {"ReduceSumSquare", reduce}, {"ReduceLogSum", reduce},
      {"ReduceLogSumExp", reduce},
      // shape manipulation
      {"Flatten", flatten}, {"Reshape", reshape}, {"Transpose", transpose},
      {"Concat", concat}, {"Gather", gather}, {"Shape", shape_op}, {"Size", size_op},
      {"Unsqueeze", unsqueeze}, {"Squeeze", squeeze}, {"Slice", slice},
      {"Constant", constant},
      // quantization
      {"QuantizeLinear", quantize_linear}, {"DequantizeLinear", dequantize_linear},
      {"DynamicQuantizeLinear", dynamic_quantize_linear}, {"QLinearConv", qlinear_conv},
      {"QLinearMatMul", qlinear_matmul}, {"ConvInteger", conv_integer},
      {"MatMulInteger", matmul_integer},
  };
  return table;
}

// Inferred info refined by what the model declared: declared dims fill inferred unknowns.
ValueInfo merge_declared(ValueInfo inferred, const ValueInfo* declared) {
  if (!declared) return inferred;
  if (inferred.dtype == DType::kUndefined) inferred.dtype = declared->dtype;
  if (!inferred.shape) {
    inferred.shape = declared->shape;
  } else if (declared->shape && declared->shape->size() == inferred.shape->size()) {
    for (size_t i = 0; i < inferred.shape->size(); ++i) {
      if ((*inferred.shape)[i] < 0) (*inferred.shape)[i] = (*declared->shape)[i];
    }
  }
  return inferred;
}

}  // namespace

bool shape_inference_supports(const Node& n) {
  return (n.domain.empty() || n.domain == "ai.onnx") && infer_table().count(n.op_type) != 0;
}

Status infer_shapes(Graph& g) {
  // Declared infos are hints; remember them before value_info is rewritten.
  std::map<std::string, ValueInfo> declared = g.value_info;
  for (const auto& o : g.outputs) declared[o.name] = o;

  std::map<std::string, ValueInfo> values;
  std::map<std::string, IntVal> ints;
  for (const auto& [name, t] : g.initializers) {
    values[name] = ValueInfo{name, t.dtype(), t.shape()};
    if (auto iv = int_val_of(t)) ints[name] = *iv;
  }
  for (const auto& in : g.inputs) values[in.name] = in;

  // Sort a copy so the caller's node order is left alone.
  Graph sorted;
  sorted.inputs = g.inputs;
  sorted.nodes = g.nodes;
  for (const auto& [name, t] : g.initializers) sorted.initializers.emplace(name, t);
  QT_RETURN_IF_ERROR(sorted.topological_sort());

  for (const Node& n : sorted.nodes) {
    InferCtx c{n, g.opset, values, ints, {}, {}};
    c.out.resize(n.outputs.size());
    c.out_ints.resize(n.outputs.size());
    bool inferred = false;
    if (shape_inference_supports(n)) {
      QT_RETURN_IF_ERROR(infer_table().find(n.op_type)->second(c));
      inferred = true;
    }
    for (size_t i = 0; i < n.outputs.size(); ++i) {
      const std::string& name = n.outputs[i];
      if (name.empty()) continue;
      auto d = declared.find(name);
      const ValueInfo* decl = d == declared.end() ? nullptr : &d->second;
      if (!inferred && !decl) continue;  // nothing known about it
      ValueInfo v = merge_declared(inferred ? c.out[i] : ValueInfo{}, decl);
      v.name = name;
      values[name] = v;
      g.value_info[name] = v;
      if (c.out_ints[i]) ints[name] = *c.out_ints[i];
    }
  }
  return Status::Ok();
}

}  // namespace qtune
