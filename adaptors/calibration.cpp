#include "adaptors/calibration.h"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>
#include <tbb/parallel_reduce.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>
#include <set>
#include <unordered_map>

#include <unistd.h>

#include "common/file_writer.h"
#include "common/model_feed.h"
#include "kernels/quantize_ref.h"

namespace qtune {

namespace {

// Tensors at least this large are scanned in parallel; below it the task overhead dominates.
constexpr int64_t kParallelMin = int64_t{1} << 16;
constexpr int64_t kGrain = int64_t{1} << 14;

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Collection

struct MinMax {
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
  int64_t finite = 0;
  int64_t nonfinite = 0;

  void add(float v) {
    if (!std::isfinite(v)) {
      ++nonfinite;
      return;
    }
    min = std::min(min, v);
    max = std::max(max, v);
    ++finite;
  }
  void merge(const MinMax& o) {
    min = std::min(min, o.min);
    max = std::max(max, o.max);
    finite += o.finite;
    nonfinite += o.nonfinite;
  }
};

MinMax scan_minmax(const float* x, int64_t n) {
  auto body = [x](const tbb::blocked_range<int64_t>& r, MinMax acc) {
    for (int64_t i = r.begin(); i < r.end(); ++i) acc.add(x[i]);
    return acc;
  };
  if (n < kParallelMin) return body(tbb::blocked_range<int64_t>(0, n), MinMax{});
  return tbb::parallel_reduce(tbb::blocked_range<int64_t>(0, n, kGrain), MinMax{}, body,
                              [](MinMax a, const MinMax& b) {
                                a.merge(b);
                                return a;
                              });
}

// Bin of |x| in [0, hist_max]; the top edge belongs to the last bin. Double keeps the mapping
// identical however the tensor is split across threads.
inline size_t bin_of(float ax, double bins_per_unit, size_t nbins) {
  const double b = static_cast<double>(ax) * bins_per_unit;
  return b >= static_cast<double>(nbins - 1) ? nbins - 1 : static_cast<size_t>(b);
}

void fill_histogram(const float* x, int64_t n, float hist_max, std::vector<uint64_t>* hist) {
  const size_t nbins = hist->size();
  const double per_unit = hist_max > 0 ? static_cast<double>(nbins) / hist_max : 0.0;
  auto fill = [&](int64_t begin, int64_t end, uint64_t* h) {
    for (int64_t i = begin; i < end; ++i) {
      const float v = x[i];
      if (std::isfinite(v)) ++h[bin_of(std::fabs(v), per_unit, nbins)];
    }
  };
  if (n < kParallelMin) {
    fill(0, n, hist->data());
    return;
  }
  // Per-thread histograms summed at the end: integer counts, so the result is exact and
  // independent of the split.
  tbb::enumerable_thread_specific<std::vector<uint64_t>> local(
      [nbins] { return std::vector<uint64_t>(nbins, 0); });
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, kGrain),
                    [&](const tbb::blocked_range<int64_t>& r) {
                      fill(r.begin(), r.end(), local.local().data());
                    });
  for (const auto& h : local) {
    for (size_t b = 0; b < nbins; ++b) (*hist)[b] += h[b];
  }
}

// Streaming 64-bit FNV-1a (the constants of fnv1a_hex), for hashing without building a copy.
class Fnv64 {
 public:
  void bytes(const void* p, size_t n) {
    const auto* c = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i) {
      h_ ^= c[i];
      h_ *= 1099511628211ull;
    }
  }
  void i64(int64_t v) { bytes(&v, sizeof v); }
  void str(const std::string& s) {
    i64(static_cast<int64_t>(s.size()));
    bytes(s.data(), s.size());
  }
  void tensor(const Tensor& t) {
    i64(static_cast<int64_t>(t.dtype()));
    i64(t.rank());
    for (int64_t d : t.shape()) i64(d);
    if (!t.empty() && t.raw()) bytes(t.raw(), t.nbytes());
  }
  uint64_t value() const { return h_; }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h_));
    return buf;
  }

 private:
  uint64_t h_ = 1469598103934665603ull;
};

void hash_value_info(Fnv64& f, const ValueInfo& v) {
  f.str(v.name);
  f.i64(static_cast<int64_t>(v.dtype));
  f.i64(v.shape ? static_cast<int64_t>(v.shape->size()) : -1);
  if (v.shape) {
    for (int64_t d : *v.shape) f.i64(d);
  }
}

struct Collector {
  TensorStats* stats = nullptr;
  MinMax minmax;
  bool seen = false;
};

