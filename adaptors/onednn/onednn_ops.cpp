// QConv / QGemm as oneDNN int8 convolution / matmul primitives: the bias rides in the primitive's
// bias (applied to the s32 accumulator, before output scales), x_scale*w_scale[c] (/ y_scale) in
// its output scales, Relu/Clip and the output zero point in eltwise post-ops, and the activation
// zero point in a runtime src zero point (padding then contributes exactly zero, as in
// QLinearConv). Bf16Conv / Bf16Gemm reorder f32 to bf16 and accumulate into f32; F32Conv /
// F32Gemm are the plain f32 primitives, Relu/Clip as a post-op and the bias in the primitive's.
// Per node a Plan (weights, scales, bias) is built once from the constant inputs; per input shape
// it holds a primitive with its layout reorders.
#include "adaptors/onednn/onednn_ops.h"

#include <dlfcn.h>
#include <tbb/global_control.h>

#include <dnnl.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "adaptors/fused_op_inputs.h"
#include "adaptors/fused_op_schemas.h"
#include "runtime/conv_operands.h"
#include "runtime/conv_geometry.h"
#include "kernels/quantize_ref.h"

namespace qtune {
namespace {

using dt = dnnl::memory::data_type;
using dims = dnnl::memory::dims;
using mdesc = dnnl::memory::desc;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr size_t kMaxShapesPerNode = 16;  // primitives kept per node (one per input shape)

std::atomic<uint64_t> g_weight_reorders{0};

const dnnl::engine& cpu_engine() {
  static const dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

// This oneDNN runs on libgomp while qtune's own ops run on TBB: oneDNN gets the same thread
// budget qtune was given (--threads), else the two pools oversubscribe the cores. The OpenMP call
// is looked up at run time (libgomp comes with libdnnl; another oneDNN runtime lacks it).
void match_thread_budget() {
  using SetFn = void (*)(int);
  static const auto set_threads =
      reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  // OpenMP's thread count is a per-thread setting.
  thread_local size_t applied = 0;
  const size_t n =
      tbb::global_control::active_value(tbb::global_control::max_allowed_parallelism);
  if (set_threads && n != applied && n > 0) {
    set_threads(static_cast<int>(n));
    applied = n;
  }
}

std::string dtn(DType t) { return std::string(dtype_name(t)); }

dt to_dnnl(DType t) {
  switch (t) {
    case DType::kU8: return dt::u8;
    case DType::kS8: return dt::s8;
    case DType::kS32: return dt::s32;
    case DType::kBF16: return dt::bf16;
    default: return dt::f32;
  }
}

// A dense row-major descriptor; `order` permutes which dim is outermost (trans_b weights).
mdesc plain_md(const dims& d, dt type, const std::vector<size_t>& order = {}) {
  dims strides(d.size(), 1);
  std::vector<size_t> perm = order;
  if (perm.empty()) {
    for (size_t i = 0; i < d.size(); ++i) perm.push_back(i);
  }
  int64_t s = 1;
  for (size_t i = perm.size(); i-- > 0;) {
    strides[perm[i]] = s;
    s *= std::max<int64_t>(d[perm[i]], 1);
  }
  return mdesc(d, type, strides);
}

// ------------------------------------------------------------------ input validation

// ------------------------------------------------------------------ problem shapes

// One invocation's shapes in oneDNN terms.
struct Problem {
  bool conv = true;
  dims src, wei, dst;                     // wei: {[G,] OC/G, IC/G, k...} or {K, N}
  std::vector<size_t> wei_order;          // physical order of the user's weights (trans_b)
  dims strides, dilates, pad_l, pad_r;    // conv only; dilates are oneDNN's (d - 1)
  Shape out_shape;                        // qtune's output shape
};

Status plan_conv(const OpContext& ctx, const Tensor& x, const Tensor& w, Problem* p) {
  if (x.rank() != 3 && x.rank() != 4) {
    return ctx.invalid("x has shape " + shape_str(x.shape()) + "; expected [N,C,W] or [N,C,H,W]");
  }
  QT_ASSIGN_OR_RETURN(ConvOperands ops, check_conv_operands(ctx, x, w));
  const int64_t group = ops.group, m = w.dim(0);
  const Shape& in_sp = ops.in_sp;
  const Shape& k_sp = ops.k_sp;
  const ConvGeometry& geo = ops.geo;
  const size_t r = in_sp.size();
  p->conv = true;
  p->src = x.shape();
  p->dst = {x.dim(0), m};
  p->dst.insert(p->dst.end(), geo.out.begin(), geo.out.end());
  p->wei = group == 1 ? dims{m, w.dim(1)} : dims{group, m / group, w.dim(1)};
  p->wei.insert(p->wei.end(), k_sp.begin(), k_sp.end());
  p->strides = geo.strides;
  p->dilates.clear();
  for (int64_t d : geo.dilations) p->dilates.push_back(d - 1);
  p->pad_l.assign(geo.pads.begin(), geo.pads.begin() + static_cast<std::ptrdiff_t>(r));
  p->pad_r.assign(geo.pads.begin() + static_cast<std::ptrdiff_t>(r), geo.pads.end());
  p->out_shape = p->dst;
  return Status::Ok();
}

// x [..., K] against w [K, N] (or [N, K] with trans_b): M is the product of x's leading dims.
Status plan_gemm(const OpContext& ctx, const Tensor& x, const Tensor& w, Problem* p) {
  if (x.rank() < 1) return ctx.invalid("x must have rank >= 1");
  if (w.rank() != 2) return ctx.invalid("weight shape " + shape_str(w.shape()) + " is not 2-D");
  const bool trans_b = ctx.node.attr_int("trans_b", 0) != 0;
  const int64_t k = x.dim(x.rank() - 1);
  const int64_t wk = trans_b ? w.dim(1) : w.dim(0);
  const int64_t n = trans_b ? w.dim(0) : w.dim(1);
  if (wk != k) {
    return ctx.invalid("inner dimensions differ: x " + shape_str(x.shape()) + ", w " +
                       shape_str(w.shape()) + (trans_b ? " (transposed)" : ""));
  }
  const int64_t m = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));
  p->conv = false;
  p->src = {m, k};
  p->wei = {k, n};
  p->wei_order = trans_b ? std::vector<size_t>{1, 0} : std::vector<size_t>{};
  p->dst = {m, n};
  p->out_shape.assign(x.shape().begin(), x.shape().end() - 1);
  p->out_shape.push_back(n);
  return Status::Ok();
}

// ------------------------------------------------------------------ plans and primitives

// Everything a node's primitives are built from except the input shape.
struct Spec {
  bool conv = true;  // convolution, else matmul
  enum class Precision { kInt8, kBf16, kF32 } precision = Precision::kInt8;
  DType x_type = DType::kF32, y_type = DType::kF32;
  Tensor w;                    // shares the weight's storage, so reorders can read it later
  std::vector<float> scales;   // output scales (int8 only): one, or one per output channel
  std::vector<int32_t> bias_s32;
  std::vector<float> bias_f32;
  int32_t x_zero_point = 0, y_zero_point = 0;
  ActivationBounds act;              // in the destination's units (before the output zero point)
};

// One primitive for one input shape, with the reorders between qtune's plain layouts and the
// primitive's chosen ones.
struct Kernel {
  dnnl::primitive prim;
  mdesc src_md, dst_md, user_src_md, user_dst_md;
  std::optional<dnnl::reorder> src_reorder, dst_reorder;
  mdesc prim_scratch, src_scratch, dst_scratch;
  dnnl::memory weights;
  size_t scratch_bytes = 0;
};

class Plan {
 public:
  explicit Plan(Spec spec) : spec_(std::move(spec)) {
    const auto& eng = cpu_engine();
    // Convolution takes the bias as [N], matmul as [1, N].
    auto bias_md = [&](int64_t n, dt type) {
      return spec_.conv ? plain_md({n}, type) : plain_md({1, n}, type);
    };
    if (!spec_.bias_s32.empty()) {
      const int64_t n = static_cast<int64_t>(spec_.bias_s32.size());
      bias_ = dnnl::memory(bias_md(n, dt::s32), eng);
      std::memcpy(bias_.get_data_handle(), spec_.bias_s32.data(), n * sizeof(int32_t));
    } else if (!spec_.bias_f32.empty()) {
      const int64_t n = static_cast<int64_t>(spec_.bias_f32.size());
      bias_ = dnnl::memory(bias_md(n, dt::f32), eng);
      std::memcpy(bias_.get_data_handle(), spec_.bias_f32.data(), n * sizeof(float));
    }
    if (spec_.x_zero_point != 0) {
      zero_point_ = dnnl::memory(mdesc({1}, dt::s32, dnnl::memory::format_tag::a), eng);
      *static_cast<int32_t*>(zero_point_.get_data_handle()) = spec_.x_zero_point;
    }
  }

