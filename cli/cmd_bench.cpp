#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "bench/kernel_bench.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "kernels/cpu_features.h"
#include "kernels/qconv_nhwc.h"
#include "kernels/qgemm.h"

namespace qtune::cli {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\';
    o += c;
  }
  return o;
}

// A positive number of seconds from --seconds, or kInvalidInput naming the flag.
Result<double> seconds_option(const Args& args, const std::string& fallback) {
  const std::string s = args.get("--seconds", fallback);
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(v > 0) || !std::isfinite(v)) {
    return Status::InvalidInput("--seconds expects a positive number, got '" + s + "'");
  }
  return v;
}

Result<int> bench_kernels(const Args& args) {
  QT_ASSIGN_OR_RETURN(const double seconds, seconds_option(args, "0.3"));
  const std::string models_dir = args.get("--models", "models/fashion_mnist");
  std::vector<bench::GemmShape> shapes;
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1024, 1024, 1024},
                         {64, 1024, 1024}, {256, 256, 2304}}) {
    bench::GemmShape s;
    s.label = std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k);
    s.m = m;
    s.n = n;
    s.k = k;
    shapes.push_back(s);
  }
  std::vector<std::string> notes;
  for (const char* model : {"lenet", "resnet", "vit"}) {
    const std::string path = models_dir + "/" + model + ".onnx";
    if (!std::filesystem::exists(path)) {
      notes.push_back(path + " not found: its layers are not benchmarked");
      continue;
    }
    for (int64_t batch : {1, 100}) {
      std::string err;
      auto layers = bench::model_layer_shapes(path, model, batch, &err);
      if (!err.empty()) return Status::InvalidInput(err);
      shapes.insert(shapes.end(), layers.begin(), layers.end());
    }
  }
  for (int64_t batch : {1, 100}) {
    const auto zoo = bench::zoo_conv_shapes(batch);
    shapes.insert(shapes.end(), zoo.begin(), zoo.end());
  }
  if (args.has("--only")) {
    const std::string only = args.get("--only", "");
    std::erase_if(shapes, [&](const bench::GemmShape& s) {
      return s.label.find(only) == std::string::npos;
    });
  }
  const bool json = args.has("--json");
  const int max_threads = bench::bench_max_threads();
  std::vector<int> thread_counts{1};
  if (max_threads > 1) thread_counts.push_back(max_threads);
  if (args.has("--threads")) {
    QT_ASSIGN_OR_RETURN(const int64_t n, positive_int("--threads", args.get("--threads", "")));
    thread_counts = {static_cast<int>(std::min<int64_t>(n, 4096))};
  }
  const double load_before = bench::load_average_1min();
  if (!json) {
    std::cout << "cpu: " << cpu_features().summary() << "\n"
              << "paths: int8 gemm " << qgemm_kernel().name << ", int8 conv (per shape) "
              << qconv_nhwc_kernel().name << "\n"
              << "load average (1 min) before: " << fmt("%.2f", load_before) << " on "
              << max_threads << " threads\n";
  } else {
    std::cout << "{\"cpu\": \"" << cpu_features().summary() << "\", \"int8_gemm_path\": \""
              << qgemm_kernel().name << "\", \"int8_conv_path\": \"" << qconv_nhwc_kernel().name
              << "\", \"max_threads\": " << max_threads
              << ", \"load_before\": " << fmt("%.2f", load_before) << ", \"rows\": [";
  }
  bool first = true;
  for (int threads : thread_counts) {
    if (!json) {
      std::printf("\n%d thread(s)\n%-34s %16s | %8s %8s %6s | %8s %8s %6s | %s\n", threads,
                  "shape", "MxNxK", "int8", "oneDNN", "ratio", "f32", "oneDNN", "ratio",
                  "qtune path vs oneDNN impl (int8)");
    }
    for (const auto& s : shapes) {
      const bench::KernelBenchRow r = bench::bench_shape(s, threads, seconds);
      const std::string mnk =
          std::to_string(s.m) + "x" + std::to_string(s.n) + "x" + std::to_string(s.k);
      if (json) {
        std::cout << (first ? "" : ",") << "\n  {\"shape\": \"" << json_escape(s.label)
                  << "\", \"mnk\": \"" << mnk << "\", \"threads\": " << threads
                  << ", \"conv\": " << (s.is_conv ? "true" : "false")
                  << ", \"qtune_int8_gops\": " << fmt("%.2f", r.qtune_int8_gops)
                  << ", \"onednn_int8_gops\": " << fmt("%.2f", r.onednn_int8_gops)
                  << ", \"int8_ratio\": " << fmt("%.3f", r.int8_ratio())
                  << ", \"qtune_f32_gops\": " << fmt("%.2f", r.qtune_f32_gops)
                  << ", \"onednn_f32_gops\": " << fmt("%.2f", r.onednn_f32_gops)
                  << ", \"f32_ratio\": " << fmt("%.3f", r.f32_ratio())
                  << ", \"qtune_int8_path\": \"" << r.qtune_int8_path
                  << "\", \"onednn_int8_impl\": \"" << r.onednn_int8_impl
                  << "\", \"qtune_f32_path\": \"" << r.qtune_f32_path
                  << "\", \"onednn_f32_impl\": \"" << r.onednn_f32_impl << "\"}";
      } else {
        std::printf("%-34s %16s | %8.1f %8.1f %6.2f | %8.1f %8.1f %6.2f | %s vs %s\n",
                    s.label.c_str(), mnk.c_str(), r.qtune_int8_gops, r.onednn_int8_gops,
                    r.int8_ratio(), r.qtune_f32_gops, r.onednn_f32_gops, r.f32_ratio(),
                    r.qtune_int8_path.c_str(), r.onednn_int8_impl.c_str());
      }
      std::cout.flush();
      first = false;
    }
  }
  const double load_after = bench::load_average_1min();
  if (load_before > 0.5 * max_threads || load_after > 0.5 * max_threads) {
    notes.push_back("the machine was busy (load average " + fmt("%.2f", load_before) + " -> " +
                    fmt("%.2f", load_after) + " on " + std::to_string(max_threads) +
                    " threads): all-thread oneDNN (OpenMP) figures are unreliable, the 1-thread "
                    "rows are the comparison");
  }
  if (json) {
    std::cout << "\n], \"load_after\": " << fmt("%.2f", load_after) << ", \"notes\": [";
    for (size_t i = 0; i < notes.size(); ++i) {
      std::cout << (i ? ", " : "") << "\"" << json_escape(notes[i]) << "\"";
    }
    std::cout << "]}\n";
  } else {
    std::cout << "GOPS = 2*M*N*K / best time; ratio = qtune / oneDNN in this run; both runtimes "
                 "capped to the row's thread count\n"
              << "load average (1 min) after: " << fmt("%.2f", load_after) << "\n";
    for (const auto& n : notes) std::cout << "note: " << n << "\n";
  }
  return 0;
}

