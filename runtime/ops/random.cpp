// Random generators: RandomUniform, RandomNormal and their *Like forms, Bernoulli and
// Multinomial. With a `seed` attribute a node's output is reproducible from run to run; without
// one every run draws fresh values. Elements are drawn in fixed blocks, each from an engine seeded
// by (seed, block), so filling in parallel gives the same values as filling in order.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "runtime/op_util.h"

namespace qtune {
namespace {

constexpr int64_t kBlock = 1 << 16;  // elements drawn from one engine

const std::vector<DType> kRandomFloatTypes = {DType::kF16, DType::kF32, DType::kF64};

// The node's seed (the float attribute's bits, so 0.5 and 0.7 differ), or a fresh one per run.
uint64_t run_seed(const OpContext& ctx) {
  if (ctx.node.has_attr("seed")) {
    return std::bit_cast<uint32_t>(ctx.node.attr_float("seed", 0.0f));
  }
  static const uint64_t process_seed =
      (uint64_t{std::random_device{}()} << 32) ^ std::random_device{}();
  static std::atomic<uint64_t> runs{0};
  return process_seed + 0x9e3779b97f4a7c15ULL * (runs.fetch_add(1) + 1);
}

std::mt19937_64 engine_for(uint64_t seed, int64_t stream) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                    static_cast<uint32_t>(stream), static_cast<uint32_t>(stream >> 32)};
  return std::mt19937_64(seq);
}

// Calls draw(engine, begin, end) over [0, n) block by block, blocks in parallel.
template <typename Draw>
void fill_blocks(int64_t n, uint64_t seed, Draw&& draw) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  parallel_ranges(
      blocks,
      [&](int64_t b0, int64_t b1) {
        for (int64_t b = b0; b < b1; ++b) {
          std::mt19937_64 eng = engine_for(seed, b);
          draw(eng, b * kBlock, std::min(n, (b + 1) * kBlock));
        }
      },
      1);
}

// The `dtype` attribute as one of the float types the generators produce, or `fallback`.
Result<DType> float_dtype_attr(const OpContext& ctx, std::optional<DType> fallback) {
  DType dt;
  if (ctx.node.has_attr("dtype")) {
    const int64_t code = ctx.node.attr_int("dtype", 1);
    if (!dtype_from_onnx(static_cast<int32_t>(code), &dt)) {
      return ctx.invalid("dtype " + std::to_string(code) + " is not a tensor element type");
    }
  } else if (fallback) {
    dt = *fallback;
  } else {
    return ctx.invalid("needs a dtype attribute");
  }
  if (dt != DType::kF16 && dt != DType::kF32 && dt != DType::kF64) {
    return ctx.invalid("output type " + dtype_str(dt) + " must be float16, float or double");
  }
  return dt;
}

// Fills a new tensor with `sample(engine)` converted to the float dtype.
template <typename Sample>
Result<Tensor> generate(const OpContext& ctx, DType dt, Shape shape, Sample sample) {
  Tensor out(dt, std::move(shape));
  const uint64_t seed = run_seed(ctx);
  QT_RETURN_IF_ERROR(visit_any(dt, ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    storage_t<T>* d = out.data<storage_t<T>>();
    fill_blocks(out.numel(), seed, [&](std::mt19937_64& eng, int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) d[i] = store_from_double<T>(sample(eng));
    });
    return Status::Ok();
  }));
  return out;
}

// Output shape of RandomUniform/RandomNormal: the `shape` attribute.
Result<Shape> shape_attr(const OpContext& ctx) {
  if (!ctx.node.has_attr("shape")) return ctx.invalid("needs a shape attribute");
  Shape s = ctx.node.attr_ints("shape");
  for (int64_t d : s) {
    if (d < 0) return ctx.invalid("shape " + shape_str(s) + " has a negative dimension");
  }
  return s;
}