  // y = op(x) for plain row-major x and y of the problem's shapes. Throws dnnl::error.
  void run(const Problem& p, const void* x, void* y) const {
    // Before the primitive is built: oneDNN sizes its work split at creation.
    match_thread_budget();
    std::shared_ptr<const Kernel> k = kernel(p);
    const auto& eng = cpu_engine();
    dnnl::stream strm(eng);
    // One buffer for every scratchpad: the primitives run one after another.
    dnnl::memory scratch_buf;
    void* scratch_ptr = nullptr;
    if (k->scratch_bytes > 0) {
      scratch_buf = dnnl::memory(mdesc({static_cast<int64_t>(k->scratch_bytes)}, dt::u8,
                                       dnnl::memory::format_tag::a),
                                 eng);
      scratch_ptr = scratch_buf.get_data_handle();
    }
    auto add_scratch = [&](std::unordered_map<int, dnnl::memory>& args, const mdesc& d) {
      if (d.get_size() > 0) args[DNNL_ARG_SCRATCHPAD] = dnnl::memory(d, eng, scratch_ptr);
    };

    dnnl::memory user_src(k->user_src_md, eng, const_cast<void*>(x));
    dnnl::memory src = user_src;
    if (k->src_reorder) {
      src = dnnl::memory(k->src_md, eng);
      std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_FROM, user_src}, {DNNL_ARG_TO, src}};
      add_scratch(args, k->src_scratch);
      k->src_reorder->execute(strm, args);
    }
    dnnl::memory user_dst(k->user_dst_md, eng, y);
    dnnl::memory dst = k->dst_reorder ? dnnl::memory(k->dst_md, eng) : user_dst;

