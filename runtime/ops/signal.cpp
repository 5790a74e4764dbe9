// Signal-processing operators of opset 17: DFT and STFT (real or complex input, forward or
// inverse, onesided, dft_length), the Hann, Hamming and Blackman windows and MelWeightMatrix.
// Transforms run in double through one FFT plan per call: radix-2 for powers of two, Bluestein's
// chirp-z convolution for other lengths.
#include <cmath>
#include <complex>
#include <numbers>
#include <string>
#include <vector>

#include "runtime/op_util.h"

namespace qtune {
namespace {

using cd = std::complex<double>;

const std::vector<DType> kIndexTypes = {DType::kS32, DType::kS64};

// ------------------------------------------------------------------ FFT

// Unscaled DFT of length n: X[k] = sum_j x[j] exp(sign * 2 pi i j k / n), sign -1 forward and
// +1 inverse. Immutable after construction; run() may be called concurrently.
class FftPlan {
 public:
  FftPlan(int64_t n, bool inverse) : n_(n), sign_(inverse ? 1.0 : -1.0) {
    if (n_ <= 1) return;
    m_ = 1;
    while (m_ < n_) m_ *= 2;
    if (m_ != n_) {  // Bluestein: a convolution of length >= 2n - 1 done with radix-2 FFTs
      m_ = 1;
      while (m_ < 2 * n_ - 1) m_ *= 2;
    }
    twiddle_.resize(static_cast<size_t>(m_ / 2));
    for (int64_t k = 0; k < m_ / 2; ++k) {
      twiddle_[k] = std::polar(1.0, -2.0 * std::numbers::pi * static_cast<double>(k) / m_);
    }
    if (m_ == n_) return;
    chirp_.resize(static_cast<size_t>(n_));
    for (int64_t j = 0; j < n_; ++j) {
      const int64_t sq = (j * j) % (2 * n_);  // exact angle modulo 2 pi keeps the chirp precise
      chirp_[j] = std::polar(1.0, sign_ * std::numbers::pi * static_cast<double>(sq) / n_);
    }
    kernel_.assign(static_cast<size_t>(m_), cd(0, 0));
    kernel_[0] = std::conj(chirp_[0]);
    for (int64_t j = 1; j < n_; ++j) kernel_[j] = kernel_[m_ - j] = std::conj(chirp_[j]);
    radix2(kernel_.data(), false);
  }

  int64_t size() const { return n_; }

  // Transforms v[0..n) in place; `scratch` is the caller's buffer (grown as needed).
  void run(cd* v, std::vector<cd>& scratch) const {
    if (n_ <= 1) return;
    if (m_ == n_) {
      radix2(v, sign_ > 0);
      return;
    }
    scratch.assign(static_cast<size_t>(m_), cd(0, 0));
    for (int64_t j = 0; j < n_; ++j) scratch[j] = v[j] * chirp_[j];
    radix2(scratch.data(), false);
    for (int64_t k = 0; k < m_; ++k) scratch[k] *= kernel_[k];
    radix2(scratch.data(), true);
    const double scale = 1.0 / static_cast<double>(m_);
    for (int64_t k = 0; k < n_; ++k) v[k] = scratch[k] * chirp_[k] * scale;
  }

 private:
  // In-place iterative radix-2 FFT of length m_ (unscaled); `inverse` conjugates the twiddles.
  void radix2(cd* a, bool inverse) const {
    for (int64_t i = 1, j = 0; i < m_; ++i) {
      int64_t bit = m_ >> 1;
      for (; j & bit; bit >>= 1) j ^= bit;
      j ^= bit;
      if (i < j) std::swap(a[i], a[j]);
    }
    for (int64_t len = 2; len <= m_; len *= 2) {
      const int64_t half = len / 2, step = m_ / len;
      for (int64_t start = 0; start < m_; start += len) {
        for (int64_t k = 0; k < half; ++k) {
          const cd w = inverse ? std::conj(twiddle_[k * step]) : twiddle_[k * step];
          const cd u = a[start + k], t = a[start + k + half] * w;
          a[start + k] = u + t;
          a[start + k + half] = u - t;
        }
      }
    }
  }