// Output shape and dtype of the *Like forms: the input's shape, dtype attribute or input's type.
Status like_output(const OpContext& ctx, Shape* shape, DType* dt) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  *shape = ctx.input(0)->shape();
  QT_ASSIGN_OR_RETURN(*dt, float_dtype_attr(ctx, ctx.input(0)->dtype()));
  return Status::Ok();
}

auto uniform_sampler(const OpContext& ctx) {
  const double low = ctx.node.attr_float("low", 0.0f), high = ctx.node.attr_float("high", 1.0f);
  return [low, high](std::mt19937_64& eng) {
    return low + (high - low) * std::generate_canonical<double, 53>(eng);
  };
}

auto normal_sampler(const OpContext& ctx) {
  const double mean = ctx.node.attr_float("mean", 0.0f), scale = ctx.node.attr_float("scale", 1.0f);
  return [mean, scale](std::mt19937_64& eng) {
    return mean + scale * std::normal_distribution<double>(0.0, 1.0)(eng);
  };
}

Status check_uniform_range(const OpContext& ctx) {
  if (ctx.node.attr_float("low", 0.0f) > ctx.node.attr_float("high", 1.0f)) {
    return ctx.invalid("low must not exceed high");
  }
  return Status::Ok();
}

Status random_uniform(OpContext& ctx) {
  QT_RETURN_IF_ERROR(check_uniform_range(ctx));
  QT_ASSIGN_OR_RETURN(Shape shape, shape_attr(ctx));
  QT_ASSIGN_OR_RETURN(DType dt, float_dtype_attr(ctx, DType::kF32));
  QT_ASSIGN_OR_RETURN(ctx.outputs[0], generate(ctx, dt, std::move(shape), uniform_sampler(ctx)));
  return Status::Ok();
}

Status random_normal(OpContext& ctx) {
  QT_ASSIGN_OR_RETURN(Shape shape, shape_attr(ctx));
  QT_ASSIGN_OR_RETURN(DType dt, float_dtype_attr(ctx, DType::kF32));
  QT_ASSIGN_OR_RETURN(ctx.outputs[0], generate(ctx, dt, std::move(shape), normal_sampler(ctx)));
  return Status::Ok();
}

Status random_uniform_like(OpContext& ctx) {
  QT_RETURN_IF_ERROR(check_uniform_range(ctx));
  Shape shape;
  DType dt;
  QT_RETURN_IF_ERROR(like_output(ctx, &shape, &dt));
  QT_ASSIGN_OR_RETURN(ctx.outputs[0], generate(ctx, dt, std::move(shape), uniform_sampler(ctx)));
  return Status::Ok();
}

Status random_normal_like(OpContext& ctx) {
  Shape shape;
  DType dt;
  QT_RETURN_IF_ERROR(like_output(ctx, &shape, &dt));
  QT_ASSIGN_OR_RETURN(ctx.outputs[0], generate(ctx, dt, std::move(shape), normal_sampler(ctx)));
  return Status::Ok();
}

// Bernoulli: out[i] = 1 with probability p[i], else 0, in the dtype attribute's type (default:
// the input's).
Status bernoulli(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& p = *ctx.input(0);
  DType out_dt = p.dtype();
  if (ctx.node.has_attr("dtype") &&
      !dtype_from_onnx(static_cast<int32_t>(ctx.node.attr_int("dtype", 0)), &out_dt)) {
    return ctx.invalid("dtype " + std::to_string(ctx.node.attr_int("dtype", 0)) +
                       " is not a tensor element type");
  }
  std::vector<double> prob(static_cast<size_t>(p.numel()));
  for (int64_t i = 0; i < p.numel(); ++i) {
    prob[i] = p.get_f64(i);
    if (!(prob[i] >= 0.0 && prob[i] <= 1.0)) {
      return ctx.invalid("probability " + std::to_string(prob[i]) + " at index " +
                         std::to_string(i) + " is outside [0, 1]");
    }
  }
  Tensor out(out_dt, p.shape());
  const uint64_t seed = run_seed(ctx);
  QT_RETURN_IF_ERROR(visit_any(out_dt, ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    storage_t<T>* d = out.data<storage_t<T>>();
    fill_blocks(out.numel(), seed, [&](std::mt19937_64& eng, int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const bool one = std::generate_canonical<double, 53>(eng) < prob[i];
        d[i] = store_from_double<T>(one ? 1.0 : 0.0);
      }
    });
    return Status::Ok();
  }));
  ctx.outputs[0] = std::move(out);
  return Status::Ok();
}

