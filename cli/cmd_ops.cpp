// `qtune ops`: every operator the runtime runs (domain, opset ranges, element types) and which
// adaptors can quantize it; `qtune check MODEL.onnx`: every op of a model qtune cannot run, all
// at once, before any calibration or evaluation.
#include <cstdio>
#include <iostream>
#include <map>
#include <set>
#include <string>

#include "adaptors/capability.h"
#include "adaptors/adaptor.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "common/onnx_io.h"
#include "runtime/executor.h"
#include "runtime/kernel_registry.h"
#include "runtime/onnx_inference.h"

namespace qtune::cli {
namespace {

std::string types_str(const std::vector<DType>& types) {
  if (types.empty()) return "any";
  std::string s;
  for (DType t : types) s += (s.empty() ? "" : ",") + std::string(dtype_name(t));
  return s;
}

std::string range_str(const KernelDef& d) {
  return std::to_string(d.since) + "-" + std::to_string(d.until);
}

// For each adaptor, the op types its capability YAML quantizes to int8 or bf16.
std::map<std::string, std::set<std::string>> quantizable_by_adaptor() {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& name : adaptor_names()) {
    auto spec = load_adaptor_capability_spec(name);
    if (!spec.ok()) continue;
    auto& ops = out[name];
    for (const auto& [type, cap] : spec->int8) ops.insert(type);
    for (const auto& type : spec->bf16) ops.insert(type);
  }
  return out;
}

}  // namespace

int cmd_ops(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("ops"));
  if (!args.ok() || !args->positional.empty()) {
    std::cerr << "qtune ops: " << (args.ok() ? "takes no operand" : args.status().message()) << "\n"
              << usage_of("ops") << "\n";
    return 2;
  }
  const auto quantizable = quantizable_by_adaptor();
  // Kernels grouped by op: one row per (domain, op) with all its versioned registrations.
  std::map<std::string, std::vector<const Kernel*>> by_op;
  for (const Kernel* k : KernelRegistry::instance().kernels()) {
    by_op[KernelRegistry::key(k->def.domain, k->def.op_type)].push_back(k);
  }
  auto adaptors_for = [&](const std::string& op) {
    std::vector<std::string> out;
    for (const auto& [adaptor, ops] : quantizable) {
      if (ops.count(op)) out.push_back(adaptor);
    }
    return out;
  };
  if (args->has("--json")) {
    std::cout << "{\"op_types\": " << by_op.size() << ", \"ops\": [";
    bool first_op = true;
    for (const auto& [key, kernels] : by_op) {
      const KernelDef& d0 = kernels.front()->def;
      std::cout << (first_op ? "" : ", ") << "{\"domain\": "
                << json_string(d0.domain.empty() ? "ai.onnx" : d0.domain)
                << ", \"op_type\": " << json_string(d0.op_type) << ", \"kernels\": [";
      for (size_t i = 0; i < kernels.size(); ++i) {
        const KernelDef& d = kernels[i]->def;
        std::cout << (i ? ", " : "") << "{\"since\": " << d.since << ", \"until\": " << d.until
                  << ", \"types\": " << json_string(types_str(d.types)) << "}";
      }
      std::cout << "], \"quantizable_by\": [";
      const auto ads = adaptors_for(d0.op_type);
      for (size_t i = 0; i < ads.size(); ++i) std::cout << (i ? ", " : "") << json_string(ads[i]);
      std::cout << "]}";
      first_op = false;
    }
    std::cout << "]}\n";
    return 0;
  }
  std::printf("%-28s %-10s %-14s %s\n", "op", "domain", "opsets", "quantizable by");
  for (const auto& [key, kernels] : by_op) {
    const KernelDef& d0 = kernels.front()->def;
    std::string ranges;
    for (const Kernel* k : kernels) ranges += (ranges.empty() ? "" : ",") + range_str(k->def);
    std::string ads;
    for (const auto& a : adaptors_for(d0.op_type)) ads += (ads.empty() ? "" : ", ") + a;
    std::printf("%-28s %-10s %-14s %s\n", d0.op_type.c_str(),
                d0.domain.empty() ? "ai.onnx" : d0.domain.c_str(), ranges.c_str(),
                ads.empty() ? "-" : ads.c_str());
  }
  std::printf("%zu operator types\n", by_op.size());
  return 0;
}

int cmd_check(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("check"));
  if (!args.ok() || args->positional.size() != 1) {
    std::cerr << "qtune check: " << (args.ok() ? "expects one MODEL.onnx" : args.status().message())
              << "\n" << usage_of("check") << "\n";
    return 2;
  }
  const std::string path = args->positional[0];
  auto graph = load_onnx_model(path);
  if (!graph.ok()) {
    std::cerr << "qtune check: " << graph.status().message() << "\n";
    return graph.status().code() == StatusCode::kUnsupported ? 1 : 2;
  }
  const auto missing = unsupported_nodes(graph.value());
  const Status checked = check_model_file(path);
  const std::string checker = checked.ok() ? "ok" : checked.message();
  if (args->has("--json")) {
    std::cout << "{\"model\": " << json_string(path) << ", \"opset\": " << graph->opset
              << ", \"nodes\": " << graph->nodes.size() << ", \"checker\": " << json_string(checker)
              << ", \"unsupported\": [";
    for (size_t i = 0; i < missing.size(); ++i) {
      std::cout << (i ? ", " : "") << json_string(missing[i]);
    }
    std::cout << "]}\n";
    return missing.empty() ? 0 : 1;
  }
  std::cout << "onnx checker: " << checker << "\n";
  if (missing.empty()) {
    std::cout << path << ": all " << graph->nodes.size() << " nodes run (opset " << graph->opset
              << ")\n";
  } else {
    std::cout << path << ": " << missing.size() << " of " << graph->nodes.size()
              << " nodes cannot run (opset " << graph->opset << "):\n";
    for (const auto& m : missing) std::cout << "  " << m << "\n";
  }
  return missing.empty() ? 0 : 1;
}

}  // namespace qtune::cli