    std::unordered_map<int, dnnl::memory> args{
        {DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, k->weights}, {DNNL_ARG_DST, dst}};
    if (bias_) args[DNNL_ARG_BIAS] = bias_;
    if (zero_point_) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = zero_point_;
    add_scratch(args, k->prim_scratch);
    k->prim.execute(strm, args);

    if (k->dst_reorder) {
      std::unordered_map<int, dnnl::memory> rargs{{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, user_dst}};
      add_scratch(rargs, k->dst_scratch);
      k->dst_reorder->execute(strm, rargs);
    }
    strm.wait();
  }

 private:
  std::shared_ptr<const Kernel> kernel(const Problem& p) const {
    dims key = p.src;
    std::lock_guard<std::mutex> lock(mu_);
    auto it = kernels_.find(key);
    if (it != kernels_.end()) return it->second;
    if (kernels_.size() >= kMaxShapesPerNode) kernels_.clear();
    auto k = build(p);
    kernels_.emplace(std::move(key), k);
    return k;
  }

  dnnl::primitive_attr attr() const {
    dnnl::primitive_attr a;
    a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (spec_.precision == Spec::Precision::kInt8) {
      const int mask = spec_.scales.size() > 1 ? 1 << 1 : 0;  // dst dim 1: output channels
      a.set_output_scales(mask, spec_.scales);
      if (spec_.x_zero_point != 0) a.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
    }
    dnnl::post_ops po;
    // Infinite clip bounds as the largest finite floats, which clamp nothing.
    const float big = std::numeric_limits<float>::max();
    if (spec_.act.kind == FusedActivation::kRelu) {
      po.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    } else if (spec_.act.kind == FusedActivation::kClip &&
               (std::isfinite(spec_.act.lo) || std::isfinite(spec_.act.hi))) {
      po.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, std::clamp(spec_.act.lo, -big, big),
                        std::clamp(spec_.act.hi, -big, big));
    }
    if (spec_.y_zero_point != 0) {
      po.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f,
                        static_cast<float>(spec_.y_zero_point));
    }
    a.set_post_ops(po);
    return a;
  }

  std::shared_ptr<const Kernel> build(const Problem& p) const {
    const auto& eng = cpu_engine();
    const auto any = dnnl::memory::format_tag::any;
    const dt src_t = spec_.precision == Spec::Precision::kBf16 ? dt::bf16 : to_dnnl(spec_.x_type);
    const dt wei_t = spec_.precision == Spec::Precision::kInt8   ? dt::s8
                     : spec_.precision == Spec::Precision::kBf16 ? dt::bf16
                                                                 : dt::f32;
    const dt dst_t = to_dnnl(spec_.y_type);
    auto k = std::make_shared<Kernel>();
    k->user_src_md = plain_md(p.src, to_dnnl(spec_.x_type));
    k->user_dst_md = plain_md(p.dst, dst_t);
    const dnnl::primitive_attr a = attr();
    mdesc wei_md;
    if (p.conv) {
      mdesc bias_md;
      if (bias_) bias_md = bias_.get_desc();
      dnnl::convolution_forward::desc d(
          dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct,
          mdesc(p.src, src_t, any), mdesc(p.wei, wei_t, any), bias_md, mdesc(p.dst, dst_t, any),
          p.strides, p.dilates, p.pad_l, p.pad_r);
      dnnl::convolution_forward::primitive_desc pd(d, a, eng);
      k->prim = dnnl::convolution_forward(pd);
      k->src_md = pd.src_desc();
      k->dst_md = pd.dst_desc();
      k->prim_scratch = pd.scratchpad_desc();
      wei_md = pd.weights_desc();
    } else {
      mdesc bias_md;
      if (bias_) bias_md = bias_.get_desc();
      dnnl::matmul::desc d(plain_md(p.src, src_t), mdesc(p.wei, wei_t, any), bias_md,
                           plain_md(p.dst, dst_t));
      dnnl::matmul::primitive_desc pd(d, a, eng);
      k->prim = dnnl::matmul(pd);
      k->src_md = pd.src_desc();
      k->dst_md = pd.dst_desc();
      k->prim_scratch = pd.scratchpad_desc();
      wei_md = pd.weights_desc();
    }
    dnnl::primitive_attr ra;
    ra.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (k->src_md != k->user_src_md) {
      dnnl::reorder::primitive_desc rpd(eng, k->user_src_md, eng, k->src_md, ra);
      k->src_reorder = dnnl::reorder(rpd);
      k->src_scratch = rpd.scratchpad_desc();
    }
    if (k->dst_md != k->user_dst_md) {
      dnnl::reorder::primitive_desc rpd(eng, k->dst_md, eng, k->user_dst_md, ra);
      k->dst_reorder = dnnl::reorder(rpd);
      k->dst_scratch = rpd.scratchpad_desc();
    }
    k->scratch_bytes = std::max({k->prim_scratch.get_size(), k->src_scratch.get_size(),
                                 k->dst_scratch.get_size()});
    k->weights = weights_for(p, wei_md);
    return k;
  }

  // The weights in `want`'s layout, reordered once per layout (usually once per model).
  dnnl::memory weights_for(const Problem& p, const mdesc& want) const {
    for (const auto& [d, m] : weights_) {
      if (d == want) return m;
    }
    const auto& eng = cpu_engine();
    const mdesc user = plain_md(p.wei, to_dnnl(spec_.w.dtype()), p.wei_order);
    dnnl::memory from(user, eng, const_cast<void*>(spec_.w.raw()));
    dnnl::memory to(want, eng);
    dnnl::stream strm(eng);
    dnnl::reorder(from, to).execute(strm, from, to);
    strm.wait();
    g_weight_reorders.fetch_add(1, std::memory_order_relaxed);
    if (weights_.size() >= kMaxShapesPerNode) weights_.clear();
    weights_.emplace_back(want, to);
    return to;
  }

  Spec spec_;
  dnnl::memory bias_, zero_point_;
  mutable std::mutex mu_;
  mutable std::map<dims, std::shared_ptr<const Kernel>> kernels_;
  mutable std::vector<std::pair<mdesc, dnnl::memory>> weights_;
};