Result<CalibrationStats> collect_impl(const Executor& fp32, const Dataset& data,
                                      int64_t sampling_size, int64_t batch_size,
                                      const std::vector<std::string>& tensors,
                                      const ProgressFn& progress) {
  if (sampling_size <= 0) {
    return Status::InvalidInput("calibration sampling size must be positive, got " +
                                std::to_string(sampling_size));
  }
  if (batch_size <= 0) {
    return Status::InvalidInput("calibration batch size must be positive, got " +
                                std::to_string(batch_size));
  }
  if (data.size() == 0) return Status::InvalidInput("the calibration dataset is empty");
  const Graph& g = fp32.graph();
  QT_ASSIGN_OR_RETURN(ModelFeed feed, ModelFeed::bind(g, data));
  std::set<std::string> graph_inputs;
  for (const ValueInfo& in : g.inputs) graph_inputs.insert(in.name);

  // Values inside subgraphs (If branches, Loop bodies) are observed whenever they run.
  // A branch the calibration set never takes leaves its tensors without statistics.
  std::set<std::string> produced, in_subgraphs;
  for (const ScopedGraph& sg : graph_tree(g)) {
    for (const Node& n : sg.graph->nodes) {
      for (const auto& o : n.outputs) {
        if (o.empty()) continue;
        produced.insert(o);
        if (sg.owner) in_subgraphs.insert(o);
      }
    }
  }
  CalibrationStats out;
  std::unordered_map<std::string, Collector> wanted;
  for (const auto& name : tensors) {
    if (!graph_inputs.count(name) && !produced.count(name)) {
      return Status::InvalidInput("calibration tensor '" + name +
                                  "' is neither a model input nor a node output of graph '" +
                                  g.name + "'");
    }
    wanted[name];
  }

  const int64_t n = std::min(sampling_size, data.size());
  // A model that fixes its batch size gets batches of that size; a short last batch is filled
  // up with its own samples again, which leaves min/max unchanged and weighs those few samples
  // twice in the histograms.
  batch_size = feed.batch_size(batch_size);

  // Two passes over the calibration set: min/max first, then the histogram over the now known
  // [0, max|x|]. Unlike re-binning a growing histogram (which moves counts between bins), every
  // value lands in exactly the bin it would with the final range known up front, so the result
  // is exact and independent of batch order, at the cost of running the model twice.
  for (int pass = 0; pass < 2; ++pass) {
    Status observed;
    auto observe = [&](const std::string& name, const Tensor& t) {
      if (!observed.ok()) return;
      auto it = wanted.find(name);
      if (it == wanted.end()) return;
      if (t.dtype() != DType::kF32) {
        observed = Status::InvalidInput("calibration tensor '" + name + "' is " +
                                        std::string(dtype_name(t.dtype())) +
                                        "; only f32 tensors can be calibrated");
        return;
      }
      Collector& c = it->second;
      c.seen = true;
      if (pass == 0) {
        c.minmax.merge(scan_minmax(t.data<float>(), t.numel()));
      } else {
        fill_histogram(t.data<float>(), t.numel(), c.stats->hist_max, &c.stats->histogram);
      }
    };
    for (int64_t start = 0; start < n; start += batch_size) {
      const int64_t count = std::min(batch_size, n - start);
      const std::vector<Tensor> x = feed.batch(start, count);
      for (size_t i = 0; i < x.size(); ++i) observe(g.inputs[i].name, x[i]);
      auto run = fp32.run(x, observe);
      if (!run.ok()) {
        return run.status().Annotate("calibration batch at sample " + std::to_string(start));
      }
      if (!observed.ok()) return observed;
      if (progress) progress("calibration", pass * n + start + count, 2 * n);
    }
    if (pass == 0) {
      for (auto it = wanted.begin(); it != wanted.end();) {
        if (it->second.seen) {
          it->second.stats = &out.tensors[it->first];
          ++it;
        } else if (in_subgraphs.count(it->first)) {
          it = wanted.erase(it);
        } else {
          return Status::Internal("calibration tensor '" + it->first +
                                  "' was never produced while running the model");
        }
      }
      for (auto& [name, c] : wanted) {
        TensorStats& s = *c.stats;
        s.count = c.minmax.finite;
        s.nonfinite = c.minmax.nonfinite;
        s.min = c.minmax.finite ? c.minmax.min : 0.0f;
        s.max = c.minmax.finite ? c.minmax.max : 0.0f;
        s.hist_max = std::max(std::fabs(s.min), std::fabs(s.max));
        s.histogram.assign(kCalibHistogramBins, 0);
      }
    }
  }
  for (const auto& [name, s] : out.tensors) {
    const uint64_t total = std::accumulate(s.histogram.begin(), s.histogram.end(), uint64_t{0});
    if (total != static_cast<uint64_t>(s.count)) {
      return Status::Internal("calibration tensor '" + name + "': the second pass saw " +
                              std::to_string(total) + " finite values, the first " +
                              std::to_string(s.count) + "; the model is not deterministic");
    }
  }
  out.samples = n;
  out.model_hash = graph_content_hash(g);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Range algorithms. Each returns a threshold as a bin count i: t = i * hist_max / bins.

uint64_t hist_total(const TensorStats& s) {
  return std::accumulate(s.histogram.begin(), s.histogram.end(), uint64_t{0});
}

double bin_edge(const TensorStats& s, size_t i) {
  return static_cast<double>(s.hist_max) * static_cast<double>(i) /
         static_cast<double>(s.histogram.size());
}

// Smallest upper bin edge with at least kCalibPercentile% of |x| at or below it. The percentile
// is compared in integers (thousandths of a percent) so 99.999f means exactly 99.999%.
size_t percentile_bins(const TensorStats& s, uint64_t total) {
  using u128 = unsigned __int128;
  const u128 keep_milli = static_cast<uint64_t>(std::llround(kCalibPercentile * 1000.0));
  const u128 need = static_cast<u128>(total) * keep_milli;
  uint64_t cum = 0;
  for (size_t b = 0; b < s.histogram.size(); ++b) {
    cum += s.histogram[b];
    if (static_cast<u128>(cum) * 100000u >= need) return b + 1;
  }
  return s.histogram.size();
}

// KL(P||Q) for threshold i, as TensorRT/MXNet compute it, without materialising P and Q.
//   P: the first i bins, everything beyond (`outliers`) folded into the last one.
//   Q: the unclipped bins merged into `levels` groups (the last takes the remainder), each
//      group's mass spread evenly over the bins where P is non-zero, 0 where P is 0.
//   Smoothing: zeros become eps and the non-zeros give up the same mass (eps1, capped below
//   half the smallest non-zero so nothing turns negative), so the divergence stays finite.
// A bin where P is zero is zero in Q too; both smooth to eps and it adds nothing, so only
// P's non-zero bins are summed: KL = sum p'(log p' - log q') / sum p' + log(sum q' / sum p').
double kl_divergence_at(const std::vector<uint64_t>& h, uint64_t outliers, size_t i,
                        size_t levels, std::vector<double>* share) {
  constexpr double kEps = 1e-4;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const size_t merged = i / levels;
  auto p_at = [&](size_t k) {
    return static_cast<double>(h[k]) + (k + 1 == i ? static_cast<double>(outliers) : 0.0);
  };
  size_t p_zeros = 0, q_zeros = 0;
  double p_min = kInf, q_min = kInf, sp = 0, sq = 0;
  for (size_t j = 0; j < levels; ++j) {
    const size_t start = j * merged;
    const size_t stop = j + 1 == levels ? i : start + merged;
    uint64_t mass = 0;
    size_t nonzero = 0;
    for (size_t k = start; k < stop; ++k) {
      mass += h[k];
      const double p = p_at(k);
      if (p != 0) {
        ++nonzero;
        p_min = std::min(p_min, p);
        sp += p;
      }
    }
    p_zeros += (stop - start) - nonzero;
    q_zeros += (stop - start) - nonzero;
    (*share)[j] = 0;
    if (nonzero == 0) continue;
    if (mass == 0) {
      q_zeros += nonzero;  // only the folded outliers are here: Q has nothing
      continue;
    }
    (*share)[j] = static_cast<double>(mass) / static_cast<double>(nonzero);
    q_min = std::min(q_min, (*share)[j]);
    sq += static_cast<double>(mass);
  }
  const size_t p_nonzero = i - p_zeros, q_nonzero = i - q_zeros;
  if (p_nonzero == 0 || q_nonzero == 0) return kInf;
  const double p_eps1 = std::min(kEps * static_cast<double>(p_zeros) / p_nonzero, 0.5 * p_min);
  const double q_eps1 = std::min(kEps * static_cast<double>(q_zeros) / q_nonzero, 0.5 * q_min);
  const double sp1 = sp + kEps * static_cast<double>(p_zeros) - p_eps1 * p_nonzero;
  const double sq1 = sq + kEps * static_cast<double>(q_zeros) - q_eps1 * q_nonzero;
  double acc = 0;
  for (size_t j = 0; j < levels; ++j) {
    const size_t start = j * merged;
    const size_t stop = j + 1 == levels ? i : start + merged;
    const double log_q = std::log((*share)[j] > 0 ? (*share)[j] - q_eps1 : kEps);
    for (size_t k = start; k < stop; ++k) {
      const double p = p_at(k);
      if (p == 0) continue;
      const double p1 = p - p_eps1;
      acc += p1 * (std::log(p1) - log_q);
    }
  }
  return acc / sp1 + std::log(sq1 / sp1);
}

// Entropy calibration: over thresholds i in [levels, bins], the first minimum of KL(P||Q).
// `levels` is how many quantization steps the threshold is split into on the kept side.
size_t kl_bins(const TensorStats& s, size_t levels) {
  const auto& h = s.histogram;
  const size_t nbins = h.size();
  if (nbins < levels) return nbins;
  std::vector<uint64_t> suffix(nbins + 1, 0);
  for (size_t b = nbins; b-- > 0;) suffix[b] = suffix[b + 1] + h[b];
  std::vector<double> kl(nbins + 1, std::numeric_limits<double>::infinity());
  // Candidates are independent: parallel over i, argmin sequentially so ties stay deterministic.
  tbb::parallel_for(tbb::blocked_range<size_t>(levels, nbins + 1, 32),
                    [&](const tbb::blocked_range<size_t>& r) {
                      std::vector<double> share(levels);
                      for (size_t i = r.begin(); i < r.end(); ++i) {
                        kl[i] = kl_divergence_at(h, suffix[i], i, levels, &share);
                      }
                    });
  size_t best = nbins;
  double best_kl = std::numeric_limits<double>::infinity();
  for (size_t i = levels; i <= nbins; ++i) {
    if (kl[i] < best_kl) {
      best_kl = kl[i];
      best = i;
    }
  }
  return best;
}

// The range an asym scheme keeps for threshold t; always contains 0.
FloatRange asym_clip(const TensorStats& s, float t) {
  return {std::min(std::max(s.min, -t), 0.0f), std::max(std::min(s.max, t), 0.0f)};
}

// Expected squared error for threshold i: values inside get the uniform rounding error step²/12
// of the dtype's grid, values beyond (bins taken as uniformly filled) their distance to t.
// u8 and s8 have the same step for a given range and scheme, so only the scheme matters.
size_t mse_bins(const TensorStats& s, QuantScheme scheme) {
  const auto& h = s.histogram;
  const size_t nbins = h.size();
  const double w = static_cast<double>(s.hist_max) / static_cast<double>(nbins);
  size_t best = nbins;
  double best_err = std::numeric_limits<double>::infinity();
  uint64_t inside = 0;
  for (size_t i = 1; i <= nbins; ++i) {
    inside += h[i - 1];
    const double t = w * static_cast<double>(i);
    double step;
    if (scheme == QuantScheme::kSym) {
      step = t / 127.0;  // s8 sym and u8 sym (zero point 128) both have 127 steps per side
    } else {
      const FloatRange r = asym_clip(s, static_cast<float>(t));
      step = (static_cast<double>(r.hi) - r.lo) / 255.0;
    }
    double err = static_cast<double>(inside) * step * step / 12.0;
    for (size_t b = i; b < nbins; ++b) {
      if (h[b] == 0) continue;
      // E[(x - t)^2] for x uniform in [k, k+1] * w, k = b - i.
      const double k = static_cast<double>(b - i);
      err += static_cast<double>(h[b]) * w * w * (k * k + k + 1.0 / 3.0);
    }
    if (err < best_err) {
      best_err = err;
      best = i;
    }
  }
  return best;
}

std::optional<size_t> threshold_bins_uncached(const TensorStats& s, CalibAlgorithm a,
                                              QuantScheme scheme);

// kl and mse cost O(bins^2) per tensor (milliseconds at 2048 bins) and every quantize() of a
// tuning run asks again for the same tensors: a process-wide memo keyed by the histogram's
// content (compared in full on a hit, so a hash collision cannot return another tensor's bins).
class ThresholdMemo {
 public:
  std::optional<size_t> get(const TensorStats& s, CalibAlgorithm a, QuantScheme scheme) {
    const uint64_t key = hash(s, a, scheme);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto [lo, hi] = entries_.equal_range(key);
      for (auto it = lo; it != hi; ++it) {
        if (it->second.algorithm == a && it->second.scheme == scheme && it->second.stats == s) {
          return it->second.bins;
        }
      }
    }
    const std::optional<size_t> bins = threshold_bins_uncached(s, a, scheme);
    std::lock_guard<std::mutex> lock(mu_);
    if (entries_.size() >= kMaxEntries) entries_.clear();  // bounded memory; rebuilt as needed
    entries_.emplace(key, Entry{s, a, scheme, bins});
    return bins;
  }

 private:
  // 2048-bin histograms are 16 KiB each: a few thousand entries cover many models' tensors.
  static constexpr size_t kMaxEntries = 4096;
  struct Entry {
    TensorStats stats;
    CalibAlgorithm algorithm;
    QuantScheme scheme;
    std::optional<size_t> bins;
  };
  static uint64_t hash(const TensorStats& s, CalibAlgorithm a, QuantScheme scheme) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a over the fields the algorithms read
    auto mix = [&h](const void* p, size_t n) {
      const auto* c = static_cast<const uint8_t*>(p);
      for (size_t i = 0; i < n; ++i) h = (h ^ c[i]) * 1099511628211ull;
    };
    const int tags[2] = {static_cast<int>(a), static_cast<int>(scheme)};
    mix(tags, sizeof tags);
    mix(&s.min, sizeof s.min);
    mix(&s.max, sizeof s.max);
    mix(&s.hist_max, sizeof s.hist_max);
    mix(s.histogram.data(), s.histogram.size() * sizeof(uint64_t));
    return h;
  }
  std::mutex mu_;
  std::unordered_multimap<uint64_t, Entry> entries_;
};