// Multinomial: sample_size class indices per row of unnormalised log-probabilities.
Status multinomial(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  const Tensor& x = *ctx.input(0);
  if (x.rank() != 2) {
    return ctx.invalid("input must be [batch_size, class_size], got " + shape_str(x.shape()));
  }
  const int64_t batch = x.dim(0), classes = x.dim(1);
  const int64_t samples = ctx.node.attr_int("sample_size", 1);
  if (samples < 0) return ctx.invalid("sample_size must not be negative");
  DType out_dt;
  const int64_t code = ctx.node.attr_int("dtype", 6);
  if (!dtype_from_onnx(static_cast<int32_t>(code), &out_dt) ||
      (out_dt != DType::kS32 && out_dt != DType::kS64)) {
    return ctx.invalid("dtype must be int32 or int64, got " + std::to_string(code));
  }
  if (classes == 0 && samples > 0 && batch > 0) return ctx.invalid("has no classes to draw from");
  // Per row: the cumulative distribution of exp(x - max) so the largest term is 1.
  std::vector<double> cdf(static_cast<size_t>(batch * classes));
  for (int64_t b = 0; b < batch; ++b) {
    double mx = -INFINITY;
    for (int64_t k = 0; k < classes; ++k) mx = std::max(mx, x.get_f64(b * classes + k));
    double acc = 0;
    for (int64_t k = 0; k < classes; ++k) {
      const double v = x.get_f64(b * classes + k);
      if (std::isnan(v)) return ctx.invalid("input holds NaN");
      acc += std::isinf(mx) && mx < 0 ? 0.0 : std::exp(v - mx);
      cdf[b * classes + k] = acc;
    }
    if (!(acc > 0) || std::isinf(acc)) {
      return ctx.invalid("row " + std::to_string(b) + " has no positive probability");
    }
  }
  Tensor out(out_dt, {batch, samples});
  const uint64_t seed = run_seed(ctx);
  fill_blocks(batch * samples, seed, [&](std::mt19937_64& eng, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double* row = cdf.data() + (i / samples) * classes;
      const double u = std::generate_canonical<double, 53>(eng) * row[classes - 1];
      const int64_t k =
          std::min<int64_t>(std::upper_bound(row, row + classes, u) - row, classes - 1);
      if (out_dt == DType::kS32)
        out.data<int32_t>()[i] = static_cast<int32_t>(k);
      else
        out.data<int64_t>()[i] = k;
    }
  });
  ctx.outputs[0] = std::move(out);
  return Status::Ok();
}

}  // namespace

void register_random_kernels(KernelRegistry& r) {
  r.add({"", "RandomUniform", 1, kLatestOpset, {}}, random_uniform);
  r.add({"", "RandomNormal", 1, kLatestOpset, {}}, random_normal);
  r.add({"", "RandomUniformLike", 1, kLatestOpset, kAllTypes}, random_uniform_like);
  r.add({"", "RandomNormalLike", 1, kLatestOpset, kAllTypes}, random_normal_like);
  r.add({"", "Bernoulli", 15, kLatestOpset, kRandomFloatTypes}, bernoulli);
  r.add({"", "Multinomial", 7, kLatestOpset, kRandomFloatTypes}, multinomial);
}

}  // namespace qtune