  int64_t n_;
  double sign_;
  int64_t m_ = 1;
  std::vector<cd> twiddle_;  // exp(-2 pi i k / m), k < m/2
  std::vector<cd> chirp_;    // Bluestein only: exp(sign pi i j^2 / n)
  std::vector<cd> kernel_;   // Bluestein only: FFT of the conjugate chirp, wrapped
};

// Calls fn(TypeTag<T>{}) for the float element types DFT and STFT take.
template <typename Fn>
Status visit_float(DType t, const OpContext& ctx, Fn&& fn) {
  switch (t) {
    case DType::kF32:
      return fn(TypeTag<float>{});
    case DType::kF64:
      return fn(TypeTag<double>{});
    case DType::kF16:
      return fn(TypeTag<F16>{});
    case DType::kBF16:
      return fn(TypeTag<BF16>{});
    default:
      return ctx.unsupported("element type " + dtype_str(t) + " is not supported");
  }
}

// The optional scalar length input `i`, or `fallback` when it is omitted.
Result<int64_t> optional_length(const OpContext& ctx, size_t i, const char* name,
                                int64_t fallback) {
  if (!has_input(ctx, i)) return fallback;
  const Tensor* t = ctx.input(i);
  if (t->dtype() != DType::kS32 && t->dtype() != DType::kS64) {
    return ctx.invalid(std::string(name) + " must be int32 or int64, got " + dtype_str(t->dtype()));
  }
  QT_ASSIGN_OR_RETURN(int64_t v, scalar_i64(ctx, i, name));
  if (v <= 0) return ctx.invalid(std::string(name) + " must be positive, got " + std::to_string(v));
  return v;
}

// Real ([..., 1]) or complex ([..., 2]) signal: the number of components per element.
Result<int64_t> components(const OpContext& ctx, const Tensor& x, int64_t min_rank) {
  if (x.rank() < min_rank || (x.dim(x.rank() - 1) != 1 && x.dim(x.rank() - 1) != 2)) {
    return ctx.invalid("input of shape " + shape_str(x.shape()) +
                       " must end in a dimension of 1 (real) or 2 (complex) and have rank >= " +
                       std::to_string(min_rank));
  }
  return x.dim(x.rank() - 1);
}

// ------------------------------------------------------------------ DFT

Status dft(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 2));
  const Tensor& x = *ctx.input(0);
  const Node& node = ctx.node;
  QT_ASSIGN_OR_RETURN(const int64_t comps, components(ctx, x, 2));
  const int64_t rank = x.rank();
  QT_ASSIGN_OR_RETURN(const int64_t axis, normalize_axis(ctx, node.attr_int("axis", 1), rank));
  if (axis == rank - 1) return ctx.invalid("axis must not be the real/imaginary dimension");
  const bool inverse = node.attr_int("inverse", 0) != 0;
  const bool onesided = node.attr_int("onesided", 0) != 0;
  const int64_t n_in = x.dim(axis);
  QT_ASSIGN_OR_RETURN(const int64_t n, optional_length(ctx, 1, "dft_length", n_in));
  if (n <= 0) return ctx.invalid("the transformed axis is empty");
  const int64_t n_out = onesided ? n / 2 + 1 : n;
  Shape out_shape = x.shape();
  out_shape[axis] = n_out;
  out_shape.back() = 2;
  const int64_t outer = dims_product(x.shape(), 0, axis);
  const int64_t inner = dims_product(x.shape(), axis + 1, rank - 1);
  const FftPlan plan(n, inverse);
  const double scale = inverse ? 1.0 / static_cast<double>(n) : 1.0;
  const int64_t copied = std::min(n, n_in);
  Tensor y(x.dtype(), out_shape);
  QT_RETURN_IF_ERROR(visit_float(x.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    const storage_t<T>* src = x.data<storage_t<T>>();
    storage_t<T>* dst = y.data<storage_t<T>>();
    parallel_ranges(
        outer * inner,
        [&](int64_t begin, int64_t end) {
          std::vector<cd> line(static_cast<size_t>(n)), scratch;
          for (int64_t l = begin; l < end; ++l) {
            const int64_t o = l / inner, i = l % inner;
            std::fill(line.begin(), line.end(), cd(0, 0));
            for (int64_t k = 0; k < copied; ++k) {
              const storage_t<T>* e = src + ((o * n_in + k) * inner + i) * comps;
              line[k] = cd(load_as_double<T>(e[0]), comps == 2 ? load_as_double<T>(e[1]) : 0.0);
            }
            plan.run(line.data(), scratch);
            for (int64_t k = 0; k < n_out; ++k) {
              storage_t<T>* e = dst + ((o * n_out + k) * inner + i) * 2;
              e[0] = store_from_double<T>(line[k].real() * scale);
              e[1] = store_from_double<T>(line[k].imag() * scale);
            }
          }
        },
        std::max<int64_t>(1, kMinParallelElements / n));
    return Status::Ok();
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------ STFT

Status stft(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 2, 4));
  const Tensor& signal = *ctx.input(0);
  QT_ASSIGN_OR_RETURN(const int64_t comps, components(ctx, signal, 3));
  if (signal.rank() != 3) {
    return ctx.invalid("signal must be [batch, length, 1 or 2], got " + shape_str(signal.shape()));
  }
  const Tensor* step_t = ctx.input(1);
  if (step_t->dtype() != DType::kS32 && step_t->dtype() != DType::kS64) {
    return ctx.invalid("frame_step must be int32 or int64");
  }
  QT_ASSIGN_OR_RETURN(const int64_t step, scalar_i64(ctx, 1, "frame_step"));
  if (step <= 0) return ctx.invalid("frame_step must be positive");
  const Tensor* window = has_input(ctx, 2) ? ctx.input(2) : nullptr;
  if (window && (window->rank() != 1 || window->dtype() != signal.dtype())) {
    return ctx.invalid("window must be 1-D with the signal's element type, got " +
                       dtype_str(window->dtype()) + shape_str(window->shape()));
  }
  const int64_t window_len = window ? window->dim(0) : 0;
  QT_ASSIGN_OR_RETURN(const int64_t n, optional_length(ctx, 3, "frame_length", window_len));
  if (n <= 0) return ctx.invalid("needs a window or a frame_length");
  if (window && window_len != n) {
    return ctx.invalid("window has " + std::to_string(window_len) + " values, frame_length is " +
                       std::to_string(n));
  }
  const int64_t batch = signal.dim(0), length = signal.dim(1);
  if (length < n) {
    return ctx.invalid("signal of length " + std::to_string(length) +
                       " is shorter than one frame of " + std::to_string(n));
  }
  const int64_t frames = (length - n) / step + 1;
  const bool onesided = ctx.node.attr_int("onesided", 1) != 0;
  const int64_t bins = onesided ? n / 2 + 1 : n;
  Tensor y(signal.dtype(), {batch, frames, bins, 2});
  const FftPlan plan(n, false);
  QT_RETURN_IF_ERROR(visit_float(signal.dtype(), ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    const storage_t<T>* src = signal.data<storage_t<T>>();
    const storage_t<T>* win = window ? window->data<storage_t<T>>() : nullptr;
    storage_t<T>* dst = y.data<storage_t<T>>();
    parallel_ranges(
        batch * frames,
        [&](int64_t begin, int64_t end) {
          std::vector<cd> line(static_cast<size_t>(n)), scratch;
          for (int64_t l = begin; l < end; ++l) {
            const int64_t b = l / frames, f = l % frames;
            const storage_t<T>* frame = src + (b * length + f * step) * comps;
            for (int64_t k = 0; k < n; ++k) {
              const double w = win ? load_as_double<T>(win[k]) : 1.0;
              const storage_t<T>* e = frame + k * comps;
              line[k] = cd(load_as_double<T>(e[0]), comps == 2 ? load_as_double<T>(e[1]) : 0.0) * w;
            }
            plan.run(line.data(), scratch);
            storage_t<T>* out = dst + l * bins * 2;
            for (int64_t k = 0; k < bins; ++k) {
              out[2 * k] = store_from_double<T>(line[k].real());
              out[2 * k + 1] = store_from_double<T>(line[k].imag());
            }
          }
        },
        std::max<int64_t>(1, kMinParallelElements / n));
    return Status::Ok();
  }));
  ctx.outputs[0] = std::move(y);
  return Status::Ok();
}

