// `qtune bench model MODEL.onnx`: the latency of one batch of a model (fp32 or QDQ int8) on
// random input of its declared shape, run the way `qtune eval` runs it (an adaptor's kernels,
// or --reference). Warm-up runs, then timed runs; prints the median with min and max, and the
// process's peak RSS. bench/compare.sh sets it beside ONNX Runtime on the same file.
#include <sys/resource.h>
#include <time.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <chrono>
#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "cli/model_runtime.h"
#include "common/onnx_io.h"
#include "common/latency.h"

namespace qtune::cli {
namespace {

// CPU time of this process so far, all threads, in ms.
double process_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return 1e3 * static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_nsec);
}

// Peak resident set of this process so far, in KiB.
int64_t peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

// Current resident set, in KiB (0 when /proc is unavailable).
int64_t current_rss_kb() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  long pages = 0, resident = 0;
  const int got = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return got == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : 0;
}

// "x=1x3x224x224,mask=1x128" -> {x: [1,3,224,224], mask: [1,128]}.
Result<std::map<std::string, Shape>> parse_shapes(const std::string& text) {
  std::map<std::string, Shape> out;
  std::stringstream items(text);
  std::string item;
  while (std::getline(items, item, ',')) {
    const size_t eq = item.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
      return Status::InvalidInput("--shape: expected NAME=DxDx..., got '" + item + "'");
    }
    Shape dims;
    std::stringstream ds(item.substr(eq + 1));
    std::string d;
    while (std::getline(ds, d, 'x')) {
      int64_t v = 0;
      auto [p, ec] = std::from_chars(d.data(), d.data() + d.size(), v);
      if (ec != std::errc() || p != d.data() + d.size() || v < 0) {
        return Status::InvalidInput("--shape: '" + d + "' in '" + item +
                                    "' is not a dimension (a non-negative integer)");
      }
      dims.push_back(v);
    }
    out[item.substr(0, eq)] = dims;
  }
  return out;
}

// Each input's shape: --shape when given, else the declared one with the first dynamic dim
// set to `batch` (when it is the leading dim) and any other dynamic dim to 1, which `notes`
// reports. A fixed leading dim that differs from an explicit --batch is an error.
Result<std::vector<Shape>> input_shapes(const Graph& g, const std::string& model_path,
                                        std::optional<int64_t> batch,
                                        const std::map<std::string, Shape>& given,
                                        std::vector<std::string>* notes) {
  for (const auto& entry : given) {
    const std::string& name = entry.first;  // a plain reference: clang 14 cannot capture bindings
    const bool known = std::any_of(g.inputs.begin(), g.inputs.end(),
                                   [&](const ValueInfo& in) { return in.name == name; });
    if (!known) {
      return Status::InvalidInput("--shape: " + model_path + " has no input '" + name + "'");
    }
  }
  std::vector<Shape> out;
  for (const ValueInfo& in : g.inputs) {
    if (in.kind != ValueKind::kTensor) {
      return Status::Unsupported(model_path + ": input '" + in.name +
                                 "' is not a tensor; bench model generates tensors only");
    }
    if (auto it = given.find(in.name); it != given.end()) {
      if (in.shape && in.shape->size() != it->second.size()) {
        return Status::InvalidInput("--shape " + in.name + ": rank " +
                                    std::to_string(it->second.size()) + ", the model declares " +
                                    shape_str(*in.shape));
      }
      out.push_back(it->second);
      continue;
    }
    if (!in.shape) {
      return Status::InvalidInput(model_path + ": input '" + in.name +
                                  "' declares no shape; give it with --shape " + in.name +
                                  "=DxDx...");
    }
    Shape s = *in.shape;
    for (size_t d = 0; d < s.size(); ++d) {
      if (d == 0 && s[d] >= 0 && batch && *batch != s[d]) {
        return Status::InvalidInput("--batch " + std::to_string(*batch) + ": " + model_path +
                                    " fixes input '" + in.name + "' to " + shape_str(s));
      }
      if (s[d] >= 0) continue;
      if (d == 0) {
        s[d] = batch.value_or(1);
      } else {
        s[d] = 1;
        notes->push_back("input '" + in.name + "' dim " + std::to_string(d) +
                         " is dynamic: set to 1 (use --shape to choose)");
      }
    }
    out.push_back(s);
  }
  return out;
}

