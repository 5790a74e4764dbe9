#include "bench/kernel_bench.h"

#include <dnnl.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <thread>
#include <unordered_map>

#include <dlfcn.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <tbb/parallel_for.h>

#include <cstdio>

#include "adaptors/quantize/graph_passes.h"
#include "runtime/executor.h"
#include "common/onnx_io.h"
#include "kernels/conv2d_f32.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm_f32.h"
#include "kernels/qconv.h"
#include "kernels/qconv_nhwc.h"
#include "kernels/qgemm.h"

namespace qtune::bench {

int64_t vpdpbusd_loop__avx512vnni(int64_t iterations);
int vpdpbusd_loop_chains__avx512vnni();

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kMinBatchSeconds = 2e-3;  // one timed batch of calls; hides timer resolution
// Longer than libgomp's default spin before its threads sleep (~300k polls) and TBB's.
constexpr double kSettleSeconds = 0.02;
// Alternating measurements of qtune's and oneDNN's kernel per shape (int8, then fp32).
constexpr int kInt8Rounds = 3;

void settle() { std::this_thread::sleep_for(std::chrono::duration<double>(kSettleSeconds)); }

// oneDNN's OpenMP thread count. libgomp is loaded with libdnnl; looked up at run time so qtune
// itself needs no OpenMP. Without it (another oneDNN runtime) the cap is not applied.
void set_onednn_threads(int n) {
  using SetFn = void (*)(int);
  static const auto fn = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
  if (fn) fn(n);
}

// Best per-call time over batches of calls filling `min_seconds`.
template <typename F>
double best_seconds_per_call(F&& f, double min_seconds) {
  f();  // warm caches, page in buffers, let lazy initialisation happen
  int64_t reps = 1;
  for (;;) {
    auto t0 = Clock::now();
    for (int64_t i = 0; i < reps; ++i) f();
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    if (dt >= kMinBatchSeconds || reps > (1 << 24)) break;
    reps *= 2;
  }
  double best = 1e30, total = 0;
  int batches = 0;
  while (total < min_seconds || batches < 3) {
    auto t0 = Clock::now();
    for (int64_t i = 0; i < reps; ++i) f();
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    best = std::min(best, dt / static_cast<double>(reps));
    total += dt;
    ++batches;
  }
  return best;
}

template <typename T>
std::vector<T> random_vec(size_t n, std::mt19937& rng, int lo, int hi) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

std::vector<float> random_f32(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

struct OneDnnEnv {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
};

OneDnnEnv& onednn() {
  static OneDnnEnv env;
  return env;
}

// A oneDNN primitive ready to run on its own buffers (weights already in its layout).
struct OneDnnRun {
  std::function<void()> run;
  std::string impl;
};

// oneDNN matmul with weights reordered once into its preferred layout, like qtune's packing.
OneDnnRun make_onednn_matmul(const GemmShape& s, bool int8) {
  auto& env = onednn();
  const dnnl::memory::dims a_dims = {s.m, s.k}, b_dims = {s.k, s.n}, c_dims = {s.m, s.n};
  dnnl::memory::desc a_md(a_dims, int8 ? dt::u8 : dt::f32, tag::ab);
  dnnl::memory::desc b_any(b_dims, int8 ? dt::s8 : dt::f32, tag::any);
  dnnl::memory::desc b_plain(b_dims, int8 ? dt::s8 : dt::f32, tag::ab);
  dnnl::memory::desc c_md(c_dims, dt::f32, tag::ab);
  dnnl::primitive_attr attr;
  if (int8) attr.set_output_scales(1 << 1, std::vector<float>(static_cast<size_t>(s.n), 0.01f));
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, b_any, c_md), attr, env.eng);
  dnnl::memory a(a_md, env.eng), b_src(b_plain, env.eng), b(pd.weights_desc(), env.eng),
      c(c_md, env.eng);
  std::memset(a.get_data_handle(), 1, a_md.get_size());
  std::memset(b_src.get_data_handle(), 1, b_plain.get_size());
  dnnl::reorder(b_src, b).execute(env.strm, b_src, b);
  dnnl::matmul prim(pd);
  return {[&env, prim, a, b, c] {
            prim.execute(env.strm, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
            env.strm.wait();
          },
          pd.impl_info_str()};
}

double onednn_matmul(const GemmShape& s, bool int8, double min_seconds, std::string* impl) {
  const OneDnnRun r = make_onednn_matmul(s, int8);
  *impl = r.impl;
  return 2.0 * s.m * s.n * s.k / best_seconds_per_call(r.run, min_seconds) * 1e-9;
}

// oneDNN convolution in its preferred layouts (chosen by `any`), reorders outside the timing;
// int8 with u8 output, requantized by per-channel scales.
OneDnnRun make_onednn_conv(const GemmShape& s, bool int8) {
  auto& env = onednn();
  const int64_t oh = (s.in_h + 2 * s.pad - s.kernel_h) / s.stride + 1;
  const int64_t ow = (s.in_w + 2 * s.pad - s.kernel_w) / s.stride + 1;
  const dnnl::memory::dims src = {s.batch, s.in_c, s.in_h, s.in_w};
  const dnnl::memory::dims dst = {s.batch, s.out_c, oh, ow};
  const dnnl::memory::dims wei =
      s.group == 1 ? dnnl::memory::dims{s.out_c, s.in_c, s.kernel_h, s.kernel_w}
                   : dnnl::memory::dims{s.group, s.out_c / s.group, s.in_c / s.group, s.kernel_h,
                                        s.kernel_w};
  dnnl::memory::desc src_md(src, int8 ? dt::u8 : dt::f32, tag::any);
  dnnl::memory::desc wei_md(wei, int8 ? dt::s8 : dt::f32, tag::any);
  dnnl::memory::desc dst_md(dst, int8 ? dt::u8 : dt::f32, tag::any);
  dnnl::primitive_attr attr;
  if (int8) {
    attr.set_output_scales(1 << 1, std::vector<float>(static_cast<size_t>(s.out_c), 0.01f));
  }
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_inference,
                                    dnnl::algorithm::convolution_direct, src_md, wei_md, dst_md,
                                    {s.stride, s.stride}, {s.pad, s.pad}, {s.pad, s.pad});
  dnnl::convolution_forward::primitive_desc pd(d, attr, env.eng);
  dnnl::memory x(pd.src_desc(), env.eng), w(pd.weights_desc(), env.eng), y(pd.dst_desc(), env.eng);
  std::memset(x.get_data_handle(), 1, pd.src_desc().get_size());
  std::memset(w.get_data_handle(), 1, pd.weights_desc().get_size());
  dnnl::convolution_forward prim(pd);
  return {[&env, prim, x, w, y] {
            prim.execute(env.strm, {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, y}});
            env.strm.wait();
          },
          pd.impl_info_str()};
}