// ------------------------------------------------------------------ generators

// The element type named by the `output_datatype` attribute (default float), checked against
// the numeric types the window and mel schemas allow.
Result<DType> output_datatype(const OpContext& ctx) {
  const int64_t code = ctx.node.attr_int("output_datatype", 1);
  DType dt;
  if (!dtype_from_onnx(static_cast<int32_t>(code), &dt) || dt == DType::kBool) {
    return ctx.invalid("output_datatype " + std::to_string(code) + " is not a numeric type");
  }
  return dt;
}

// Writes values[i] into a new tensor of `dt` and `shape`.
Result<Tensor> make_output(const OpContext& ctx, DType dt, Shape shape,
                           const std::vector<double>& values) {
  Tensor t(dt, std::move(shape));
  QT_RETURN_IF_ERROR(visit_any(dt, ctx, [&](auto tag) -> Status {
    using T = typename decltype(tag)::type;
    storage_t<T>* d = t.data<storage_t<T>>();
    if constexpr (std::is_same_v<T, Bool>) {
      return ctx.invalid("output_datatype must be numeric");
    } else {
      for (size_t i = 0; i < values.size(); ++i) {
        if constexpr (is_float_v<T>)
          d[i] = store_from_double<T>(values[i]);
        else
          d[i] = saturate_cast<T>(values[i]);
      }
      return Status::Ok();
    }
  }));
  return t;
}