template <typename T, typename Gen>
void fill(Tensor& x, Gen&& gen) {
  T* d = x.data<T>();
  for (int64_t i = 0; i < x.numel(); ++i) d[i] = gen();
}

// Values spread over a small range: floats in [-1, 1), integers in [0, 4) so that index-like
// inputs stay in bounds, bools either way.
Result<Tensor> random_input(const ValueInfo& in, const Shape& shape, std::mt19937& rng) {
  const DType t = in.dtype == DType::kUndefined ? DType::kF32 : in.dtype;
  Tensor x(t, shape);
  std::uniform_real_distribution<float> real(-1.0f, 1.0f);
  std::uniform_int_distribution<int> small(0, 3);
  auto r = [&] { return real(rng); };
  auto k = [&] { return small(rng); };
  switch (t) {
    case DType::kF32: fill<float>(x, r); break;
    case DType::kF64: fill<double>(x, r); break;
    case DType::kF16: fill<uint16_t>(x, [&] { return f32_to_f16(r()); }); break;
    case DType::kBF16: fill<uint16_t>(x, [&] { return f32_to_bf16(r()); }); break;
    case DType::kU8: fill<uint8_t>(x, k); break;
    case DType::kS8: fill<int8_t>(x, k); break;
    case DType::kU16: fill<uint16_t>(x, k); break;
    case DType::kS16: fill<int16_t>(x, k); break;
    case DType::kU32: fill<uint32_t>(x, k); break;
    case DType::kS32: fill<int32_t>(x, k); break;
    case DType::kU64: fill<uint64_t>(x, k); break;
    case DType::kS64: fill<int64_t>(x, k); break;
    case DType::kBool: fill<uint8_t>(x, [&] { return k() % 2; }); break;
    default:
      return Status::Unsupported("input '" + in.name + "' is " + std::string(dtype_name(t)) +
                                 "; bench model generates numbers only");
  }
  return x;
}

