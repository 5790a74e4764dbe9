#include "runtime/conv_operands.h"

#include <algorithm>
#include <string>

#include "runtime/broadcast.h"
#include "kernels/qconv.h"

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

void conv2d_shape(const Tensor& x, const Tensor& w, const ConvOperands& ops, QConvShape* out) {
  const bool one_d = ops.in_sp.size() == 1;
  const size_t r = ops.in_sp.size();
  QConvShape& s = *out;
  s = QConvShape{};
  s.batch = x.dim(0);
  s.in_channels = x.dim(1);
  s.out_channels = w.dim(0);
  s.group = ops.group;
  s.in_h = one_d ? 1 : ops.in_sp[0];
  s.in_w = ops.in_sp[r - 1];
  s.kernel_h = one_d ? 1 : ops.k_sp[0];
  s.kernel_w = ops.k_sp[r - 1];
  s.stride_h = one_d ? 1 : ops.geo.strides[0];
  s.stride_w = ops.geo.strides[r - 1];
  s.dilation_h = one_d ? 1 : ops.geo.dilations[0];
  s.dilation_w = ops.geo.dilations[r - 1];
  s.pad_top = one_d ? 0 : ops.geo.pads[0];
  s.pad_bottom = one_d ? 0 : ops.geo.pads[r];
  s.pad_left = ops.geo.pads[r - 1];
  s.pad_right = ops.geo.pads[2 * r - 1];
}

ConvGeometry3d geometry_3d(const Shape& in_sp, const Shape& k_sp, const ConvGeometry& g,
                           int64_t channels) {
  ConvGeometry3d g3;
  g3.channels = channels;
  const size_t nd = in_sp.size(), off = 3 - nd;
  for (size_t i = 0; i < nd; ++i) {
    g3.in[off + i] = in_sp[i];
    g3.out[off + i] = g.out[i];
    g3.kernel[off + i] = k_sp[i];
    g3.stride[off + i] = g.strides[i];
    g3.dilation[off + i] = g.dilations[i];
    g3.pad_begin[off + i] = g.pads[i];
  }
  return g3;
}

int64_t broadcast_offset(const Shape& own, const Shape& full, const std::vector<int64_t>& idx) {
  int64_t off = 0;
  const size_t lead = full.size() - own.size();
  for (size_t i = 0; i < own.size(); ++i) {
    off = off * own[i] + (own[i] == 1 ? 0 : idx[lead + i]);
  }
  return off;
}

Result<MatMulPlan> plan_matmul(const OpContext& ctx, const Shape& a_in, const Shape& b_in) {
  if (a_in.empty() || b_in.empty()) return ctx.invalid("matmul operands must have rank >= 1");
  Shape a = a_in, b = b_in;
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  MatMulPlan p;
  p.m = a[a.size() - 2];
  p.k = a[a.size() - 1];
  p.n = b[b.size() - 1];
  if (b[b.size() - 2] != p.k) {
    return ctx.invalid("inner dimensions differ: A " + shape_str(a_in) + ", B " + shape_str(b_in));
  }
  p.a_batch.assign(a.begin(), a.end() - 2);
  p.b_batch.assign(b.begin(), b.end() - 2);
  Shape full;
  if (!broadcast_shape({p.a_batch, p.b_batch}, &full)) {
    return ctx.invalid("batch dimensions do not broadcast: A " + shape_str(a_in) + ", B " +
                       shape_str(b_in));
  }
  const int64_t nb = shape_numel(full);
  std::vector<int64_t> idx(full.size(), 0);
  p.a_index.reserve(static_cast<size_t>(nb));
  p.b_index.reserve(static_cast<size_t>(nb));
  for (int64_t t = 0; t < nb; ++t) {
    p.a_index.push_back(broadcast_offset(p.a_batch, full, idx));
    p.b_index.push_back(broadcast_offset(p.b_batch, full, idx));
    for (size_t i = full.size(); i-- > 0;) {
      if (++idx[i] < full[i]) break;
      idx[i] = 0;
    }
  }
  p.out_shape = full;
  if (!a_vec) p.out_shape.push_back(p.m);
  if (!b_vec) p.out_shape.push_back(p.n);
  return p;
}

}  // namespace qtune