GemmShape conv_shape(std::string label, int64_t batch, int64_t c, int64_t h, int64_t w,
                     int64_t oc, int64_t k, int64_t stride, int64_t pad, int64_t group);

QConvShape to_qconv(const GemmShape& s) {
  QConvShape q;
  q.batch = s.batch;
  q.in_channels = s.in_c;
  q.in_h = s.in_h;
  q.in_w = s.in_w;
  q.out_channels = s.out_c;
  q.kernel_h = s.kernel_h;
  q.kernel_w = s.kernel_w;
  q.stride_h = q.stride_w = s.stride;
  q.pad_top = q.pad_left = q.pad_bottom = q.pad_right = s.pad;
  q.group = s.group;
  return q;
}

GemmShape conv_shape(std::string label, int64_t batch, int64_t c, int64_t h, int64_t w,
                     int64_t oc, int64_t k, int64_t stride, int64_t pad, int64_t group) {
  GemmShape s;
  s.label = std::move(label);
  s.is_conv = true;
  s.batch = batch;
  s.in_c = c;
  s.in_h = h;
  s.in_w = w;
  s.out_c = oc;
  s.kernel_h = s.kernel_w = k;
  s.stride = stride;
  s.pad = pad;
  s.group = group;
  const QConvShape q = to_qconv(s);
  s.m = batch * q.out_h() * q.out_w();
  s.n = oc;
  s.k = q.k_per_group();
  return s;
}

}  // namespace