// What the node cache holds (a Plan owns a mutex, so it is kept by pointer).
struct CachedPlan {
  std::shared_ptr<const Plan> plan;
};

// The node's Plan from make_spec(): cached when every input it is built from is a graph
// constant, else built per call.
template <typename MakeSpec>
std::shared_ptr<const Plan> node_plan(OpContext& ctx, MakeSpec&& make_spec) {
  bool constant = ctx.cache != nullptr;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (optional_input(ctx, i)) constant = constant && ctx.input_is_constant(i);
  }
  if (!constant) return std::make_shared<const Plan>(make_spec());
  return ctx.cache->get<CachedPlan>(ctx.input(1)->raw(), [&] {
    return CachedPlan{std::make_shared<const Plan>(make_spec())};
  })->plan;
}

// Runs `body`, turning oneDNN's exceptions into a Status that names the node.
template <typename Body>
Status guarded(OpContext& ctx, Body&& body) {
  try {
    return body();
  } catch (const dnnl::error& e) {
    return Status::Internal(ctx.node.describe() + ": oneDNN: " + e.what());
  } catch (const std::exception& e) {
    return Status::Internal(ctx.node.describe() + ": " + e.what());
  }
}

// ------------------------------------------------------------------ empty reductions

// K == 0 (no input channels / columns): every accumulator is 0, so each output is its channel's
// epilogue of the bias alone. oneDNN does not take zero-sized reductions.
bool empty_reduction(const Problem& p) {
  if (!p.conv) return p.wei[0] == 0;
  const size_t spatial = p.src.size() - 2;
  return p.wei[p.wei.size() - spatial - 1] == 0;  // input channels per group
}

