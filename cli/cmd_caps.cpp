#include <cstdio>
#include <iostream>
#include <string>

#include "adaptors/capability.h"
#include "adaptors/quantize/graph_passes.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "common/onnx_io.h"

namespace qtune::cli {

namespace {

std::string json_configs(const std::vector<OpQuantConfig>& list) {
  std::string out = "[";
  for (size_t i = 0; i < list.size(); ++i) out += (i ? ", " : "") + json_string(describe(list[i]));
  return out + "]";
}

Status run_caps(const Args& args, std::ostream& out) {
  if (args.positional.size() != 1) return usage_error("caps", "expects one MODEL.onnx");
  const std::string model_path = args.positional[0];
  const std::string adaptor = args.get("--adaptor", "native");

  QT_ASSIGN_OR_RETURN(CapabilitySpec spec, load_adaptor_capability_spec(adaptor));
  QT_ASSIGN_OR_RETURN(Graph loaded, load_onnx_model(model_path));
  // The graph quantization works on (constant transposes and BN folded), as the tuner sees it.
  QT_ASSIGN_OR_RETURN(Graph graph, prepare_fp32_for_quantization(loaded));
  Result<Capability> cap_or = build_capability(spec, graph);
  if (!cap_or.ok()) return cap_or.status().Annotate(model_path);
  const Capability& cap = cap_or.value();

  // Graph order reads better than the map's name order; subgraphs follow the graph holding them.
  std::vector<std::pair<OpKey, const std::vector<OpQuantConfig>*>> ops;
  for (const ScopedGraph& sg : graph_tree(graph)) {
    for (const Node& n : sg.graph->nodes) {
      const auto it = cap.opwise.find(OpKey{n.name, n.op_type});
      if (it != cap.opwise.end()) ops.emplace_back(it->first, &it->second);
    }
  }

  if (args.has("--json")) {
    out << "{\"adaptor\": " << json_string(spec.adaptor) << ", \"model\": "
        << json_string(model_path) << ", \"opwise\": [";
    for (size_t i = 0; i < ops.size(); ++i) {
      out << (i ? ", " : "") << "{\"name\": " << json_string(ops[i].first.name)
          << ", \"op_type\": " << json_string(ops[i].first.op_type)
          << ", \"configs\": " << json_configs(*ops[i].second) << "}";
    }
    out << "], \"optypewise\": {";
    bool first = true;
    for (const auto& [type, list] : cap.optypewise) {
      out << (first ? "" : ", ") << json_string(type) << ": " << json_configs(list);
      first = false;
    }
    out << "}}\n";
    return Status::Ok();
  }

  out << "adaptor " << spec.adaptor << " (" << spec.source << ", version " << spec.version
      << ") \u00b7 model " << model_path << " \u00b7 " << ops.size() << " quantizable ops\n";
  out << "opwise:\n";
  for (const auto& [key, list] : ops) {
    out << "  " << key.name << " (" << key.op_type << "): " << list->size() << " configs\n";
    for (const auto& c : *list) out << "    " << describe(c) << "\n";
  }
  out << "optypewise:\n";
  for (const auto& [type, list] : cap.optypewise) {
    out << "  " << type << ": " << list.size() << " configs\n";
    for (const auto& c : list) out << "    " << describe(c) << "\n";
  }
  return Status::Ok();
}

}  // namespace

int cmd_caps(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("caps"));
  Status s = args.ok() ? run_caps(args.value(), std::cout) : args.status();
  if (!s.ok()) {
    std::cerr << "qtune caps: " << s.message() << "\n";
    if (!args.ok()) std::cerr << usage_of("caps") << "\n";
    return s.exit_code();
  }
  return 0;
}

}  // namespace qtune::cli