// Threshold bin count for a histogram algorithm, or nullopt when the histogram cannot say
// (minmax, no data, zero range).
std::optional<size_t> threshold_bins(const TensorStats& s, CalibAlgorithm a, QuantScheme scheme) {
  if (a != CalibAlgorithm::kKl && a != CalibAlgorithm::kMse) return threshold_bins_uncached(s, a, scheme);
  static ThresholdMemo memo;
  return memo.get(s, a, scheme);
}

std::optional<size_t> threshold_bins_uncached(const TensorStats& s, CalibAlgorithm a,
                                              QuantScheme scheme) {
  if (a == CalibAlgorithm::kMinMax || s.histogram.empty() || !(s.hist_max > 0)) {
    return std::nullopt;
  }
  const uint64_t total = hist_total(s);
  if (total == 0) return std::nullopt;
  switch (a) {
    case CalibAlgorithm::kPercentile: return percentile_bins(s, total);
    // Data that is never negative, quantized asymmetrically, keeps the whole 8-bit grid on the
    // positive side: twice the levels of one side of a symmetric grid.
    case CalibAlgorithm::kKl:
      return kl_bins(s, scheme == QuantScheme::kAsym && s.min >= 0 ? 2 * kCalibKlTargetBins
                                                                   : kCalibKlTargetBins);
    case CalibAlgorithm::kMse: return mse_bins(s, scheme);
    case CalibAlgorithm::kMinMax: break;
  }
  return std::nullopt;
}

