#include <tbb/global_control.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "adaptors/adaptor.h"
#include "adaptors/executor_model.h"
#include "runtime/executor.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/model_runtime.h"
#include "cli/progress.h"
#include "cli/help.h"
#include "common/data_config.h"
#include "common/dataset.h"
#include "common/onnx_io.h"
#include "worker/evaluator.h"

namespace qtune::cli {

namespace {


Status run_eval(const Args& args, std::ostream& out) {
  if (args.positional.size() != 1) return usage_error("eval", "expects one MODEL.onnx");
  if (!args.has("--data")) return usage_error("eval", "needs --data DATA.yaml");
  const std::string model_path = args.positional[0];
  const std::string data_path = args.get("--data", "");

  std::optional<tbb::global_control> threads;
  if (args.has("--threads")) {
    QT_ASSIGN_OR_RETURN(int64_t n, positive_int("--threads", args.get("--threads", "")));
    threads.emplace(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(n));
  }
  DataConfig cfg;
  QT_ASSIGN_OR_RETURN(cfg, load_data_config(data_path));
  if (args.has("--limit")) {
    QT_ASSIGN_OR_RETURN(cfg.dataset.limit, positive_int("--limit", args.get("--limit", "")));
  }

  QT_ASSIGN_OR_RETURN(Graph graph, load_onnx_model(model_path));
  auto shared = std::make_shared<const Graph>(std::move(graph));
  QT_ASSIGN_OR_RETURN(Dataset data, load_dataset(cfg));
  // A pass longer than a second shows its progress on stderr (stdout stays the result).
  Progress::Options progress_options;
  progress_options.terminal = stderr_is_terminal();
  Progress progress(progress_options, std::cerr, std::cerr);
  QT_ASSIGN_OR_RETURN(std::unique_ptr<PreparedModel> prepared, prepare_to_run(shared, args));
  // Per-op-type time of the whole evaluation, on stderr (stdout stays parseable).
  const bool profile = args.has("--profile") && enable_profiling(*prepared);
  // The graph as loaded names the inputs; the lowered one runs.
  Result<EvalResult> res = evaluate_top1([&](const std::vector<Tensor>& x) { return prepared->run(x); },
                                         *shared, data, cfg.batch_size, progress.pass_fn());
  progress.finish();
  if (profile) print_profile(*prepared, false, 0, stderr);
  if (!res.ok()) return res.status().Annotate(model_path);
  const EvalResult& r = res.value();

  if (args.has("--json")) {
    out << "{\"model\": " << json_string(model_path) << ", \"data\": " << json_string(data_path)
        << ", \"samples\": " << r.samples << ", \"correct\": " << r.correct
        << ", \"top1\": " << fixed(r.top1, 4) << ", \"images_per_second\": "
        << fixed(r.images_per_second, 1) << ", \"seconds\": " << fixed(r.seconds, 6) << "}\n";
  } else {
    out << "top-1 " << fixed(r.top1, 2) << "% (" << r.correct << "/" << r.samples << ") \u00b7 "
        << fixed(r.images_per_second, 0) << " images/s \u00b7 model " << model_path
        << " \u00b7 data " << data_path << "\n";
  }
  return Status::Ok();
}

}  // namespace

int cmd_eval(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("eval"));
  Status s = args.ok() ? run_eval(args.value(), std::cout) : args.status();
  if (!s.ok()) {
    std::cerr << "qtune eval: " << s.message() << "\n";
    if (!args.ok()) std::cerr << usage_of("eval") << "\n";
    return s.exit_code();
  }
  return 0;
}

}  // namespace qtune::cli
