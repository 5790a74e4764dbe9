#include "cli/model_runtime.h"

#include <algorithm>

#include "adaptors/executor_model.h"

namespace qtune::cli {

Result<std::unique_ptr<PreparedModel>> prepare_to_run(std::shared_ptr<const Graph> model,
                                                      const Args& args) {
  if (args.has("--reference")) {
    if (args.has("--adaptor")) {
      return Status::InvalidInput("--reference and --adaptor exclude each other");
    }
    return ExecutorModel::create(std::move(model), nullptr);
  }
  QT_ASSIGN_OR_RETURN(std::unique_ptr<Adaptor> adaptor,
                      make_adaptor(args.get("--adaptor", kDefaultRunAdaptor)));
  return adaptor->prepare(std::move(model), {});
}

std::string runtime_name(const Args& args) {
  return args.has("--reference") ? "reference" : args.get("--adaptor", kDefaultRunAdaptor);
}

bool enable_profiling(PreparedModel& model) {
  auto* m = dynamic_cast<ExecutorModel*>(&model);
  if (!m) return false;
  m->executor().enable_profiling();
  return true;
}

void print_profile(PreparedModel& model, bool by_node, int64_t runs, std::FILE* to) {
  auto* m = dynamic_cast<ExecutorModel*>(&model);
  if (!m) return;
  std::vector<OpTypeTime> rows = m->executor().profile(by_node);
  std::stable_sort(rows.begin(), rows.end(),
                   [](const OpTypeTime& a, const OpTypeTime& b) { return a.cpu_ms > b.cpu_ms; });
  const double per = runs > 0 ? 1.0 / static_cast<double>(runs) : 1.0;
  double wall = 0.0, cpu = 0.0;
  for (const auto& r : rows) {
    wall += r.ms;
    cpu += r.cpu_ms;
  }
  const char* unit = runs > 0 ? "per run" : "total";
  std::fprintf(to, "%-40s %10s %10s %7s %9s   (ms %s)\n", by_node ? "node (op type)" : "op type",
               "wall ms", "CPU ms", "CPU %", "calls", unit);
  for (const auto& r : rows) {
    std::fprintf(to, "%-40s %10.3f %10.3f %6.1f%% %9lld\n", r.op_type.c_str(), r.ms * per,
                 r.cpu_ms * per, cpu > 0 ? 100.0 * r.cpu_ms / cpu : 0.0,
                 static_cast<long long>(r.calls));
  }
  std::fprintf(to, "%-40s %10.3f %10.3f\n", "total", wall * per, cpu * per);
}

}  // namespace qtune::cli
