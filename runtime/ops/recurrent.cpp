// Recurrent operators LSTM, GRU and RNN: opsets 7-13, and 14+ with `layout`. All directions,
// sequence_lens, initial states, LSTM peepholes and input_forget, GRU linear_before_reset, clip
// and every activation of the spec with activation_alpha/beta. The input projection of all
// timesteps is one GEMM per direction; each step then multiplies the whole batch's hidden state
// by R in one GEMM (two for GRU without linear_before_reset).
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "kernels/gemm_f32.h"
#include "runtime/op_util.h"

namespace qtune {
namespace {

const std::vector<DType> kRnnTypes = {DType::kF32, DType::kF64, DType::kF16};

// ------------------------------------------------------------------ activations

enum class ActKind {
  kRelu,
  kTanh,
  kSigmoid,
  kAffine,
  kLeakyRelu,
  kThresholdedRelu,
  kScaledTanh,
  kHardSigmoid,
  kElu,
  kSoftsign,
  kSoftplus
};

struct ActInfo {
  const char* name;  // lower case: names match case-insensitively, as ONNX Runtime does
  ActKind kind;
  bool uses_alpha, uses_beta;
  float alpha, beta;  // defaults of the ONNX operators of the same name
};

constexpr ActInfo kActs[] = {
    {"relu", ActKind::kRelu, false, false, 0.0f, 0.0f},
    {"tanh", ActKind::kTanh, false, false, 0.0f, 0.0f},
    {"sigmoid", ActKind::kSigmoid, false, false, 0.0f, 0.0f},
    {"affine", ActKind::kAffine, true, true, 1.0f, 0.0f},
    {"leakyrelu", ActKind::kLeakyRelu, true, false, 0.01f, 0.0f},
    {"thresholdedrelu", ActKind::kThresholdedRelu, true, false, 1.0f, 0.0f},
    {"scaledtanh", ActKind::kScaledTanh, true, true, 1.0f, 1.0f},
    {"hardsigmoid", ActKind::kHardSigmoid, true, true, 0.2f, 0.5f},
    {"elu", ActKind::kElu, true, false, 1.0f, 0.0f},
    {"softsign", ActKind::kSoftsign, false, false, 0.0f, 0.0f},
    {"softplus", ActKind::kSoftplus, false, false, 0.0f, 0.0f},
};

struct Activation {
  ActKind kind = ActKind::kTanh;
  double alpha = 0.0, beta = 0.0;