Status run_bench_model(const Args& args, std::ostream& out) {
  if (args.positional.size() != 2) return Status::InvalidInput(usage_of("bench model"));
  const std::string model_path = args.positional[1];
  std::optional<int64_t> batch;
  if (args.has("--batch")) {
    QT_ASSIGN_OR_RETURN(batch, positive_int("--batch", args.get("--batch", "")));
  }
  int64_t warmup = 3, runs = 20;
  if (args.has("--warmup")) {
    QT_ASSIGN_OR_RETURN(warmup, positive_int("--warmup", args.get("--warmup", "")));
  }
  if (args.has("--runs")) {
    QT_ASSIGN_OR_RETURN(runs, positive_int("--runs", args.get("--runs", "")));
  }
  std::optional<tbb::global_control> threads;
  int64_t thread_count = 0;
  if (args.has("--threads")) {
    QT_ASSIGN_OR_RETURN(thread_count, positive_int("--threads", args.get("--threads", "")));
    threads.emplace(tbb::global_control::max_allowed_parallelism,
                    static_cast<size_t>(thread_count));
  }
  std::map<std::string, Shape> given;
  if (args.has("--shape")) {
    QT_ASSIGN_OR_RETURN(given, parse_shapes(args.get("--shape", "")));
  }

  const int64_t rss_before_kb = current_rss_kb();
  QT_ASSIGN_OR_RETURN(Graph graph, load_onnx_model(model_path));
  auto shared = std::make_shared<const Graph>(std::move(graph));
  std::vector<std::string> notes;
  QT_ASSIGN_OR_RETURN(std::vector<Shape> shapes,
                      input_shapes(*shared, model_path, batch, given, &notes));
  std::mt19937 rng(1234);
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < shapes.size(); ++i) {
    QT_ASSIGN_OR_RETURN(Tensor x, random_input(shared->inputs[i], shapes[i], rng));
    inputs.push_back(std::move(x));
  }
  QT_ASSIGN_OR_RETURN(std::unique_ptr<PreparedModel> prepared, prepare_to_run(shared, args));
  using Clock = std::chrono::steady_clock;
  for (int64_t i = 0; i < warmup; ++i) {
    Result<std::vector<Tensor>> r = prepared->run(inputs);
    if (!r.ok()) return r.status().Annotate(model_path);
  }
  // Per-op time of the timed runs, on stderr (stdout stays the result). The clock reads add a
  // little to every node, so the totals of a profiled run are not the figures to compare.
  const bool by_node = args.has("--by-node");
  if (by_node && !args.has("--profile")) return Status::InvalidInput("--by-node needs --profile");
  const bool profile = args.has("--profile") && enable_profiling(*prepared);
  std::vector<double> ms;
  const double cpu0 = process_cpu_ms();
  for (int64_t i = 0; i < runs; ++i) {
    const auto t0 = Clock::now();
    Result<std::vector<Tensor>> r = prepared->run(inputs);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!r.ok()) return r.status().Annotate(model_path);
  }
  // CPU time per run counts what the runs computed, not the time other processes held the cores:
  // on a busy machine it is the steadier figure (idle threads spinning for work count too).
  const double cpu_ms = (process_cpu_ms() - cpu0) / static_cast<double>(runs);
  if (profile) print_profile(*prepared, by_node, runs, stderr);
  const LatencyStats s = summarize_latency(ms);
  const int64_t peak_kb = peak_rss_kb();
  const int64_t batch_dim = !shapes.empty() && !shapes[0].empty() ? shapes[0][0] : 1;
  if (args.has("--json")) {
    out << "{\"model\": " << json_string(model_path) << ", \"runtime\": "
        << json_string(runtime_name(args)) << ", \"batch\": " << batch_dim
        << ", \"threads\": " << thread_count << ", \"warmup\": " << warmup
        << ", \"runs\": " << runs << ", \"median_ms\": " << fixed(s.median_ms, 4)
        << ", \"min_ms\": " << fixed(s.min_ms, 4) << ", \"max_ms\": " << fixed(s.max_ms, 4)
        << ", \"cpu_ms\": " << fixed(cpu_ms, 4) << ", \"peak_rss_kb\": " << peak_kb
        << ", \"model_rss_kb\": " << std::max<int64_t>(0, peak_kb - rss_before_kb)
        << ", \"notes\": [";
    for (size_t i = 0; i < notes.size(); ++i) out << (i ? ", " : "") << json_string(notes[i]);
    out << "]}\n";
  } else {
    for (size_t i = 0; i < inputs.size(); ++i) {
      out << "input " << shared->inputs[i].name << " " << dtype_name(inputs[i].dtype())
          << shape_str(inputs[i].shape()) << "\n";
    }
    out << model_path << " on " << runtime_name(args) << ": median " << fixed(s.median_ms, 3)
        << " ms per batch (min " << fixed(s.min_ms, 3) << ", max " << fixed(s.max_ms, 3) << ", "
        << runs << " runs after " << warmup << " warm-up) \u00b7 CPU " << fixed(cpu_ms, 3)
        << " ms per batch \u00b7 peak RSS "
        << fixed(static_cast<double>(peak_kb) / 1024.0, 1) << " MiB\n";
    for (const auto& n : notes) out << "note: " << n << "\n";
  }
  return Status::Ok();
}

}  // namespace

int cmd_bench_model(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("bench model"));
  Status s = args.ok() ? run_bench_model(args.value(), std::cout) : args.status();
  if (!s.ok()) {
    std::cerr << "qtune bench model: " << s.message() << "\n";
    if (!args.ok()) std::cerr << usage_of("bench model") << "\n";
    return s.exit_code();
  }
  return 0;
}

}  // namespace qtune::cli
