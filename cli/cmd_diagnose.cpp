// `qtune diagnose CONFIG.yaml`: which ops lose most in int8. Calibrates as `qtune tune` would,
// quantizes all ops int8 (or a given tune_cfg) and compares every int8 op's output with fp32 on
// calibration samples (worker/op_diagnosis.h); prints the ranking, writes diagnose.json and
// diagnose.html.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "common/data_config.h"
#include "common/dataset.h"
#include "common/onnx_io.h"
#include "common/tune_config_yaml.h"
#include "common/tuning_config.h"
#include "coordinator/diagnose_report.h"
#include "coordinator/tuning_space.h"
#include "worker/op_diagnosis.h"
#include "worker/quantizer.h"

namespace qtune::cli {
namespace {

Status write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) return Status::InvalidInput(path.string() + ": cannot write");
  return Status::Ok();
}

Status run_diagnose(const Args& args) {
  if (args.positional.size() != 1) return usage_error("diagnose", "expects one CONFIG.yaml");
  size_t top = 0;
  if (args.has("--top")) {
    QT_ASSIGN_OR_RETURN(const int64_t n, positive_int("--top", args.get("--top", "")));
    top = static_cast<size_t>(n);
  }
  DiagnosisRank rank_by = DiagnosisRank::kIsolated;
  if (args.has("--rank-by")) {
    const std::string r = args.get("--rank-by", "");
    if (r == "accumulated") {
      rank_by = DiagnosisRank::kAccumulated;
    } else if (r != "isolated") {
      return Status::InvalidInput("--rank-by expects isolated or accumulated, got '" + r + "'");
    }
  }
  std::optional<int64_t> samples;
  if (args.has("--samples")) {
    QT_ASSIGN_OR_RETURN(samples, positive_int("--samples", args.get("--samples", "")));
  }
  QT_ASSIGN_OR_RETURN(TuningConfig cfg, load_tuning_config(args.positional[0]));
  std::optional<TuneConfig> given;
  if (args.has("--tune-cfg")) {
    QT_ASSIGN_OR_RETURN(given, load_tune_config(args.get("--tune-cfg", "")));
  }
  const std::filesystem::path out_dir =
      args.has("--out") ? args.get("--out", "") : (cfg.output.empty() ? "qtune-out" : cfg.output);

  // Errors name the place in the tuning YAML that led to the file at fault.
  Result<std::unique_ptr<Adaptor>> made = make_adaptor(cfg.adaptor);
  if (!made.ok()) return cfg.at("adaptor", made.status());
  std::shared_ptr<const Adaptor> adaptor = std::move(made).value();
  Result<Graph> graph = load_onnx_model(cfg.model);
  if (!graph.ok()) return cfg.at("model", graph.status());
  Result<DataConfig> data_cfg = load_data_config(cfg.calibration_data);
  if (!data_cfg.ok()) return cfg.at("data.calibration", data_cfg.status());
  Result<Dataset> calib = load_dataset(*data_cfg);
  if (!calib.ok()) return cfg.at("data.calibration", calib.status());
  const int64_t sampling = given ? given->calib_sampling_size : cfg.calibration_sampling_size;
  QT_ASSIGN_OR_RETURN(QuantizationSession session,
                      start_quantization_session(adaptor, std::make_shared<const Graph>(std::move(graph).value()),
                                                 *calib, sampling, data_cfg->batch_size));
  TuneConfig tune_cfg;
  if (given) {
    // A tune_cfg that does not fit the model is the --tune-cfg file's fault.
    Result<QuantizedModel> fits = session.quantize(*given);
    if (!fits.ok()) {
      return fits.status().code() == StatusCode::kInvalidInput
                 ? fits.status().Annotate(args.get("--tune-cfg", ""))
                 : fits.status();
    }
    tune_cfg = *given;
  } else {
    QT_ASSIGN_OR_RETURN(TuningSpace space, build_tuning_space(session.capability, *session.prepared, cfg));
    tune_cfg = space.default_config(sampling);
  }
  bool any_int8 = false;
  for (const auto& [name, op] : tune_cfg.ops) any_int8 = any_int8 || op.precision == OpPrecision::kInt8;
  if (!any_int8) {
    return Status::InvalidInput((given ? args.get("--tune-cfg", "") : cfg.model) +
                                ": no op is int8, so there is nothing to compare (adaptor " + cfg.adaptor + ")");
  }
  QT_ASSIGN_OR_RETURN(Diagnosis d, diagnose_ops(session, tune_cfg, *calib, samples.value_or(sampling),
                                                data_cfg->batch_size));
  const DiagnoseReport report{cfg.model, cfg.adaptor, cfg.source_path, d, rank_by, top};
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Status::InvalidInput(out_dir.string() + ": cannot create output directory: " + ec.message());
  const DiagnoseReport everything{cfg.model, cfg.adaptor, cfg.source_path, d, rank_by, 0};
  QT_RETURN_IF_ERROR(write_file(out_dir / "diagnose.json", diagnose_json(everything)));
  QT_RETURN_IF_ERROR(write_file(out_dir / "diagnose.html", diagnose_html(everything)));
  if (args.has("--json")) {
    std::cout << diagnose_json(report);
  } else {
    std::cout << diagnose_table(report) << "written: " << (out_dir / "diagnose.html").string() << ", "
              << (out_dir / "diagnose.json").string() << "\n";
  }
  return Status::Ok();
}

}  // namespace

int cmd_diagnose(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("diagnose"));
  Status s = args.ok() ? run_diagnose(args.value()) : args.status();
  if (!s.ok()) {
    std::cerr << "qtune diagnose: " << s.message() << "\n";
    if (!args.ok()) std::cerr << usage_of("diagnose") << "\n";
    return s.exit_code();
  }
  return 0;
}

}  // namespace qtune::cli