  // Applies the function in place to n values; the switch stays outside the element loop.
  template <typename T>
  void apply(T* v, int64_t n) const {
    const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
    switch (kind) {
      case ActKind::kRelu:
        for (int64_t i = 0; i < n; ++i) v[i] = std::max(v[i], T(0));
        break;
      case ActKind::kTanh:
        for (int64_t i = 0; i < n; ++i) v[i] = std::tanh(v[i]);
        break;
      case ActKind::kSigmoid:
        for (int64_t i = 0; i < n; ++i) v[i] = T(1) / (T(1) + std::exp(-v[i]));
        break;
      case ActKind::kAffine:
        for (int64_t i = 0; i < n; ++i) v[i] = a * v[i] + b;
        break;
      case ActKind::kLeakyRelu:
        for (int64_t i = 0; i < n; ++i) v[i] = v[i] >= T(0) ? v[i] : a * v[i];
        break;
      case ActKind::kThresholdedRelu:
        for (int64_t i = 0; i < n; ++i) v[i] = v[i] >= a ? v[i] : T(0);
        break;
      case ActKind::kScaledTanh:
        for (int64_t i = 0; i < n; ++i) v[i] = a * std::tanh(b * v[i]);
        break;
      case ActKind::kHardSigmoid:
        for (int64_t i = 0; i < n; ++i) v[i] = std::clamp(a * v[i] + b, T(0), T(1));
        break;
      case ActKind::kElu:
        for (int64_t i = 0; i < n; ++i) v[i] = v[i] >= T(0) ? v[i] : a * (std::exp(v[i]) - T(1));
        break;
      case ActKind::kSoftsign:
        for (int64_t i = 0; i < n; ++i) v[i] = v[i] / (T(1) + std::fabs(v[i]));
        break;
      case ActKind::kSoftplus:
        // log(1 + e^x) without overflow for large x.
        for (int64_t i = 0; i < n; ++i) {
          v[i] = v[i] > T(0) ? v[i] + std::log1p(std::exp(-v[i])) : std::log1p(std::exp(v[i]));
        }
        break;
    }
  }
};

// The `per_dir` activations of each direction: the node's list (alpha/beta consumed in list order
// by the functions that take them) or `defaults` for every direction. A forward/reverse node may
// list two sets, as RNN's schema default ["Tanh", "Tanh"] does; the first set is used.
Result<std::vector<Activation>> parse_activations(const OpContext& ctx, size_t per_dir,
                                                  size_t num_dirs,
                                                  const std::vector<std::string>& defaults) {
  const Node& n = ctx.node;
  std::vector<std::string> names;
  if (n.has_attr("activations")) {
    names = n.attrs.at("activations").strings;
  } else {
    for (size_t d = 0; d < num_dirs; ++d)
      names.insert(names.end(), defaults.begin(), defaults.end());
  }
  const std::vector<float> alphas = n.attr_floats("activation_alpha");
  const std::vector<float> betas = n.attr_floats("activation_beta");
  size_t next_alpha = 0, next_beta = 0;
  std::vector<Activation> acts;
  for (const auto& name : names) {
    std::string lower = name;
    for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const ActInfo* info = nullptr;
    for (const auto& a : kActs) {
      if (lower == a.name) info = &a;
    }
    if (!info) return ctx.invalid("unknown activation '" + name + "'");
    Activation act{info->kind, info->alpha, info->beta};
    if (info->uses_alpha && next_alpha < alphas.size()) act.alpha = alphas[next_alpha++];
    if (info->uses_beta && next_beta < betas.size()) act.beta = betas[next_beta++];
    acts.push_back(act);
  }
  const size_t want = per_dir * num_dirs;
  if (acts.size() == want) return acts;
  if (num_dirs == 1 && acts.size() == 2 * per_dir) {
    acts.resize(per_dir);
    return acts;
  }
  return ctx.invalid("activations lists " + std::to_string(acts.size()) + " functions, expected " +
                     std::to_string(want));
}

// ------------------------------------------------------------------ shared set-up

// Everything the three ops read the same way. Pointers into the operands are bound per element
// type by Operands below.
struct RnnSpec {
  int gates = 1;  // 4 LSTM, 3 GRU, 1 RNN
  int64_t S = 0, B = 0, I = 0, H = 0, D = 1;
  bool batch_major = false;   // layout = 1
  bool reverse_only = false;  // direction = reverse
  std::vector<int64_t> lens;  // per batch row
  int64_t max_len = 0;
  std::optional<double> clip;
  std::vector<Activation> acts;      // per_dir * D
  bool linear_before_reset = false;  // GRU
  bool input_forget = false;         // LSTM