// Generalised cosine window sum_k (-1)^k a_k cos(2 pi k n / N), N = size (periodic) or size - 1.
Status cosine_window(OpContext& ctx, const std::vector<double>& a) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 1, 1));
  QT_ASSIGN_OR_RETURN(const int64_t size, scalar_i64(ctx, 0, "size"));
  if (size <= 0) return ctx.invalid("size must be positive, got " + std::to_string(size));
  QT_ASSIGN_OR_RETURN(const DType dt, output_datatype(ctx));
  const bool periodic = ctx.node.attr_int("periodic", 1) != 0;
  const double denom = static_cast<double>(periodic ? size : size - 1);
  std::vector<double> w(static_cast<size_t>(size), 1.0);  // a one-point symmetric window is 1
  if (denom > 0) {
    for (int64_t i = 0; i < size; ++i) {
      double v = 0, sign = 1;
      for (size_t k = 0; k < a.size(); ++k, sign = -sign) {
        v += sign * a[k] * std::cos(2.0 * std::numbers::pi * static_cast<double>(k * i) / denom);
      }
      w[i] = v;
    }
  }
  QT_ASSIGN_OR_RETURN(ctx.outputs[0], make_output(ctx, dt, {size}, w));
  return Status::Ok();
}

Status hann_window(OpContext& ctx) { return cosine_window(ctx, {0.5, 0.5}); }
Status hamming_window(OpContext& ctx) { return cosine_window(ctx, {25.0 / 46.0, 21.0 / 46.0}); }
Status blackman_window(OpContext& ctx) { return cosine_window(ctx, {0.42, 0.5, 0.08}); }

