// `qtune tune CONFIG.yaml`: accuracy-aware tuning in this process; writes model.int8.onnx,
// best_tune_cfg.yaml and report.json to the output directory and prints a summary.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/onnx_io.h"
#include "common/tune_config_yaml.h"
#include "common/tuning_config.h"
#include "coordinator/report.h"
#include "coordinator/tuner.h"
#include "worker/trial_runner.h"

namespace qtune::cli {
namespace {

constexpr const char* kTuneUsage =
    "usage: qtune tune CONFIG.yaml [--out DIR] [--workers 0] [--json]";

// Samples the mse and bisect strategies rank ops on: enough for stable errors, one quick pass.
constexpr int64_t kSensitivitySamples = 500;

Status write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  f.close();
  if (!f) return Status::InvalidInput(path.string() + ": cannot write");
  return Status::Ok();
}

Result<int> run_tune(const Args& args) {
  if (args.positional.size() != 1) return Status::InvalidInput(kTuneUsage);
  if (args.has("--workers") && args.get("--workers", "") != "0") {
    return Status::InvalidInput("--workers: only 0 (tuning inside this process) is available");
  }
  const auto wall0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  };
  QT_ASSIGN_OR_RETURN(TuningConfig cfg, load_tuning_config(args.positional[0]));
  const std::filesystem::path out_dir =
      args.has("--out") ? args.get("--out", "") : (cfg.output.empty() ? "qtune-out" : cfg.output);
  const bool json = args.has("--json");
  std::ostream& log = json ? std::cerr : std::cout;

  QT_ASSIGN_OR_RETURN(std::unique_ptr<TrialRunner> runner, TrialRunner::create(cfg));
  const QuantizationSession& session = runner->session();
  log << "calibrated " << cfg.model << " on " << session.stats.samples << " samples in "
      << fixed(runner->calibration_seconds(), 2) << " s (adaptor " << cfg.adaptor << ")\n";
  QT_ASSIGN_OR_RETURN(TuningSpace space,
                      build_tuning_space(session.capability, *session.prepared, cfg));
  if (space.ops.empty()) {
    return Status::InvalidInput(cfg.model + ": no op of the model is quantizable by adaptor " +
                                cfg.adaptor);
  }
  QT_ASSIGN_OR_RETURN(TrialMetrics base, runner->baseline());
  TuningHistory history;
  history.baseline_metric = base.metric;
  history.baseline_latency_ms = base.latency_ms;
  history.baseline_model_bytes = base.model_bytes;
  log << "fp32 baseline: " << cfg.metric.name << " " << fixed(base.metric, 4) << ", "
      << fixed(base.latency_ms, 3) << " ms per batch; " << space.ops.size()
      << " tunable ops; strategy " << cfg.strategy << "\n";
  if (cfg.strategy == "mse" || cfg.strategy == "bisect") {
    QT_ASSIGN_OR_RETURN(space.sensitivity,
                        runner->sensitivity(space.default_config(cfg.calibration_sampling_size),
                                            kSensitivitySamples));
  }

  QT_ASSIGN_OR_RETURN(std::unique_ptr<Strategy> strategy, make_strategy(cfg.strategy));
  TuneRunOptions opts;
  opts.criterion = cfg.criterion;
  opts.exit_policy = cfg.exit_policy;
  opts.objective = cfg.objective;
  opts.calib_sampling_size = cfg.calibration_sampling_size;
  opts.seed = cfg.seed;
  opts.on_trial = [&](const TrialRecord& t) {
    log << "trial " << t.index << " (" << t.stage << "): "
        << (t.ok ? cfg.metric.name + " " + fixed(t.metric, 4) + ", " + fixed(t.latency_ms, 3) +
                       " ms, " + fixed(t.seconds, 2) + " s"
                 : "failed: " + t.error)
        << "\n";
  };
  const TuneOutcome outcome = run_tuning(space, *strategy, opts, std::move(history),
                                         [&](const TuneConfig& c) { return runner->evaluate(c); });

  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return Status::InvalidInput(out_dir.string() + ": cannot create output directory: " + ec.message());
  const std::string model_out = (out_dir / "model.int8.onnx").string();
  if (outcome.chosen) {
    const TuneConfig& best = outcome.history.trials[*outcome.chosen].cfg;
    QT_ASSIGN_OR_RETURN(QuantizedModel q, runner->quantize(best));
    QT_RETURN_IF_ERROR(save_onnx_model(*q.graph, model_out));
    QT_RETURN_IF_ERROR(write_file(out_dir / "best_tune_cfg.yaml", tune_config_to_yaml(best)));
  }
  const ReportContext report{cfg, space, outcome, runner->calibration_seconds(), elapsed(),
                             outcome.chosen ? model_out : ""};
  const std::string report_text = report_json(report);
  QT_RETURN_IF_ERROR(write_file(out_dir / "report.json", report_text));
  if (json) {
    std::cout << report_text;
  } else {
    std::cout << report_summary(report) << "report: " << (out_dir / "report.json").string() << "\n";
  }
  if (!outcome.goal_met) {
    std::cerr << "qtune tune: no config met the goal (target " << fixed(outcome.target, 4)
              << (cfg.objective == "performance" ? ", faster than fp32" : "") << "); "
              << (outcome.chosen ? "the best effort was written" : "nothing was written") << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int cmd_tune(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--out", "--workers"}, {"--json"});
  Result<int> rc = args.ok() ? run_tune(args.value()) : Result<int>(args.status());
  if (!rc.ok()) {
    std::cerr << "qtune tune: " << rc.status().message() << "\n";
    if (!args.ok()) std::cerr << kTuneUsage << "\n";
    return rc.status().exit_code();
  }
  return rc.value();
}

}  // namespace qtune::cli
