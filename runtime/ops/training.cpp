// Optimizer steps of the "ai.onnx.preview.training" domain, version 1: Adagrad, Momentum
// (standard and Nesterov) and Adam, each updating any number of tensors at once. Inputs are
// R, T, then the tensors grouped by role (X..., G..., and the optimizer's state); outputs are the
// new X... followed by the new state, as the specs order them. Arithmetic runs in double.
#include <cmath>
#include <string>
#include <vector>

#include "runtime/op_util.h"

namespace qtune {
namespace {

const std::string kTrainingDomain = "ai.onnx.preview.training";
const std::vector<DType> kScalarTypes = {DType::kF32, DType::kF64};

// The tensors of one optimizer step: n updated tensors, each with `roles` inputs (X, G, state...)
// and roles - 1 outputs (X_new, new state...).
struct Step {
  double r = 0;
  int64_t t = 0;
  int64_t n = 0;
  int64_t roles = 0;
  const Tensor* in(int64_t role, int64_t k, const OpContext& ctx) const {
    return ctx.input(static_cast<size_t>(2 + role * n + k));
  }
};

Result<Step> read_step(const OpContext& ctx, int64_t roles) {
  Step s;
  s.roles = roles;
  const int64_t inputs = static_cast<int64_t>(ctx.num_inputs());
  if (inputs < 2 + roles || (inputs - 2) % roles != 0) {
    return ctx.invalid("expects R, T and " + std::to_string(roles) +
                       " inputs per optimized tensor, got " + std::to_string(inputs) + " inputs");
  }
  s.n = (inputs - 2) / roles;
  if (static_cast<int64_t>(ctx.outputs.size()) != (roles - 1) * s.n) {
    return ctx.invalid("expects " + std::to_string((roles - 1) * s.n) + " outputs for " +
                       std::to_string(s.n) + " optimized tensors, got " +
                       std::to_string(ctx.outputs.size()));
  }
  QT_RETURN_IF_ERROR(need_inputs(ctx, static_cast<size_t>(inputs), static_cast<size_t>(inputs)));
  QT_ASSIGN_OR_RETURN(s.r, scalar_f64(ctx, 0, "R"));
  const Tensor* t = ctx.input(1);
  if (t->dtype() != DType::kS64 && t->dtype() != DType::kS32) {
    return ctx.invalid("T must be int64, got " + dtype_str(t->dtype()));
  }
  QT_ASSIGN_OR_RETURN(s.t, scalar_i64(ctx, 1, "T"));
  for (int64_t k = 0; k < s.n; ++k) {
    const Tensor* x = s.in(0, k, ctx);
    if (x->dtype() != DType::kF32 && x->dtype() != DType::kF64) {
      return ctx.unsupported("tensor " + std::to_string(k) + " has element type " +
                             dtype_str(x->dtype()) + "; float and double are implemented");
    }
    for (int64_t role = 1; role < roles; ++role) {
      const Tensor* o = s.in(role, k, ctx);
      if (o->dtype() != x->dtype()) {
        return ctx.invalid("input " + std::to_string(2 + role * s.n + k) + " has element type " +
                           dtype_str(o->dtype()) + ", its X has " + dtype_str(x->dtype()));
      }
      if (o->shape() != x->shape()) {
        return ctx.unsupported("input " + std::to_string(2 + role * s.n + k) + " has shape " +
                               shape_str(o->shape()) + ", its X " + shape_str(x->shape()) +
                               "; broadcasting the optimizer inputs is not implemented");
      }
    }
  }
  return s;
}

// Runs update(in, out, i) for every element i of every optimized tensor, where in[role] and
// out[role] are that tensor's values as double (out[0] = X_new, out[1..] = new state).
template <typename Update>
Status apply(OpContext& ctx, const Step& s, Update&& update) {
  for (int64_t k = 0; k < s.n; ++k) {
    const Tensor* x = s.in(0, k, ctx);
    std::vector<Tensor> outs;
    for (int64_t role = 1; role < s.roles; ++role) outs.emplace_back(x->dtype(), x->shape());
    auto run = [&](auto tag) {
      using T = typename decltype(tag)::type;
      std::vector<const T*> src;
      for (int64_t role = 0; role < s.roles; ++role) src.push_back(s.in(role, k, ctx)->data<T>());
      std::vector<T*> dst;
      for (auto& o : outs) dst.push_back(o.data<T>());
      parallel_ranges(x->numel(), [&](int64_t begin, int64_t end) {
        double in[4], out[3];
        for (int64_t i = begin; i < end; ++i) {
          for (size_t role = 0; role < src.size(); ++role) in[role] = src[role][i];
          update(in, out);
          for (size_t role = 0; role < dst.size(); ++role) dst[role][i] = static_cast<T>(out[role]);
        }
      });
    };
    if (x->dtype() == DType::kF32)
      run(TypeTag<float>{});
    else
      run(TypeTag<double>{});  // read_step admits only float and double
    for (int64_t role = 0; role + 1 < s.roles; ++role) {
      ctx.outputs[static_cast<size_t>(role * s.n + k)] = std::move(outs[role]);
    }
  }
  return Status::Ok();
}

// Adagrad: inputs R, T, X..., G..., H...; outputs X_new..., H_new....
Status adagrad(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(Step s, read_step(ctx, 3));
  const Node& n = ctx.node;
  const double decay = n.attr_float("decay_factor", 0.0f);
  const double eps = n.attr_float("epsilon", 1e-6f);
  const double norm = n.attr_float("norm_coefficient", 0.0f);
  const double r = s.r / (1.0 + static_cast<double>(s.t) * decay);
  return apply(ctx, s, [&](const double* in, double* out) {
    const double g = norm * in[0] + in[1];
    const double h = in[2] + g * g;
    out[0] = in[0] - r * g / (std::sqrt(h) + eps);
    out[1] = h;
  });
}

// Momentum: inputs R, T, X..., G..., V...; outputs X_new..., V_new....
Status momentum(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(Step s, read_step(ctx, 3));
  const Node& n = ctx.node;
  for (const char* a : {"alpha", "beta", "norm_coefficient", "mode"}) {
    if (!n.has_attr(a)) return ctx.invalid(std::string("needs the attribute ") + a);
  }
  const double alpha = n.attr_float("alpha", 0.0f), norm = n.attr_float("norm_coefficient", 0.0f);
  const double beta = s.t > 0 ? n.attr_float("beta", 0.0f) : 1.0;  // the first step takes all of G
  const std::string mode = n.attr_string("mode", "");
  if (mode != "standard" && mode != "nesterov") {
    return ctx.invalid("mode must be standard or nesterov, got '" + mode + "'");
  }
  const bool nesterov = mode == "nesterov";
  return apply(ctx, s, [&](const double* in, double* out) {
    const double g = norm * in[0] + in[1];
    const double v = alpha * in[2] + beta * g;
    out[0] = in[0] - s.r * (nesterov ? g + alpha * v : v);
    out[1] = v;
  });
}

// Adam: inputs R, T, X..., G..., V..., H...; outputs X_new..., V_new..., H_new....
Status adam(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(Step s, read_step(ctx, 4));
  const Node& n = ctx.node;
  const double alpha = n.attr_float("alpha", 0.9f), beta = n.attr_float("beta", 0.999f);
  const double eps = n.attr_float("epsilon", 1e-6f);
  const double norm = n.attr_float("norm_coefficient", 0.0f);
  const double post = n.attr_float("norm_coefficient_post", 0.0f);
  const double t = static_cast<double>(s.t);
  // Bias correction of both running averages, from the second step on.
  const double r =
      s.t > 0 ? s.r * std::sqrt(1.0 - std::pow(beta, t)) / (1.0 - std::pow(alpha, t)) : s.r;
  return apply(ctx, s, [&](const double* in, double* out) {
    const double g = norm * in[0] + in[1];
    const double v = alpha * in[2] + (1.0 - alpha) * g;
    const double h = beta * in[3] + (1.0 - beta) * g * g;
    out[0] = (1.0 - post) * (in[0] - r * v / (std::sqrt(h) + eps));
    out[1] = v;
    out[2] = h;
  });
}

}  // namespace

void register_training_kernels(KernelRegistry& r) {
  r.add({kTrainingDomain, "Adagrad", 1, 1, kScalarTypes}, adagrad);
  r.add({kTrainingDomain, "Momentum", 1, 1, kScalarTypes}, momentum);
  r.add({kTrainingDomain, "Adam", 1, 1, kScalarTypes}, adam);
}

}  // namespace qtune