// Triangular filters on the mel scale mel(f) = 2595 log10(1 + f / 700). The num_mel_bins + 2 band
// edges are spaced by (mel(upper) - mel(lower)) / (num_mel_bins + 2) and mapped to spectrogram
// bins floor((dft_length + 1) * f / sample_rate), as ONNX's reference implementation does.
Status mel_weight_matrix(OpContext& ctx) {
  QT_RETURN_IF_ERROR(need_inputs(ctx, 5, 5));
  QT_ASSIGN_OR_RETURN(const int64_t mel_bins, scalar_i64(ctx, 0, "num_mel_bins"));
  QT_ASSIGN_OR_RETURN(const int64_t dft_length, scalar_i64(ctx, 1, "dft_length"));
  QT_ASSIGN_OR_RETURN(const int64_t sample_rate, scalar_i64(ctx, 2, "sample_rate"));
  QT_ASSIGN_OR_RETURN(const double lower, scalar_f64(ctx, 3, "lower_edge_hertz"));
  QT_ASSIGN_OR_RETURN(const double upper, scalar_f64(ctx, 4, "upper_edge_hertz"));
  QT_ASSIGN_OR_RETURN(const DType dt, output_datatype(ctx));
  if (mel_bins <= 0 || dft_length <= 0 || sample_rate <= 0) {
    return ctx.invalid("num_mel_bins, dft_length and sample_rate must be positive");
  }
  if (!(lower >= 0 && lower <= upper)) {
    return ctx.invalid("needs 0 <= lower_edge_hertz <= upper_edge_hertz");
  }
  const int64_t spec_bins = dft_length / 2 + 1;
  auto mel = [](double f) { return 2595.0 * std::log10(1.0 + f / 700.0); };
  const double low_mel = mel(lower);
  const double mel_step = (mel(upper) - low_mel) / static_cast<double>(mel_bins + 2);
  std::vector<int64_t> edge(static_cast<size_t>(mel_bins + 2));
  for (int64_t i = 0; i < mel_bins + 2; ++i) {
    const double hz = 700.0 * (std::pow(10.0, (i * mel_step + low_mel) / 2595.0) - 1.0);
    edge[i] = static_cast<int64_t>(
        std::floor(static_cast<double>(dft_length + 1) * hz / static_cast<double>(sample_rate)));
    if (edge[i] >= spec_bins) {
      return ctx.invalid("upper_edge_hertz " + std::to_string(upper) +
                         " lies beyond the spectrogram's highest bin");
    }
  }
  std::vector<double> w(static_cast<size_t>(spec_bins * mel_bins), 0.0);
  for (int64_t i = 0; i < mel_bins; ++i) {
    const int64_t lo = edge[i], center = edge[i + 1], hi = edge[i + 2];
    if (center == lo) {
      w[center * mel_bins + i] = 1.0;
    } else {
      for (int64_t j = lo; j <= center; ++j) {
        w[j * mel_bins + i] = static_cast<double>(j - lo) / static_cast<double>(center - lo);
      }
    }
    for (int64_t j = center; j < hi; ++j) {
      w[j * mel_bins + i] = static_cast<double>(hi - j) / static_cast<double>(hi - center);
    }
  }
  QT_ASSIGN_OR_RETURN(ctx.outputs[0], make_output(ctx, dt, {spec_bins, mel_bins}, w));
  return Status::Ok();
}

}  // namespace

void register_signal_kernels(KernelRegistry& r) {
  r.add({"", "DFT", 17, kLatestOpset, kFloatTypes}, dft);
  r.add({"", "STFT", 17, kLatestOpset, kFloatTypes}, stft);
  r.add({"", "HannWindow", 17, kLatestOpset, kIndexTypes}, hann_window);
  r.add({"", "HammingWindow", 17, kLatestOpset, kIndexTypes}, hamming_window);
  r.add({"", "BlackmanWindow", 17, kLatestOpset, kIndexTypes}, blackman_window);
  r.add({"", "MelWeightMatrix", 17, kLatestOpset, kIndexTypes}, mel_weight_matrix);
}

}  // namespace qtune