  int64_t x_row(int64_t t, int64_t b) const { return batch_major ? b * S + t : t * B + b; }
  int64_t y_off(int64_t t, int64_t d, int64_t b) const {
    return (batch_major ? (b * S + t) * D + d : (t * D + d) * B + b) * H;
  }
  int64_t state_off(int64_t d, int64_t b) const {
    return (batch_major ? b * D + d : d * B + b) * H;
  }
  Shape y_shape() const { return batch_major ? Shape{B, S, D, H} : Shape{S, D, B, H}; }
  Shape state_shape() const { return batch_major ? Shape{B, D, H} : Shape{D, B, H}; }
  bool reversed(int64_t d) const { return reverse_only || d == 1; }
};

// Input indices shared by the three ops.
enum : size_t { kX = 0, kW = 1, kR = 2, kB = 3, kSeqLens = 4, kInitH = 5, kInitC = 6, kP = 7 };

Status check_shape(const OpContext& ctx, const Tensor* t, const char* name, const Shape& want) {
  if (!t) return Status::Ok();
  if (t->shape() != want) {
    return ctx.invalid(std::string(name) + " has shape " + shape_str(t->shape()) + ", expected " +
                       shape_str(want));
  }
  return Status::Ok();
}

const Tensor* optional_input(const OpContext& ctx, size_t i) {
  return has_input(ctx, i) ? ctx.input(i) : nullptr;
}

// Reads and validates the attributes and operand shapes common to LSTM, GRU and RNN.
Result<RnnSpec> parse_spec(const OpContext& ctx, int gates, size_t acts_per_dir,
                           const std::vector<std::string>& default_acts, bool has_layout,
                           size_t max_inputs) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 3, max_inputs));
  const Node& n = ctx.node;
  RnnSpec s;
  s.gates = gates;
  const Tensor* x = ctx.input(kX);
  const Tensor* w = ctx.input(kW);
  const Tensor* r = ctx.input(kR);
  for (size_t i : {kW, kR, kB, kInitH, kInitC, kP}) {
    const Tensor* t = optional_input(ctx, i);
    if (t && t->dtype() != x->dtype()) {
      return ctx.invalid("input " + std::to_string(i) + " has element type " +
                         dtype_str(t->dtype()) + ", X has " + dtype_str(x->dtype()));
    }
  }
  if (has_layout) {
    const int64_t layout = n.attr_int("layout", 0);
    if (layout != 0 && layout != 1) return ctx.invalid("layout must be 0 or 1");
    s.batch_major = layout == 1;
  }
  const std::string direction = n.attr_string("direction", "forward");
  if (direction == "bidirectional") {
    s.D = 2;
  } else if (direction == "reverse") {
    s.reverse_only = true;
  } else if (direction != "forward") {
    return ctx.invalid("direction must be forward, reverse or bidirectional, got '" + direction +
                       "'");
  }
  if (x->rank() != 3) return ctx.invalid("X must be 3-D, got shape " + shape_str(x->shape()));
  s.S = x->dim(s.batch_major ? 1 : 0);
  s.B = x->dim(s.batch_major ? 0 : 1);
  s.I = x->dim(2);
  if (r->rank() != 3) return ctx.invalid("R must be 3-D, got shape " + shape_str(r->shape()));
  s.H = n.attr_int("hidden_size", r->dim(2));
  if (s.H <= 0) return ctx.invalid("hidden_size must be positive");
  const int64_t GH = gates * s.H;
  QT_RETURN_IF_ERROR(check_shape(ctx, w, "W", {s.D, GH, s.I}));
  QT_RETURN_IF_ERROR(check_shape(ctx, r, "R", {s.D, GH, s.H}));
  QT_RETURN_IF_ERROR(check_shape(ctx, optional_input(ctx, kB), "B", {s.D, 2 * GH}));
  QT_RETURN_IF_ERROR(check_shape(ctx, optional_input(ctx, kInitH), "initial_h", s.state_shape()));
  if (max_inputs > kInitC) {
    QT_RETURN_IF_ERROR(check_shape(ctx, optional_input(ctx, kInitC), "initial_c", s.state_shape()));
    QT_RETURN_IF_ERROR(check_shape(ctx, optional_input(ctx, kP), "P", {s.D, 3 * s.H}));
  }
  s.lens.assign(static_cast<size_t>(s.B), s.S);
  if (const Tensor* sl = optional_input(ctx, kSeqLens)) {
    if (sl->dtype() != DType::kS32 && sl->dtype() != DType::kS64) {
      return ctx.invalid("sequence_lens must be int32, got " + dtype_str(sl->dtype()));
    }
    if (sl->shape() != Shape{s.B}) {
      return ctx.invalid("sequence_lens has shape " + shape_str(sl->shape()) + ", expected [" +
                         std::to_string(s.B) + "]");
    }
    for (int64_t b = 0; b < s.B; ++b) {
      const int64_t len = sl->get_i64(b);
      if (len < 0 || len > s.S) {
        return ctx.invalid("sequence_lens[" + std::to_string(b) + "] = " + std::to_string(len) +
                           " is outside [0, " + std::to_string(s.S) + "]");
      }
      s.lens[static_cast<size_t>(b)] = len;
    }
  }
  s.max_len = s.lens.empty() ? 0 : *std::max_element(s.lens.begin(), s.lens.end());
  if (n.has_attr("clip")) {
    const double clip = n.attr_float("clip", 0.0f);
    if (!(clip > 0.0)) return ctx.invalid("clip must be positive");
    s.clip = clip;
  }
  QT_ASSIGN_OR_RETURN(s.acts,
                      parse_activations(ctx, acts_per_dir, static_cast<size_t>(s.D), default_acts));
  return s;
}

