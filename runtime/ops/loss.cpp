// Losses: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (with its optional log_prob
// output), with class weights, ignore_index and none/sum/mean reductions, for the floating
// element types and int32/int64 targets. Everything accumulates in double.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "runtime/op_util.h"

namespace qtune {
namespace {

// Sets output 0 to the negative log-likelihood of `logp` ([N, C, D1, ...] log-probabilities in
// the input's layout) at the classes in `target` ([N, D1, ...]).
Status nll(OpContext& ctx, const std::vector<double>& logp, const Shape& in_shape,
           const Tensor& target, const Tensor* weight, DType out_type) {
  if (in_shape.size() < 2) {
    return ctx.invalid("input has shape " + shape_str(in_shape) + "; needs [N, C, ...]");
  }
  const int64_t N = in_shape[0], C = in_shape[1];
  const int64_t D = dims_product(in_shape, 2, in_shape.size());
  Shape want_target = {N};
  want_target.insert(want_target.end(), in_shape.begin() + 2, in_shape.end());
  if (target.shape() != want_target) {
    return ctx.invalid("target has shape " + shape_str(target.shape()) + ", expected " +
                       shape_str(want_target));
  }
  if (weight && weight->shape() != Shape{C}) {
    return ctx.invalid("weight has shape " + shape_str(weight->shape()) + ", expected [" +
                       std::to_string(C) + "]");
  }
  const std::string reduction = ctx.node.attr_string("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean") {
    return ctx.invalid("reduction '" + reduction + "' is not none, sum or mean");
  }
  const bool has_ignore = ctx.node.has_attr("ignore_index");
  const int64_t ignore = ctx.node.attr_int("ignore_index", 0);
  std::vector<double> loss(static_cast<size_t>(N * D), 0.0);
  double loss_sum = 0.0, weight_sum = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t d = 0; d < D; ++d) {
      const int64_t t = target.get_i64(n * D + d);
      if (has_ignore && t == ignore) continue;
      if (t < 0 || t >= C) {
        return ctx.invalid("target " + std::to_string(t) + " is outside [0, " +
                           std::to_string(C) + ")");
      }
      const double w = weight ? weight->get_f64(t) : 1.0;
      const double l = -logp[static_cast<size_t>((n * C + t) * D + d)] * w;
      loss[static_cast<size_t>(n * D + d)] = l;
      loss_sum += l;
      weight_sum += w;
    }
  }
  if (reduction == "none") {
    QT_ASSIGN_OR_RETURN(ctx.outputs[0], tensor_from_doubles(ctx, out_type, want_target, loss));
    return Status::Ok();
  }
  // The mean divides by the total weight of the targets that count (0/0 when none does).
  const double value = reduction == "sum" ? loss_sum : loss_sum / weight_sum;
  QT_ASSIGN_OR_RETURN(ctx.outputs[0], tensor_from_doubles(ctx, out_type, {}, {value}));
  return Status::Ok();
}

Status check_inputs(const OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 3));
  QT_RETURN_IF_ERROR(need_type(ctx, 1, {DType::kS32, DType::kS64}));
  if (has_input(ctx, 2)) QT_RETURN_IF_ERROR(need_type(ctx, 2, kFloatTypes));
  return Status::Ok();
}


Status nll_loss(OpContext& ctx) {
  QT_RETURN_IF_ERROR(check_inputs(ctx));
  const Tensor& x = *ctx.input(0);
  return nll(ctx, as_doubles(x), x.shape(), *ctx.input(1),
             has_input(ctx, 2) ? ctx.input(2) : nullptr, x.dtype());
}

// Log-softmax over the classes (axis 1), then the negative log-likelihood.
Status softmax_cross_entropy(OpContext& ctx) {
  QT_RETURN_IF_ERROR(check_inputs(ctx));
  const Tensor& x = *ctx.input(0);
  if (x.rank() < 2) {
    return ctx.invalid("scores have shape " + shape_str(x.shape()) + "; needs [N, C, ...]");
  }
  std::vector<double> logp = as_doubles(x);
  const int64_t N = x.dim(0), C = x.dim(1), D = dims_product(x.shape(), 2, x.shape().size());
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t d = 0; d < D; ++d) {
      double* p = logp.data() + n * C * D + d;
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t c = 0; c < C; ++c) mx = std::max(mx, p[c * D]);
      double sum = 0.0;
      for (int64_t c = 0; c < C; ++c) sum += std::exp(p[c * D] - mx);
      const double shift = mx + std::log(sum);
      for (int64_t c = 0; c < C; ++c) p[c * D] -= shift;
    }
  }
  QT_RETURN_IF_ERROR(nll(ctx, logp, x.shape(), *ctx.input(1),
                         has_input(ctx, 2) ? ctx.input(2) : nullptr, x.dtype()));
  if (ctx.node.outputs.size() > 1 && !ctx.node.outputs[1].empty()) {
    QT_ASSIGN_OR_RETURN(ctx.outputs[1], tensor_from_doubles(ctx, x.dtype(), x.shape(), logp));
  }
  return Status::Ok();
}

const std::vector<DType> kHalfFloatTypes = {DType::kF32, DType::kF64, DType::kF16};

}  // namespace

void register_loss_kernels(KernelRegistry& r) {
  r.add({"", "NegativeLogLikelihoodLoss", 12, kLatestOpset, kHalfFloatTypes}, nll_loss);
  r.add({"", "SoftmaxCrossEntropyLoss", 12, 12, kHalfFloatTypes}, softmax_cross_entropy);
  r.add({"", "SoftmaxCrossEntropyLoss", 13, kLatestOpset, kFloatTypes}, softmax_cross_entropy);
}

}  // namespace qtune
