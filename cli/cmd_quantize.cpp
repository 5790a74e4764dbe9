#include <tbb/global_control.h>

#include <iostream>
#include <memory>
#include <optional>

#include "adaptors/adaptor.h"
#include "adaptors/capability.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/help.h"
#include "common/data_config.h"
#include "common/dataset.h"
#include "common/onnx_io.h"
#include "common/tune_config_yaml.h"
#include "worker/quantizer.h"

namespace qtune::cli {
namespace {

Status run_quantize(const Args& args) {
  if (args.positional.size() != 1) return usage_error("quantize", "expects one MODEL.onnx");
  if (!args.has("--data") || !args.has("--out")) {
    return usage_error("quantize", "needs --data CALIB.yaml and --out OUT.onnx");
  }
  std::optional<tbb::global_control> threads;
  if (args.has("--threads")) {
    QT_ASSIGN_OR_RETURN(int64_t n, positive_int("--threads", args.get("--threads", "")));
    threads.emplace(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(n));
  }
  const std::string model_path = args.positional[0];
  QT_ASSIGN_OR_RETURN(DataConfig data_cfg, load_data_config(args.get("--data", "")));
  QT_ASSIGN_OR_RETURN(Graph graph, load_onnx_model(model_path));
  QT_ASSIGN_OR_RETURN(std::unique_ptr<Adaptor> made, make_adaptor(args.get("--adaptor", "native")));
  std::shared_ptr<const Adaptor> adaptor = std::move(made);
  QT_ASSIGN_OR_RETURN(Dataset calib, load_dataset(data_cfg));

  std::optional<TuneConfig> cfg;
  if (args.has("--tune-cfg")) {
    QT_ASSIGN_OR_RETURN(cfg, load_tune_config(args.get("--tune-cfg", "")));
  }
  const int64_t sampling = cfg ? cfg->calib_sampling_size : calib.size();
  // Calibration longer than a second shows its progress on stderr.
  Progress::Options progress_options;
  progress_options.terminal = stderr_is_terminal();
  Progress progress(progress_options, std::cerr, std::cerr);
  QT_ASSIGN_OR_RETURN(
      QuantizationSession session,
      start_quantization_session(adaptor, std::make_shared<const Graph>(std::move(graph)), calib,
                                 sampling, data_cfg.batch_size, progress.pass_fn()));
  progress.finish();
  if (!cfg) {
    QT_ASSIGN_OR_RETURN(cfg, default_int8_config(session.capability));
    cfg->calib_sampling_size = sampling;
  }
  Result<QuantizedModel> quantized = session.quantize(*cfg);
  // A tune_cfg that does not fit the model is the --tune-cfg file's fault.
  if (!quantized.ok() && args.has("--tune-cfg") && quantized.status().code() == StatusCode::kInvalidInput) {
    return quantized.status().Annotate(args.get("--tune-cfg", ""));
  }
  QT_ASSIGN_OR_RETURN(QuantizedModel q, std::move(quantized));
  const std::string out = args.get("--out", "");
  QT_RETURN_IF_ERROR(save_onnx_model(*q.graph, out));

  int int8 = 0, bf16 = 0;
  for (const auto& [name, c] : cfg->ops) {
    int8 += c.precision == OpPrecision::kInt8;
    bf16 += c.precision == OpPrecision::kBf16;
  }
  std::cout << "wrote " << out << " (QDQ, opset " << q.graph->opset << "): " << int8
            << " int8 ops, " << bf16 << " bf16 ops (run as fp32 in the exported file), "
            << session.capability.opwise.size() - static_cast<size_t>(int8 + bf16)
            << " quantizable ops left fp32; adaptor " << adaptor->name() << "; calibrated on "
            << session.stats.samples << " samples; tune_cfg " << cfg->hash() << "\n";
  for (const auto& n : q.notes) std::cout << "note: " << n << "\n";
  return Status::Ok();
}

}  // namespace

int cmd_quantize(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("quantize"));
  Status s = args.ok() ? run_quantize(args.value()) : args.status();
  if (!s.ok()) {
    std::cerr << "qtune quantize: " << s.message() << "\n";
    if (!args.ok()) std::cerr << usage_of("quantize") << "\n";
    return s.exit_code();
  }
  return 0;
}

}  // namespace qtune::cli