float abs_max(const TensorStats& s) { return std::max(std::fabs(s.min), std::fabs(s.max)); }

float threshold_of(const TensorStats& s, const std::optional<size_t>& bins) {
  const float amax = abs_max(s);
  if (!bins) return amax;
  return std::min(static_cast<float>(bin_edge(s, *bins)), amax);
}

// ---------------------------------------------------------------------------------------------
// File format (little-endian):
//   "QTCALIB\0" u32 version | i64 samples | str model_hash | u32 tensors |
//   per tensor: str name, f32 min, f32 max, i64 count, i64 nonfinite, f32 hist_max, u32 bins,
//               u64[bins] |
//   u64 FNV-1a of every byte before it.
// str is u32 length + bytes. Floats are stored as their bit patterns, so a round trip is exact.

constexpr char kMagic[8] = {'Q', 'T', 'C', 'A', 'L', 'I', 'B', '\0'};
constexpr uint32_t kVersion = 1;

class Writer {
 public:
  void raw(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    buf_.insert(buf_.end(), c, c + n);
  }
  void u32(uint32_t v) { le(v, 4); }
  void u64(uint64_t v) { le(v, 8); }
  void i64(int64_t v) { le(static_cast<uint64_t>(v), 8); }
  void f32(float v) {
    uint32_t u = 0;
    std::memcpy(&u, &v, 4);
    u32(u);
  }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  std::vector<uint8_t>& bytes() { return buf_; }

