#include "runtime/conv_operands.h"

#include <string>

namespace qtune {

Result<ConvOperands> check_conv_operands(const OpContext& ctx, const Tensor& x, const Tensor& w) {
  if (x.rank() < 3) {
    return ctx.invalid("input x must be [N, C, D1, ...], got shape " + shape_str(x.shape()));
  }
  if (w.rank() != x.rank()) {
    return ctx.invalid("weight shape " + shape_str(w.shape()) + " does not match x " +
                       shape_str(x.shape()));
  }
  ConvOperands o;
  o.group = ctx.node.attr_int("group", 1);
  const int64_t c = x.dim(1), m = w.dim(0);
  if (o.group < 1) return ctx.invalid("group must be >= 1");
  if (c % o.group != 0 || m % o.group != 0 || w.dim(1) * o.group != c) {
    return ctx.invalid("channels do not fit group " + std::to_string(o.group) + ": x " +
                       shape_str(x.shape()) + ", w " + shape_str(w.shape()));
  }
  o.in_sp.assign(x.shape().begin() + 2, x.shape().end());
  o.k_sp.assign(w.shape().begin() + 2, w.shape().end());
  if (ctx.node.has_attr("kernel_shape") && ctx.node.attr_ints("kernel_shape") != o.k_sp) {
    return ctx.invalid("kernel_shape " + shape_str(ctx.node.attr_ints("kernel_shape")) +
                       " does not match weight shape " + shape_str(w.shape()));
  }
  QT_ASSIGN_OR_RETURN(o.geo, conv_geometry(ctx.node, o.in_sp, o.k_sp));
  return o;
}

}  // namespace qtune