// real[c] is channel c's value in the real domain before the activation.
void fill_channels(const Problem& p, const std::vector<float>& real, const ActivationBounds& act,
                   const OutQuant& oq, Tensor* y) {
  const int64_t channels = p.dst[1];
  int64_t inner = 1;
  for (size_t i = 2; i < p.dst.size(); ++i) inner *= p.dst[i];
  for (int64_t i = 0; i < y->numel(); ++i) {
    const int64_t c = (i / inner) % channels;
    const float v = std::min(std::max(real[c], act.lo), act.hi);
    switch (oq.type) {
      case DType::kU8:
        y->data<uint8_t>()[i] =
            static_cast<uint8_t>(quantize_value(v, oq.scale, oq.zero_point, qrange(DType::kU8)));
        break;
      case DType::kS8:
        y->data<int8_t>()[i] =
            static_cast<int8_t>(quantize_value(v, oq.scale, oq.zero_point, qrange(DType::kS8)));
        break;
      default: y->data<float>()[i] = v; break;
    }
  }
}

// Channel c's bias in the real domain: an s32 bias is at x_scale * w_scale[c].
std::vector<float> real_bias(int64_t n, const Tensor* bias, float x_scale, const Tensor* w_scale) {
  std::vector<float> r(static_cast<size_t>(n), 0.0f);
  if (!bias) return r;
  for (int64_t c = 0; c < n; ++c) {
    if (bias->dtype() == DType::kF32) {
      r[c] = bias->data<float>()[c];
    } else {
      const float ws = w_scale->data<float>()[w_scale->numel() > 1 ? c : 0];
      r[c] = static_cast<float>(bias->data<int32_t>()[c]) * (x_scale * ws);
    }
  }
  return r;
}