// ------------------------------------------------------------------ arithmetic

// C[m,n] = A[m,k] * B[n,k]^T (row-major, leading dims lda/ldb/ldc); fp32 goes to the GEMM kernel.
void gemm_nt(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
             int64_t ldb, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    return;
  }
  gemm_f32(false, true, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
void gemm_nt(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, const double* b,
             int64_t ldb, double* c, int64_t ldc) {
  parallel_ranges(
      m,
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) {
          for (int64_t j = 0; j < n; ++j) {
            double acc = 0.0;
            for (int64_t p = 0; p < k; ++p) acc += a[i * lda + p] * b[j * ldb + p];
            c[i * ldc + j] = acc;
          }
        }
      },
      std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, n * k)));
}

template <typename T>
void clip_values(T* v, int64_t n, const std::optional<double>& clip) {
  if (!clip) return;
  const T c = static_cast<T>(*clip);
  for (int64_t i = 0; i < n; ++i) v[i] = std::clamp(v[i], -c, c);
}

// Operand pointers in the compute type; null for omitted optional inputs and outputs.
template <typename T>
struct Operands {
  const T *x = nullptr, *w = nullptr, *r = nullptr, *b = nullptr, *h0 = nullptr, *c0 = nullptr,
          *p = nullptr;
  T *y = nullptr, *yh = nullptr, *yc = nullptr;
};

// What one direction's cell computes at each step, given its precomputed input projection.
// Step state: h and c are [B, H]; xproj is [S*B, gates*H] in X's row order.
template <typename T>
struct DirectionRun {
  const RnnSpec& s;
  const Operands<T>& op;
  int64_t d;
  std::vector<T> xproj, h, c, rec;  // rec: recurrent projection of one step, [B, gates*H]

  DirectionRun(const RnnSpec& spec, const Operands<T>& ops, int64_t dir)
      : s(spec), op(ops), d(dir) {
    const int64_t GH = s.gates * s.H;
    xproj.resize(static_cast<size_t>(s.S * s.B * GH));
    gemm_nt(s.S * s.B, GH, s.I, op.x, s.I, op.w + d * GH * s.I, s.I, xproj.data(), GH);
    h.assign(static_cast<size_t>(s.B * s.H), T(0));
    c.assign(static_cast<size_t>(s.B * s.H), T(0));
    for (int64_t b = 0; b < s.B; ++b) {
      if (op.h0) std::copy_n(op.h0 + s.state_off(d, b), s.H, h.data() + b * s.H);
      if (op.c0) std::copy_n(op.c0 + s.state_off(d, b), s.H, c.data() + b * s.H);
    }
    rec.resize(static_cast<size_t>(s.B * GH));
  }

  // Time index row b reads at step `step`, or -1 once its sequence has ended.
  int64_t time_of(int64_t step, int64_t b) const {
    const int64_t len = s.lens[static_cast<size_t>(b)];
    if (step >= len) return -1;
    return s.reversed(d) ? len - 1 - step : step;
  }

  // Calls cell(b, t) for every row b still inside its sequence at `step` (t: the time it reads);
  // rows run in parallel when the step's element work, B * work_per_row, is large.
  template <typename Cell>
  void for_active_rows(int64_t step, int64_t work_per_row, Cell&& cell) {
    parallel_ranges(
        s.B,
        [&](int64_t b0, int64_t b1) {
          for (int64_t b = b0; b < b1; ++b) {
            const int64_t t = time_of(step, b);
            if (t >= 0) cell(b, t);
          }
        },
        std::max<int64_t>(1, kMinParallelElements / std::max<int64_t>(1, work_per_row)));
  }

  // Writes row b's new hidden state for time t into Y.
  void emit(int64_t t, int64_t b) {
    if (op.y) std::copy_n(h.data() + b * s.H, s.H, op.y + s.y_off(t, d, b));
  }

  void finish() {
    for (int64_t b = 0; b < s.B; ++b) {
      if (op.yh) std::copy_n(h.data() + b * s.H, s.H, op.yh + s.state_off(d, b));
      if (op.yc) std::copy_n(c.data() + b * s.H, s.H, op.yc + s.state_off(d, b));
    }
  }
};