std::vector<GemmShape> zoo_conv_shapes(int64_t batch) {
  struct Z {
    const char* name;
    int64_t c, hw, oc, k, stride, pad, group;
  };
  // The convolutions of the zoo's resnet18 and mobilenet_v2 (tools/zoo/export_torchvision.py)
  // at 224x224: every distinct kind, each once.
  static const Z kZoo[] = {
      {"resnet18 stem7x7s2 224x224x3->64", 3, 224, 64, 7, 2, 3, 1},
      {"resnet18 3x3 56x56x64", 64, 56, 64, 3, 1, 1, 1},
      {"resnet18 3x3s2 56x56x64->128", 64, 56, 128, 3, 2, 1, 1},
      {"resnet18 1x1s2 56x56x64->128", 64, 56, 128, 1, 2, 0, 1},
      {"resnet18 3x3 28x28x128", 128, 28, 128, 3, 1, 1, 1},
      {"resnet18 3x3 14x14x256", 256, 14, 256, 3, 1, 1, 1},
      {"resnet18 3x3 7x7x512", 512, 7, 512, 3, 1, 1, 1},
      {"mobilenet_v2 stem3x3s2 224x224x3->32", 3, 224, 32, 3, 2, 1, 1},
      {"mobilenet_v2 dw3x3 112x112x32", 32, 112, 32, 3, 1, 1, 32},
      {"mobilenet_v2 1x1 112x112x32->16", 32, 112, 16, 1, 1, 0, 1},
      {"mobilenet_v2 dw3x3s2 112x112x96", 96, 112, 96, 3, 2, 1, 96},
      {"mobilenet_v2 1x1 56x56x24->144", 24, 56, 144, 1, 1, 0, 1},
      {"mobilenet_v2 dw3x3 56x56x144", 144, 56, 144, 3, 1, 1, 144},
      {"mobilenet_v2 1x1 56x56x144->24", 144, 56, 24, 1, 1, 0, 1},
      {"mobilenet_v2 dw3x3 14x14x384", 384, 14, 384, 3, 1, 1, 384},
      {"mobilenet_v2 1x1 14x14x64->384", 64, 14, 384, 1, 1, 0, 1},
      {"mobilenet_v2 dw3x3 7x7x960", 960, 7, 960, 3, 1, 1, 960},
      {"mobilenet_v2 1x1 7x7x320->1280", 320, 7, 1280, 1, 1, 0, 1},
  };
  std::vector<GemmShape> out;
  for (const Z& z : kZoo) {
    out.push_back(conv_shape(std::string("zoo:") + z.name + " b" + std::to_string(batch), batch,
                             z.c, z.hw, z.hw, z.oc, z.k, z.stride, z.pad, z.group));
  }
  return out;
}

std::vector<GemmShape> model_layer_shapes(const std::string& model_path, const std::string& tag_name,
                                          int64_t batch, std::string* error) {
  auto g = load_onnx_model(model_path);
  if (!g.ok()) {
    *error = g.status().message();
    return {};
  }
  // The quantizer's view: Transposes of initializers folded, so Linear MatMuls read constants.
  auto prepared = prepare_fp32_for_quantization(*g);
  if (!prepared.ok()) {
    *error = prepared.status().message();
    return {};
  }
  auto graph = std::make_shared<const Graph>(std::move(prepared).value());
  auto exec = Executor::create(graph);
  if (!exec.ok()) {
    *error = exec.status().message();
    return {};
  }
  std::vector<Tensor> inputs;
  for (const auto& in : graph->inputs) {
    Shape s = in.shape.value_or(Shape{});
    for (auto& d : s) if (d < 0) d = batch;
    inputs.emplace_back(in.dtype, s);
  }
  std::unordered_map<std::string, Shape> shapes;
  for (const auto& in : graph->inputs) shapes[in.name] = inputs[&in - graph->inputs.data()].shape();
  for (const auto& [name, t] : graph->initializers) shapes[name] = t.shape();
  auto run = exec->run(inputs, [&](const std::string& n, const Tensor& t) { shapes[n] = t.shape(); });
  if (!run.ok()) {
    *error = run.status().message();
    return {};
  }
  std::vector<GemmShape> out;
  const std::string suffix = " b" + std::to_string(batch);
  for (const auto& n : graph->nodes) {
    if (n.op_type == "Conv") {
      const Shape& x = shapes[n.inputs[0]];
      const Shape& w = shapes[n.inputs[1]];
      if (x.size() != 4) continue;
      if (w[2] != w[3]) continue;  // the benchmark's shapes are square
      out.push_back(conv_shape(tag_name + ":" + n.name + suffix, x[0], x[1], x[2], x[3], w[0],
                               w[2], n.attr_ints("strides", {1, 1})[0],
                               n.attr_ints("pads", {0, 0, 0, 0})[0], n.attr_int("group", 1)));
    } else if ((n.op_type == "Gemm" || n.op_type == "MatMul") && graph->initializer(n.inputs[1])) {
      const Shape& a = shapes[n.inputs[0]];
      const Shape& b = shapes[n.inputs[1]];
      if (b.size() != 2 || a.empty()) continue;
      GemmShape s;
      s.label = tag_name + ":" + n.name + suffix;
      const bool tb = n.op_type == "Gemm" && n.attr_int("transB", 0);
      s.k = a.back();
      s.m = shape_numel(a) / s.k;
      s.n = tb ? b[0] : b[1];
      out.push_back(s);
    }
  }
  return out;
}

