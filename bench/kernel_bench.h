// `qtune bench`: qtune's kernels side by side with oneDNN in the same process run, reported as
// ratios (timings on a shared machine are noisy; ratios within one run are what count).
// Called by cli/cmd_bench.cpp. Single caller at a time; kernels parallelise internally.
//
// Two thread runtimes share the process: qtune's TBB and oneDNN's OpenMP (Debian's libdnnl).
// OpenMP splits a region statically and joins at a barrier, so one of its threads preempted by
// another process stalls every call for a scheduler slice: on a loaded 2-core machine oneDNN
// then measures ~0.1 GOPS on small layers while TBB's work stealing just runs on. Hence:
//  - every shape is measured with 1 thread (no runtime interplay, immune to load) and with all
//    threads (meaningful only when the machine is otherwise idle: the load is reported);
//  - switching runtime waits kSettleSeconds so the other runtime's threads stop spinning;
//  - the int8 kernels are timed in alternating rounds, qtune then oneDNN, the best of each kept;
//  - primitive creation, weight reorders and packing stay outside the timed loop.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace qtune::bench {

struct GemmShape {
  std::string label;  // "1024x1024x1024", "lenet:conv1 b100", "zoo:dw3x3 112x112x32 b1"
  bool is_conv = false;
  // GEMM view: M x N x K (for a convolution K is per group, so 2*M*N*K counts its operations).
  // For a convolution, the real conv parameters follow.
  int64_t m = 0, n = 0, k = 0;
  int64_t batch = 1, in_c = 0, in_h = 0, in_w = 0, out_c = 0, kernel_h = 0, kernel_w = 0;
  int64_t stride = 1, pad = 0, group = 1;
};

constexpr int64_t kMaxF32ViewBytes = int64_t{256} << 20;

struct KernelBenchRow {
  GemmShape shape;
  int threads = 0;
  double qtune_int8_gops = 0, onednn_int8_gops = 0;
  double qtune_f32_gops = 0, onednn_f32_gops = 0;
  std::string qtune_int8_path, onednn_int8_impl, qtune_f32_path, onednn_f32_impl;
  double int8_ratio() const { return onednn_int8_gops > 0 ? qtune_int8_gops / onednn_int8_gops : 0; }
  double f32_ratio() const { return onednn_f32_gops > 0 ? qtune_f32_gops / onednn_f32_gops : 0; }
};

// The convolutions of the model zoo's image models (resnet18's stem, 3x3 layers at every stage
// and stride-2 downsampling; mobilenet_v2's depthwise and pointwise layers) at 224x224.
std::vector<GemmShape> zoo_conv_shapes(int64_t batch);

// Every Conv/Gemm/MatMul layer of the model at the given batch, read by running it once.
std::vector<GemmShape> model_layer_shapes(const std::string& model_path, const std::string& tag,
                                          int64_t batch, std::string* error);

// min_seconds: time spent per measurement (the best of repeated runs is kept). threads: both
// runtimes are capped to this many threads for the measurement. Convolutions run qtune's NHWC
// int8 convolution (what the native adaptor's lowered graphs run) and oneDNN's in its preferred
// layouts, both with u8 output; the fp32 columns compare the GEMM view of ungrouped layers
// whose im2col operand fits kMaxF32ViewBytes (0 otherwise).
KernelBenchRow bench_shape(const GemmShape& s, int threads, double min_seconds);

// Threads TBB and OpenMP use when uncapped (the machine's cores available to the process).
int bench_max_threads();
// The 1-minute load average (-1 when unknown): other processes' load makes the all-thread
// oneDNN figures meaningless, see above.
double load_average_1min();

struct PeakResult {
  std::string isa;
  int threads = 0;
  double gops = 0;
};
// Instruction-throughput peaks (vpdpbusd; AMX when present) on 1 thread and on all threads.
std::vector<PeakResult> bench_peak(double min_seconds, std::vector<std::string>* notes);

}  // namespace qtune::bench