// Wb + Rb of direction d for gates [first, first + count) (zeros without B).
template <typename T>
std::vector<T> summed_bias(const RnnSpec& s, const T* bias, int64_t d, int64_t first,
                           int64_t count) {
  std::vector<T> out(static_cast<size_t>(count * s.H), T(0));
  if (!bias) return out;
  const int64_t GH = s.gates * s.H;
  const T* wb = bias + d * 2 * GH + first * s.H;
  const T* rb = wb + GH;
  for (size_t j = 0; j < out.size(); ++j) out[j] = wb[j] + rb[j];
  return out;
}

// ------------------------------------------------------------------ cells

template <typename T>
void run_rnn_direction(const RnnSpec& s, const Operands<T>& op, int64_t d) {
  DirectionRun<T> run(s, op, d);
  const int64_t H = s.H;
  const std::vector<T> bias = summed_bias(s, op.b, d, 0, 1);
  const Activation& f = s.acts[static_cast<size_t>(d)];
  const T* r = op.r + d * H * H;
  for (int64_t step = 0; step < s.max_len; ++step) {
    gemm_nt(s.B, H, H, run.h.data(), H, r, H, run.rec.data(), H);
    run.for_active_rows(step, H, [&](int64_t b, int64_t t) {
      T* g = run.rec.data() + b * H;
      const T* xp = run.xproj.data() + s.x_row(t, b) * H;
      for (int64_t j = 0; j < H; ++j) g[j] += xp[j] + bias[j];
      clip_values(g, H, s.clip);
      f.apply(g, H);
      std::copy_n(g, H, run.h.data() + b * H);
      run.emit(t, b);
    });
  }
  run.finish();
}

template <typename T>
void run_gru_direction(const RnnSpec& s, const Operands<T>& op, int64_t d) {
  DirectionRun<T> run(s, op, d);
  const int64_t H = s.H, GH = 3 * H;
  const std::vector<T> zr_bias = summed_bias(s, op.b, d, 0, 2);
  std::vector<T> wbh(static_cast<size_t>(H), T(0)), rbh(static_cast<size_t>(H), T(0));
  if (op.b) {
    std::copy_n(op.b + d * 2 * GH + 2 * H, H, wbh.data());
    std::copy_n(op.b + d * 2 * GH + GH + 2 * H, H, rbh.data());
  }
  const Activation& f = s.acts[static_cast<size_t>(2 * d)];
  const Activation& g = s.acts[static_cast<size_t>(2 * d + 1)];
  const T* r = op.r + d * GH * H;
  std::vector<T> rh(static_cast<size_t>(s.B * H)), hr(static_cast<size_t>(s.B * H));
  for (int64_t step = 0; step < s.max_len; ++step) {
    // linear_before_reset: one GEMM for all three gates; else (r (.) H) Rh^T needs r first.
    gemm_nt(s.B, s.linear_before_reset ? GH : 2 * H, H, run.h.data(), H, r, H, run.rec.data(), GH);
    run.for_active_rows(step, 2 * H, [&](int64_t b, int64_t t) {
      T* zr = run.rec.data() + b * GH;
      const T* xp = run.xproj.data() + s.x_row(t, b) * GH;
      for (int64_t j = 0; j < 2 * H; ++j) zr[j] += xp[j] + zr_bias[j];
      clip_values(zr, 2 * H, s.clip);
      f.apply(zr, 2 * H);
      if (!s.linear_before_reset) {
        const T* hp = run.h.data() + b * H;
        for (int64_t j = 0; j < H; ++j) rh[b * H + j] = zr[H + j] * hp[j];
      }
    });
    if (!s.linear_before_reset) gemm_nt(s.B, H, H, rh.data(), H, r + 2 * H * H, H, hr.data(), H);
    run.for_active_rows(step, H, [&](int64_t b, int64_t t) {
      T* zr = run.rec.data() + b * GH;
      T* hh = zr + 2 * H;
      const T* xp = run.xproj.data() + s.x_row(t, b) * GH + 2 * H;
      if (s.linear_before_reset) {
        for (int64_t j = 0; j < H; ++j) hh[j] = xp[j] + wbh[j] + zr[H + j] * (hh[j] + rbh[j]);
      } else {
        const T* hrb = hr.data() + b * H;
        for (int64_t j = 0; j < H; ++j) hh[j] = xp[j] + hrb[j] + wbh[j] + rbh[j];
      }
      clip_values(hh, H, s.clip);
      g.apply(hh, H);
      T* hp = run.h.data() + b * H;
      for (int64_t j = 0; j < H; ++j) hp[j] = (T(1) - zr[j]) * hh[j] + zr[j] * hp[j];
      run.emit(t, b);
    });
  }
  run.finish();
}