KernelBenchRow bench_shape(const GemmShape& s, int threads, double min_seconds) {
  KernelBenchRow row;
  row.shape = s;
  row.threads = threads;
  std::mt19937 rng(1);
  const double ops = 2.0 * s.m * s.n * s.k;
  set_onednn_threads(threads);
  // int8: qtune's kernel and oneDNN's in alternating rounds, the best time of each kept. The
  // other processes' load changes within seconds; measured once each, the two could see a quiet
  // and a busy moment.
  std::function<void()> qtune_int8;
  std::vector<uint8_t> a8, out8;
  std::vector<int8_t> w8;
  std::vector<float> scale, c32;
  PackedConvNhwcS8 conv_packed;
  PackedWeightsS8 gemm_packed;
  QGemmParams p;
  p.a_zero_point = 128;
  p.per_channel_scale = true;
  if (s.is_conv) {
    const QConvShape q = to_qconv(s);
    // NHWC u8 in and out, as QConv runs between int8 ops in a lowered graph.
    a8 = random_vec<uint8_t>(static_cast<size_t>(s.batch * s.in_c * s.in_h * s.in_w), rng, 0, 255);
    w8 = random_vec<int8_t>(static_cast<size_t>(s.out_c * q.k_per_group()), rng, -127, 127);
    conv_packed = pack_conv_nhwc_s8(w8.data(), q);
    scale.assign(static_cast<size_t>(s.out_c), 0.01f);
    out8.resize(static_cast<size_t>(s.batch * s.out_c * q.out_h() * q.out_w()));
    p.output = QGemmOutput::kU8;
    p.scale = scale.data();
    p.out_scale = 0.5f;
    p.out_zero_point = 128;
    row.qtune_int8_path = qconv_nhwc_path_name(conv_packed, q);
    qtune_int8 = [&, q] { qconv2d_nhwc(q, p, nullptr, a8.data(), conv_packed, out8.data()); };
  } else {
    a8 = random_vec<uint8_t>(static_cast<size_t>(s.m * s.k), rng, 0, 255);
    w8 = random_vec<int8_t>(static_cast<size_t>(s.k * s.n), rng, -127, 127);
    gemm_packed = pack_weights_s8(w8.data(), s.k, s.n, s.n, 1);
    scale.assign(static_cast<size_t>(s.n), 0.01f);
    c32.resize(static_cast<size_t>(s.m * s.n));
    p.M = s.m;
    p.output = QGemmOutput::kF32;
    p.scale = scale.data();
    row.qtune_int8_path = qgemm_kernel().name;
    qtune_int8 = [&] { qgemm(p, a8.data(), s.k, gemm_packed, c32.data(), s.n); };
  }
  const OneDnnRun onednn_int8 = s.is_conv ? make_onednn_conv(s, true) : make_onednn_matmul(s, true);
  row.onednn_int8_impl = onednn_int8.impl;
  double q_best = 1e30, d_best = 1e30;
  for (int round = 0; round < kInt8Rounds; ++round) {
    {
      tbb::global_control cap(tbb::global_control::max_allowed_parallelism,
                              static_cast<size_t>(threads));
      q_best = std::min(q_best, best_seconds_per_call(qtune_int8, min_seconds / kInt8Rounds));
    }
    settle();  // TBB's workers go idle before OpenMP's start, and the other way round
    d_best = std::min(d_best, best_seconds_per_call(onednn_int8.run, min_seconds / kInt8Rounds));
    settle();
  }
  row.qtune_int8_gops = ops / q_best * 1e-9;
  row.onednn_int8_gops = ops / d_best * 1e-9;
  // fp32: what the runtime runs for the layer against oneDNN's fp32 primitive, weights prepared
  // outside the timing on both sides, in alternating rounds like int8: conv2d_f32 (NCHW in and
  // out) against oneDNN's convolution in its preferred layouts, or the packed GEMM against
  // oneDNN's matmul.
  std::function<void()> qtune_f32;
  std::vector<float> xf, wf, yf;
  PackedConvWeightsF32 conv_f32;
  PackedGemmBF32 gemm_f32_b;
  if (s.is_conv) {
    const QConvShape q = to_qconv(s);
    xf = random_f32(static_cast<size_t>(s.batch * s.in_c * s.in_h * s.in_w), rng);
    wf = random_f32(static_cast<size_t>(s.out_c * q.k_per_group()), rng);
    yf.resize(static_cast<size_t>(s.batch * s.out_c * q.out_h() * q.out_w()));
    conv_f32 = pack_conv_weights_f32(wf.data(), q);
    row.qtune_f32_path = conv2d_f32_kernel_name(q, conv_f32);
    qtune_f32 = [&, q] { conv2d_f32(q, xf.data(), conv_f32, ConvF32Epilogue{}, yf.data()); };
  } else {
    xf = random_f32(static_cast<size_t>(s.m * s.k), rng);
    wf = random_f32(static_cast<size_t>(s.k * s.n), rng);
    yf.resize(static_cast<size_t>(s.m * s.n));
    gemm_f32_b = pack_gemm_b_f32(false, s.k, s.n, wf.data(), s.n);
    row.qtune_f32_path = gemm_f32_packed_kernel_name();
    qtune_f32 = [&] {
      gemm_f32_packed(s.m, xf.data(), s.k, gemm_f32_b, GemmF32Epilogue{}, yf.data(), s.n);
    };
  }
  const OneDnnRun onednn_f32 = s.is_conv ? make_onednn_conv(s, false) : make_onednn_matmul(s, false);
  row.onednn_f32_impl = onednn_f32.impl;
  q_best = d_best = 1e30;
  for (int round = 0; round < kInt8Rounds; ++round) {
    {
      tbb::global_control cap(tbb::global_control::max_allowed_parallelism,
                              static_cast<size_t>(threads));
      q_best = std::min(q_best, best_seconds_per_call(qtune_f32, min_seconds / kInt8Rounds));
    }
    settle();
    d_best = std::min(d_best, best_seconds_per_call(onednn_f32.run, min_seconds / kInt8Rounds));
    settle();
  }
  row.qtune_f32_gops = ops / q_best * 1e-9;
  row.onednn_f32_gops = ops / d_best * 1e-9;
  return row;
}