// ------------------------------------------------------------------ QConv / QGemm

// The int8 Spec: the epilogue expressed in oneDNN's order, dst = post_ops(scale * (acc + bias)).
Spec int8_spec(bool conv, const XQuant& xq, const Tensor& w, const Tensor& w_scale,
               const Tensor* bias, const OutQuant& oq, const ActivationBounds& act) {
  Spec s;
  s.conv = conv;
  s.x_type = xq.x->dtype();
  s.y_type = oq.type;
  s.w = w;
  s.x_zero_point = xq.zero_point;
  s.y_zero_point = oq.type == DType::kF32 ? 0 : oq.zero_point;
  const int64_t nscale = w_scale.numel();
  std::vector<float> combined(static_cast<size_t>(nscale));
  for (int64_t c = 0; c < nscale; ++c) combined[c] = xq.scale * w_scale.data<float>()[c];
  s.scales = combined;
  s.act = act;
  if (oq.type != DType::kF32) {
    // Relu/Clip commute with dividing by a positive y_scale: apply them on the output grid.
    for (float& v : s.scales) v /= oq.scale;
    if (act.kind == FusedActivation::kClip) {
      s.act.lo = static_cast<float>(static_cast<double>(act.lo) / oq.scale);
      s.act.hi = static_cast<float>(static_cast<double>(act.hi) / oq.scale);
    }
  }
  if (bias && bias->dtype() == DType::kS32) {
    s.bias_s32.assign(bias->data<int32_t>(), bias->data<int32_t>() + bias->numel());
  } else if (bias) {
    // An f32 bias is added to the accumulator, so it goes in at the accumulator's scale.
    s.bias_f32.resize(static_cast<size_t>(bias->numel()));
    for (int64_t c = 0; c < bias->numel(); ++c) {
      s.bias_f32[c] = bias->data<float>()[c] / combined[nscale > 1 ? c : 0];
    }
  }
  return s;
}