template <typename T>
void run_lstm_direction(const RnnSpec& s, const Operands<T>& op, int64_t d) {
  DirectionRun<T> run(s, op, d);
  const int64_t H = s.H, GH = 4 * H;
  const std::vector<T> bias = summed_bias(s, op.b, d, 0, 4);
  std::vector<T> peep(static_cast<size_t>(3 * H), T(0));
  if (op.p) std::copy_n(op.p + d * 3 * H, 3 * H, peep.data());
  const T *pi = peep.data(), *po = pi + H, *pf = po + H;
  const Activation& f = s.acts[static_cast<size_t>(3 * d)];
  const Activation& g = s.acts[static_cast<size_t>(3 * d + 1)];
  const Activation& h = s.acts[static_cast<size_t>(3 * d + 2)];
  const T* r = op.r + d * GH * H;
  std::vector<T> cell_out(static_cast<size_t>(s.B * H));  // h(C) per row
  for (int64_t step = 0; step < s.max_len; ++step) {
    gemm_nt(s.B, GH, H, run.h.data(), H, r, H, run.rec.data(), GH);
    run.for_active_rows(step, GH, [&](int64_t b, int64_t t) {
      T* gates = run.rec.data() + b * GH;  // i, o, f, c
      const T* xp = run.xproj.data() + s.x_row(t, b) * GH;
      for (int64_t j = 0; j < GH; ++j) gates[j] += xp[j] + bias[j];
      T *gi = gates, *go = gates + H, *gf = gates + 2 * H, *gc = gates + 3 * H;
      T* cs = run.c.data() + b * H;
      for (int64_t j = 0; j < H; ++j) gi[j] += pi[j] * cs[j];
      clip_values(gi, H, s.clip);
      f.apply(gi, H);
      if (s.input_forget) {
        for (int64_t j = 0; j < H; ++j) gf[j] = T(1) - gi[j];
      } else {
        for (int64_t j = 0; j < H; ++j) gf[j] += pf[j] * cs[j];
        clip_values(gf, H, s.clip);
        f.apply(gf, H);
      }
      clip_values(gc, H, s.clip);
      g.apply(gc, H);
      for (int64_t j = 0; j < H; ++j) cs[j] = gf[j] * cs[j] + gi[j] * gc[j];
      for (int64_t j = 0; j < H; ++j) go[j] += po[j] * cs[j];
      clip_values(go, H, s.clip);
      f.apply(go, H);
      T* hc = cell_out.data() + b * H;
      std::copy_n(cs, H, hc);
      h.apply(hc, H);
      T* hs = run.h.data() + b * H;
      for (int64_t j = 0; j < H; ++j) hs[j] = go[j] * hc[j];
      run.emit(t, b);
    });
  }
  run.finish();
}

// ------------------------------------------------------------------ kernels

// f16 operands run in fp32; these convert them in and out.
Tensor f16_to_f32_tensor(const Tensor& t) {
  Tensor out(DType::kF32, t.shape());
  const uint16_t* src = t.data<uint16_t>();
  float* dst = out.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) dst[i] = f16_to_f32(src[i]);
  return out;
}
Tensor f32_to_f16_tensor(const Tensor& t) {
  Tensor out(DType::kF16, t.shape());
  const float* src = t.data<float>();
  uint16_t* dst = out.data<uint16_t>();
  for (int64_t i = 0; i < t.numel(); ++i) dst[i] = f32_to_f16(src[i]);
  return out;
}

template <typename T>
using DirectionFn = void (*)(const RnnSpec&, const Operands<T>&, int64_t);

