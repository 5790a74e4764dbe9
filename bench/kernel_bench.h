// `qtune bench`: qtune's kernels side by side with oneDNN in the same process run, reported as
// ratios (timings on a shared machine are noisy; ratios within one run are what count).
// Called by cli/cmd_bench.cpp. Single caller at a time; kernels parallelise internally.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace qtune::bench {

struct GemmShape {
  std::string label;  // "1024x1024x1024", "lenet:conv1 b100"
  bool is_conv = false;
  // GEMM view: M x N x K. For a convolution, the real conv parameters follow.
  int64_t m = 0, n = 0, k = 0;
  int64_t batch = 1, in_c = 0, in_h = 0, in_w = 0, out_c = 0, kernel_h = 0, kernel_w = 0;
  int64_t stride = 1, pad = 0, group = 1;
};

struct KernelBenchRow {
  GemmShape shape;
  double qtune_int8_gops = 0, onednn_int8_gops = 0;
  double qtune_f32_gops = 0, onednn_f32_gops = 0;
  std::string qtune_int8_path, onednn_int8_impl, qtune_f32_path, onednn_f32_impl;
  double int8_ratio() const { return onednn_int8_gops > 0 ? qtune_int8_gops / onednn_int8_gops : 0; }
  double f32_ratio() const { return onednn_f32_gops > 0 ? qtune_f32_gops / onednn_f32_gops : 0; }
};

// Every Conv/Gemm/MatMul layer of the model at the given batch, read by running it once.
std::vector<GemmShape> model_layer_shapes(const std::string& model_path, const std::string& tag,
                                          int64_t batch, std::string* error);

// min_seconds: time spent per measurement (the best of repeated runs is kept).
KernelBenchRow bench_shape(const GemmShape& s, double min_seconds);

struct PeakResult {
  std::string isa;
  int threads = 0;
  double gops = 0;
};
// Instruction-throughput peaks (vpdpbusd; AMX when present) on 1 thread and on all threads.
std::vector<PeakResult> bench_peak(double min_seconds, std::vector<std::string>* notes);

}  // namespace qtune::bench