 private:
  void le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t> buf_;
};

class Reader {
 public:
  Reader(const std::string& path, const std::vector<uint8_t>& b) : path_(path), b_(b) {}

  size_t offset() const { return off_; }
  size_t left() const { return b_.size() - off_; }
  Status error(size_t at, const std::string& what) const {
    return Status::InvalidInput(path_ + ": byte " + std::to_string(at) + ": " + what);
  }

  Status need(size_t n, const std::string& field) const {
    if (left() >= n) return Status::Ok();
    return error(off_, "truncated reading " + field + " (needs " + std::to_string(n) +
                           " bytes, " + std::to_string(left()) + " left)");
  }
  Status u32(uint32_t* v, const std::string& field) {
    uint64_t w = 0;
    QT_RETURN_IF_ERROR(le(&w, 4, field));
    *v = static_cast<uint32_t>(w);
    return Status::Ok();
  }
  Status u64(uint64_t* v, const std::string& field) { return le(v, 8, field); }
  Status i64(int64_t* v, const std::string& field) {
    uint64_t w;
    QT_RETURN_IF_ERROR(le(&w, 8, field));
    *v = static_cast<int64_t>(w);
    return Status::Ok();
  }
  Status f32(float* v, const std::string& field) {
    uint32_t u = 0;
    QT_RETURN_IF_ERROR(u32(&u, field));
    std::memcpy(v, &u, 4);
    return Status::Ok();
  }
  Status str(std::string* s, const std::string& field) {
    uint32_t n = 0;
    QT_RETURN_IF_ERROR(u32(&n, field + " length"));
    QT_RETURN_IF_ERROR(need(n, field));
    s->assign(reinterpret_cast<const char*>(b_.data() + off_), n);
    off_ += n;
    return Status::Ok();
  }