Result<int> bench_peak(const Args& args) {
  std::vector<std::string> notes;
  QT_ASSIGN_OR_RETURN(const double seconds, seconds_option(args, "0.5"));
  const auto peaks = bench::bench_peak(seconds, &notes);
  if (args.has("--json")) {
    std::cout << "{\"cpu\": \"" << cpu_features().summary() << "\", \"peaks\": [";
    for (size_t i = 0; i < peaks.size(); ++i) {
      std::cout << (i ? ", " : "") << "{\"isa\": \"" << peaks[i].isa
                << "\", \"threads\": " << peaks[i].threads
                << ", \"gops\": " << fmt("%.1f", peaks[i].gops) << "}";
    }
    std::cout << "], \"notes\": [";
    for (size_t i = 0; i < notes.size(); ++i) {
      std::cout << (i ? ", " : "") << "\"" << json_escape(notes[i]) << "\"";
    }
    std::cout << "]}\n";
    return 0;
  }
  for (const auto& p : peaks) {
    std::printf("%-24s %2d thread(s): %8.1f GOPS\n", p.isa.c_str(), p.threads, p.gops);
  }
  for (const auto& n : notes) std::cout << "note: " << n << "\n";
  return 0;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("bench"));
  Result<int> rc = args.status();
  if (args.ok()) {
    const std::string what = args->positional.size() == 1 ? args->positional[0] : "";
    rc = what == "kernels" ? bench_kernels(*args)
         : what == "peak"  ? bench_peak(*args)
                           : usage_error("bench", "expects kernels, peak, model or dispatch");
  }
  if (!rc.ok()) {
    std::cerr << "qtune bench: " << rc.status().message() << "\n";
    if (!args.ok()) std::cerr << usage_of("bench") << "\n";
    return rc.status().exit_code();
  }
  return rc.value();
}

}  // namespace qtune::cli