Status qlinear_op(OpContext& ctx, bool conv) {
  XQuant xq;
  const Tensor *w = nullptr, *w_scale = nullptr, *bias = nullptr;
  OutQuant oq;
  ActivationBounds act;
  QT_RETURN_IF_ERROR(read_x(ctx, &xq));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "w_q", &w));
  if (w->dtype() != DType::kS8) return ctx.invalid("w_q has type " + dtn(w->dtype()) + ", expected s8");
  Problem p;
  QT_RETURN_IF_ERROR(conv ? plan_conv(ctx, *xq.x, *w, &p) : plan_gemm(ctx, *xq.x, *w, &p));
  const int64_t n = p.dst[1];  // output channels / columns
  QT_RETURN_IF_ERROR(read_w_scale(ctx, n, &w_scale));
  QT_RETURN_IF_ERROR(read_bias(ctx, 3, n, true, &bias));
  QT_RETURN_IF_ERROR(read_out(ctx, &oq));
  QT_RETURN_IF_ERROR(read_activation(ctx, &act));
  // Its target never asks for the rounding before the bias (requant_bias_add is off).
  if (const Tensor* ms = ctx.input(8); ms && !ms->empty()) {
    return ctx.unsupported("mid_scale (a requantization before the bias) is not supported");
  }
  Tensor y(oq.type, p.out_shape);
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  if (empty_reduction(p)) {
    fill_channels(p, real_bias(n, bias, xq.scale, w_scale), act, oq, &y);
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  return guarded(ctx, [&] {
    auto plan = node_plan(ctx, [&] { return int8_spec(conv, xq, *w, *w_scale, bias, oq, act); });
    plan->run(p, xq.x->raw(), y.raw());
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

Status qconv(OpContext& ctx) { return qlinear_op(ctx, true); }
Status qgemm(OpContext& ctx) { return qlinear_op(ctx, false); }

// ------------------------------------------------------------------ Bf16Conv/Gemm, F32Conv/Gemm

Status require_f32(const OpContext& ctx, const Tensor& t, const char* name) {
  if (t.dtype() == DType::kF32) return Status::Ok();
  return ctx.invalid(std::string(name) + " has type " + dtn(t.dtype()) + ", expected f32");
}

Status float_op(OpContext& ctx, bool conv, Spec::Precision precision) {
  const Tensor *x = nullptr, *w = nullptr, *bias = nullptr;
  ActivationBounds act;
  QT_RETURN_IF_ERROR(require_input(ctx, 0, "x", &x));
  QT_RETURN_IF_ERROR(require_input(ctx, 1, "w", &w));
  QT_RETURN_IF_ERROR(require_f32(ctx, *x, "x"));
  QT_RETURN_IF_ERROR(require_f32(ctx, *w, "w"));
  Problem p;
  QT_RETURN_IF_ERROR(conv ? plan_conv(ctx, *x, *w, &p) : plan_gemm(ctx, *x, *w, &p));
  QT_RETURN_IF_ERROR(read_bias(ctx, 2, p.dst[1], false, &bias));
  QT_RETURN_IF_ERROR(read_activation(ctx, &act));
  Tensor y(DType::kF32, p.out_shape);
  if (y.numel() == 0) {
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  if (empty_reduction(p)) {
    fill_channels(p, real_bias(p.dst[1], bias, 1.0f, nullptr), act, OutQuant{}, &y);
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  }
  return guarded(ctx, [&] {
    auto plan = node_plan(ctx, [&] {
      Spec s;
      s.conv = conv;
      s.precision = precision;
      s.x_type = s.y_type = DType::kF32;
      s.w = *w;
      if (bias) s.bias_f32.assign(bias->data<float>(), bias->data<float>() + bias->numel());
      s.act = act;
      return s;
    });
    plan->run(p, x->raw(), y.raw());
    ctx.outputs[0] = std::move(y);
    return Status::Ok();
  });
}

Status bf16_conv(OpContext& ctx) { return float_op(ctx, true, Spec::Precision::kBf16); }
Status bf16_gemm(OpContext& ctx) { return float_op(ctx, false, Spec::Precision::kBf16); }
Status f32_conv(OpContext& ctx) { return float_op(ctx, true, Spec::Precision::kF32); }
Status f32_gemm(OpContext& ctx) { return float_op(ctx, false, Spec::Precision::kF32); }

}  // namespace

const KernelRegistry& onednn_ops() {
  static const KernelRegistry* registry = [] {
    register_fused_op_schemas(kOneDnnDomain);
    auto* r = new KernelRegistry();
    r->add({kOneDnnDomain, kQConvOp, 1, 1}, qconv);
    r->add({kOneDnnDomain, kQGemmOp, 1, 1}, qgemm);
    r->add({kOneDnnDomain, kBf16ConvOp, 1, 1}, bf16_conv);
    r->add({kOneDnnDomain, kBf16GemmOp, 1, 1}, bf16_gemm);
    r->add({kOneDnnDomain, kF32ConvOp, 1, 1}, f32_conv);
    r->add({kOneDnnDomain, kF32GemmOp, 1, 1}, f32_gemm);
    return r;
  }();
  return *registry;
}

LoweringTarget onednn_lowering_target() {
  LoweringTarget t;
  t.domain = kOneDnnDomain;
  // Convolution covers 1-D/2-D, matmul any M; both take u8/s8 sources and any epilogue.
  t.conv = t.gemm = t.matmul = true;
  t.s8_activations = true;
  t.f32_output = true;
  t.clip = true;
  t.int8_maxpool = true;
  t.bf16_conv = t.bf16_gemm = true;
  // fp32 fallback ops and fp32 baselines run on oneDNN too, not on the reference ops.
  t.f32_conv = t.f32_gemm = true;
  return t;
}

uint64_t onednn_weight_reorders() { return g_weight_reorders.load(std::memory_order_relaxed); }

}  // namespace qtune