 private:
  Status le(uint64_t* v, int n, const std::string& field) {
    QT_RETURN_IF_ERROR(need(static_cast<size_t>(n), field));
    uint64_t w = 0;
    for (int i = 0; i < n; ++i) w |= static_cast<uint64_t>(b_[off_ + i]) << (8 * i);
    off_ += static_cast<size_t>(n);
    *v = w;
    return Status::Ok();
  }

  const std::string& path_;
  const std::vector<uint8_t>& b_;
  size_t off_ = 0;
};

// What save refuses to write and load refuses to accept; `where` names the tensor.
std::string invalid_stats(const TensorStats& s) {
  if (s.count < 0) return "negative count " + std::to_string(s.count);
  if (s.nonfinite < 0) return "negative NaN/Inf count " + std::to_string(s.nonfinite);
  if (!std::isfinite(s.min) || !std::isfinite(s.max) || s.min > s.max) {
    return "bad min/max " + fmt(s.min) + "/" + fmt(s.max);
  }
  if (!std::isfinite(s.hist_max) || s.hist_max < 0) return "bad hist_max " + fmt(s.hist_max);
  if (!s.histogram.empty() && hist_total(s) != static_cast<uint64_t>(s.count)) {
    return "histogram total " + std::to_string(hist_total(s)) + " differs from count " +
           std::to_string(s.count);
  }
  return "";
}