int bench_max_threads() {
  return std::max(1, tbb::info::default_concurrency());
}

double load_average_1min() {
  double l[1];
  return getloadavg(l, 1) == 1 ? l[0] : -1.0;
}

std::vector<PeakResult> bench_peak(double min_seconds, std::vector<std::string>* notes) {
  std::vector<PeakResult> out;
  const CpuFeatures& f = cpu_features_detected();
  if (f.avx512vnni) {
    constexpr int64_t kIters = 1 << 20;
    // chains x vpdpbusd of 16 lanes x 4 multiply-adds
    const double kOpsPerIter = vpdpbusd_loop_chains__avx512vnni() * 16.0 * 4 * 2;
    const int hw = bench_max_threads();
    for (int threads : {1, hw}) {
      std::atomic<int64_t> sink{0};
      const double t = best_seconds_per_call(
          [&] {
            tbb::parallel_for(0, threads, [&](int) { sink += vpdpbusd_loop__avx512vnni(kIters); });
          },
          min_seconds);
      out.push_back({"avx512vnni vpdpbusd", threads, kOpsPerIter * kIters * threads / t * 1e-9});
      if (hw == 1) break;
    }
  } else {
    notes->push_back("AVX-512 VNNI: not available on this CPU");
  }
  // qtune has no AMX tile kernel yet: nothing would use a measured AMX peak.
  notes->push_back(f.amx_int8 ? "AMX: available, but qtune has no AMX tile kernel; its peak is not "
                                "measured and the VNNI kernels run"
                              : "AMX: not available on this CPU (no amx-int8 in CPUID or no "
                                "XTILEDATA permission from arch_prctl); qtune has no AMX kernel");
  return out;
}

}  // namespace qtune::bench