// Allocates the requested outputs (Y, Y_h, and Y_c for LSTM) and runs every direction, the two
// of a bidirectional node concurrently.
template <typename T>
void run_directions(OpContext& ctx, const RnnSpec& s, const std::vector<const Tensor*>& in,
                    std::vector<Tensor>& out, DirectionFn<T> direction) {
  Operands<T> op;
  auto ptr = [&](size_t i) { return i < in.size() && in[i] ? in[i]->data<T>() : nullptr; };
  op.x = ptr(kX);
  op.w = ptr(kW);
  op.r = ptr(kR);
  op.b = ptr(kB);
  op.h0 = ptr(kInitH);
  op.c0 = ptr(kInitC);
  op.p = ptr(kP);
  const DType dt = std::is_same_v<T, float> ? DType::kF32 : DType::kF64;
  T** slots[] = {&op.y, &op.yh, &op.yc};
  for (size_t k = 0; k < out.size() && k < 3; ++k) {
    if (ctx.node.outputs[k].empty()) continue;
    out[k] = Tensor(dt, k == 0 ? s.y_shape() : s.state_shape());
    *slots[k] = out[k].template data<T>();
  }
  tbb::parallel_for(int64_t{0}, s.D, [&](int64_t d) { direction(s, op, d); });
}

Status run_recurrent(OpContext& ctx, const RnnSpec& s, DirectionFn<float> f32,
                     DirectionFn<double> f64) {
  std::vector<const Tensor*> in(ctx.inputs.size(), nullptr);
  for (size_t i = 0; i < in.size(); ++i) {
    if (i != kSeqLens) in[i] = optional_input(ctx, i);
  }
  std::vector<Tensor> out(ctx.outputs.size());
  switch (ctx.input(kX)->dtype()) {
    case DType::kF32:
      run_directions<float>(ctx, s, in, out, f32);
      break;
    case DType::kF64:
      run_directions<double>(ctx, s, in, out, f64);
      break;
    case DType::kF16: {
      std::vector<Tensor> converted(in.size());
      for (size_t i = 0; i < in.size(); ++i) {
        if (in[i]) {
          converted[i] = f16_to_f32_tensor(*in[i]);
          in[i] = &converted[i];
        }
      }
      run_directions<float>(ctx, s, in, out, f32);
      for (auto& t : out) {
        if (!t.empty()) t = f32_to_f16_tensor(t);
      }
      break;
    }
    default:
      return ctx.unsupported("element type " + dtype_str(ctx.input(kX)->dtype()) +
                             " is not supported");
  }
  for (size_t k = 0; k < out.size(); ++k) {
    if (!out[k].empty()) ctx.outputs[k] = std::move(out[k]);
  }
  return Status::Ok();
}

template <bool kLayout>
Status rnn(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(RnnSpec s, parse_spec(ctx, 1, 1, {"Tanh"}, kLayout, 6));
  return run_recurrent(ctx, s, run_rnn_direction<float>, run_rnn_direction<double>);
}

template <bool kLayout>
Status gru(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(RnnSpec s, parse_spec(ctx, 3, 2, {"Sigmoid", "Tanh"}, kLayout, 6));
  s.linear_before_reset = ctx.node.attr_int("linear_before_reset", 0) != 0;
  return run_recurrent(ctx, s, run_gru_direction<float>, run_gru_direction<double>);
}

template <bool kLayout>
Status lstm(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(RnnSpec s, parse_spec(ctx, 4, 3, {"Sigmoid", "Tanh", "Tanh"}, kLayout, 8));
  s.input_forget = ctx.node.attr_int("input_forget", 0) != 0;
  return run_recurrent(ctx, s, run_lstm_direction<float>, run_lstm_direction<double>);
}

}  // namespace

void register_recurrent_kernels(KernelRegistry& r) {
  r.add({"", "RNN", 7, 13, kRnnTypes}, rnn<false>);
  r.add({"", "RNN", 14, kLatestOpset, kRnnTypes}, rnn<true>);
  r.add({"", "GRU", 7, 13, kRnnTypes}, gru<false>);
  r.add({"", "GRU", 14, kLatestOpset, kRnnTypes}, gru<true>);
  r.add({"", "LSTM", 7, 13, kRnnTypes}, lstm<false>);
  r.add({"", "LSTM", 14, kLatestOpset, kRnnTypes}, lstm<true>);
}

}  // namespace qtune