Result<CalibrationStats> parse_stats(const std::string& path, const std::vector<uint8_t>& bytes) {
  Reader r(path, bytes);
  QT_RETURN_IF_ERROR(r.need(sizeof kMagic, "magic"));
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    return r.error(0, "not a qtune calibration file (bad magic)");
  }
  uint64_t magic = 0;
  QT_RETURN_IF_ERROR(r.u64(&magic, "magic"));
  uint32_t version = 0;
  const size_t version_at = r.offset();
  QT_RETURN_IF_ERROR(r.u32(&version, "version"));
  if (version != kVersion) {
    return r.error(version_at, "unsupported version " + std::to_string(version) +
                                   " (this build reads " + std::to_string(kVersion) + ")");
  }
  CalibrationStats out;
  QT_RETURN_IF_ERROR(r.i64(&out.samples, "sample count"));
  QT_RETURN_IF_ERROR(r.str(&out.model_hash, "model hash"));
  uint32_t ntensors = 0;
  QT_RETURN_IF_ERROR(r.u32(&ntensors, "tensor count"));
  for (uint32_t t = 0; t < ntensors; ++t) {
    const size_t tensor_at = r.offset();
    std::string name;
    QT_RETURN_IF_ERROR(r.str(&name, "name of tensor #" + std::to_string(t)));
    const std::string where = "tensor '" + name + "' ";
    TensorStats s;
    QT_RETURN_IF_ERROR(r.f32(&s.min, where + "min"));
    QT_RETURN_IF_ERROR(r.f32(&s.max, where + "max"));
    QT_RETURN_IF_ERROR(r.i64(&s.count, where + "count"));
    QT_RETURN_IF_ERROR(r.i64(&s.nonfinite, where + "NaN/Inf count"));
    QT_RETURN_IF_ERROR(r.f32(&s.hist_max, where + "hist_max"));
    uint32_t nbins = 0;
    QT_RETURN_IF_ERROR(r.u32(&nbins, where + "bin count"));
    // Checked before allocating, so a corrupt count cannot ask for gigabytes.
    QT_RETURN_IF_ERROR(r.need(static_cast<size_t>(nbins) * 8, where + "histogram"));
    s.histogram.resize(nbins);
    for (uint32_t b = 0; b < nbins; ++b) {
      QT_RETURN_IF_ERROR(r.u64(&s.histogram[b], where + "histogram"));
    }
    const std::string bad = invalid_stats(s);
    if (!bad.empty()) return r.error(tensor_at, where + bad);
    if (!out.tensors.emplace(name, std::move(s)).second) {
      return r.error(tensor_at, where + "appears twice");
    }
  }
  const size_t checksum_at = r.offset();
  uint64_t stored = 0;
  QT_RETURN_IF_ERROR(r.u64(&stored, "checksum"));
  Fnv64 f;
  f.bytes(bytes.data(), checksum_at);
  if (f.value() != stored) {
    return r.error(checksum_at, "checksum mismatch (the file is corrupt)");
  }
  if (r.left() != 0) {
    return r.error(r.offset(), std::to_string(r.left()) + " unexpected bytes after the checksum");
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

Result<CalibrationStats> collect_calibration_stats(const Executor& fp32, const Dataset& data,
                                                   int64_t sampling_size, int64_t batch_size,
                                                   const std::vector<std::string>& tensors,
                                                   const ProgressFn& progress) {
  try {
    return collect_impl(fp32, data, sampling_size, batch_size, tensors, progress);
  } catch (const std::exception& e) {
    return Status::Internal(std::string("calibration failed: ") + e.what());
  }
}

std::string graph_content_hash(const Graph& g) {
  Fnv64 f;
  f.i64(g.opset);
  f.i64(static_cast<int64_t>(g.inputs.size()));
  for (const auto& v : g.inputs) hash_value_info(f, v);
  f.i64(static_cast<int64_t>(g.outputs.size()));
  for (const auto& v : g.outputs) hash_value_info(f, v);
  f.i64(static_cast<int64_t>(g.nodes.size()));
  for (const Node& n : g.nodes) {
    f.str(n.name);
    f.str(n.op_type);
    f.str(n.domain);
    f.i64(static_cast<int64_t>(n.inputs.size()));
    for (const auto& s : n.inputs) f.str(s);
    f.i64(static_cast<int64_t>(n.outputs.size()));
    for (const auto& s : n.outputs) f.str(s);
    f.i64(static_cast<int64_t>(n.attrs.size()));
    for (const auto& [key, a] : n.attrs) {
      f.str(key);
      f.i64(static_cast<int64_t>(a.kind));
      f.i64(a.i);
      f.bytes(&a.f, sizeof a.f);
      f.str(a.s);
      f.i64(static_cast<int64_t>(a.ints.size()));
      for (int64_t v : a.ints) f.i64(v);
      f.i64(static_cast<int64_t>(a.floats.size()));
      if (!a.floats.empty()) f.bytes(a.floats.data(), a.floats.size() * sizeof(float));
      f.i64(static_cast<int64_t>(a.strings.size()));
      for (const auto& s : a.strings) f.str(s);
      f.tensor(a.t);
      if (a.g) f.str(graph_content_hash(*a.g));
      for (const auto& sub : a.graphs) f.str(sub ? graph_content_hash(*sub) : std::string());
    }
  }
  f.i64(static_cast<int64_t>(g.initializers.size()));
  for (const auto& [name, t] : g.initializers) {
    f.str(name);
    f.tensor(t);
  }
  return f.hex();
}

FloatRange derive_range(const TensorStats& s, CalibAlgorithm algorithm, QuantScheme scheme,
                        DType dtype) {
  if (s.count <= 0) return {};
  const float t = threshold_of(s, threshold_bins(s, algorithm, scheme));
  if (scheme == QuantScheme::kAsym) return asym_clip(s, t);
  if (!(t > 0)) return {};
  // Symmetric is valid for all-positive (post-ReLU) data too: half the grid goes unused.
  return {-t, t};
}

ScaleZeroPoint choose_qparams(FloatRange r, DType dtype, QuantScheme scheme) {
  float lo = std::isfinite(r.lo) ? std::min(r.lo, 0.0f) : 0.0f;
  float hi = std::isfinite(r.hi) ? std::max(r.hi, 0.0f) : 0.0f;
  const bool u8 = dtype == DType::kU8;
  ScaleZeroPoint q;
  if (scheme == QuantScheme::kSym) {
    q.scale = std::max(-lo, hi) / 127.0f;
    q.zero_point = u8 ? 128 : 0;
  } else {
    q.scale = (hi - lo) / 255.0f;
  }
  // ONNX Runtime's rule: below the smallest normal float the scale is meaningless, use 1.
  if (!(q.scale >= FLT_MIN) || !std::isfinite(q.scale)) {
    q.scale = 1.0f;
    lo = 0.0f;
  }
  if (scheme == QuantScheme::kAsym) {
    const float qmin = u8 ? 0.0f : -128.0f;
    const float qmax = u8 ? 255.0f : 127.0f;
    const float zp = round_half_even(qmin - lo / q.scale);
    q.zero_point = static_cast<int32_t>(std::clamp(zp, qmin, qmax));
  }
  return q;
}

std::vector<std::string> calibration_warnings(const CalibrationStats& stats) {
  std::vector<std::string> out;
  try {
    for (const auto& [name, s] : stats.tensors) {
      const std::string who = "calibration: tensor '" + name + "'";
      if (s.nonfinite > 0) {
        out.push_back(who + ": " + std::to_string(s.nonfinite) +
                      " NaN/Inf values were ignored");
      }
      if (s.count <= 0) {
        out.push_back(who + ": no finite values observed; its range is [0, 0]");
        continue;
      }
      if (s.min == s.max) {
        out.push_back(who + ": zero range (min = max = " + fmt(s.min) +
                      "); it quantizes with scale 1");
        continue;
      }
      const uint64_t total = hist_total(s);
      if (s.histogram.empty() || total == 0 || !(s.hist_max > 0)) continue;
      for (CalibAlgorithm a : {CalibAlgorithm::kKl, CalibAlgorithm::kPercentile}) {
        const auto bins = threshold_bins(s, a, QuantScheme::kSym);
        const float t = threshold_of(s, bins);
        const float amax = abs_max(s);
        // With fewer bins than levels kl has nothing to choose from; that is no finding.
        const bool kl_ran = s.histogram.size() >= static_cast<size_t>(kCalibKlTargetBins);
        if (a == CalibAlgorithm::kKl && kl_ran && t >= amax) {
          out.push_back(who + ": kl threshold equals the minmax range (max |x| = " + fmt(amax) +
                        "); kl clips nothing here");
          continue;
        }
        uint64_t clipped = 0;
        for (size_t b = bins.value_or(s.histogram.size()); b < s.histogram.size(); ++b) {
          clipped += s.histogram[b];
        }
        const double share = static_cast<double>(clipped) / static_cast<double>(total);
        if (share > 0.01) {
          out.push_back(who + ": saturation: the " + to_string(a) + " range [-" + fmt(t) + ", " +
                        fmt(t) + "] clips " + fmt(100.0 * share) + "% of " +
                        std::to_string(total) + " values (max |x| = " + fmt(amax) + ")");
        }
      }
    }
  } catch (const std::exception& e) {
    out.push_back(std::string("calibration: warnings incomplete: ") + e.what());
  }
  return out;
}

Status save_calibration_stats(const CalibrationStats& stats, const std::string& path) {
  try {
    Writer w;
    w.raw(kMagic, sizeof kMagic);
    w.u32(kVersion);
    w.i64(stats.samples);
    w.str(stats.model_hash);
    w.u32(static_cast<uint32_t>(stats.tensors.size()));
    for (const auto& [name, s] : stats.tensors) {
      const std::string bad = invalid_stats(s);
      if (!bad.empty()) {
        return Status::InvalidInput(path + ": not saving tensor '" + name + "': " + bad);
      }
      w.str(name);
      w.f32(s.min);
      w.f32(s.max);
      w.i64(s.count);
      w.i64(s.nonfinite);
      w.f32(s.hist_max);
      w.u32(static_cast<uint32_t>(s.histogram.size()));
      for (uint64_t c : s.histogram) w.u64(c);
    }
    Fnv64 f;
    f.bytes(w.bytes().data(), w.bytes().size());
    w.u64(f.value());
    // Written aside, fsync'd and renamed, so a worker never reads a half-written file and a
    // crash leaves the old file or the new one.
    QT_RETURN_IF_ERROR(replace_file(path, std::string_view(reinterpret_cast<const char*>(w.bytes().data()),
                                                           w.bytes().size())));
    return Status::Ok();
  } catch (const std::exception& e) {
    return Status::Internal(path + ": saving calibration stats failed: " + e.what());
  }
}

Result<CalibrationStats> load_calibration_stats(const std::string& path) {
  try {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::InvalidInput(path + ": cannot open");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                               std::istreambuf_iterator<char>());
    if (in.bad()) return Status::InvalidInput(path + ": read failed");
    return parse_stats(path, bytes);
  } catch (const std::exception& e) {
    return Status::Internal(path + ": loading calibration stats failed: " + e.what());
  }
}

}  // namespace qtune
