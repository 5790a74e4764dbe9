// Links the installed qtune libraries: loads an ONNX model, counts its ops by type and asks the
// native adaptor which of them it can quantize.
//   qtune_consumer MODEL.onnx     prints "OP_TYPE COUNT" lines, then "quantizable N"
#include <cstdlib>
#include <iostream>
#include <map>

#include "adaptors/adaptor.h"
#include "common/onnx_io.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: qtune_consumer MODEL.onnx\n";
    return 2;
  }
  setenv("QTUNE_CAPABILITIES_DIR", QTUNE_CONSUMER_CAPABILITIES, 0);
  auto graph = qtune::load_onnx_model(argv[1]);
  if (!graph.ok()) {
    std::cerr << graph.status().message() << "\n";
    return graph.status().exit_code();
  }
  std::map<std::string, int> ops;
  for (const auto& node : graph->nodes) ++ops[node.op_type];
  for (const auto& [op, n] : ops) std::cout << op << " " << n << "\n";
  auto adaptor = qtune::make_adaptor("native");
  if (!adaptor.ok()) {
    std::cerr << adaptor.status().message() << "\n";
    return adaptor.status().exit_code();
  }
  auto cap = adaptor.value()->query_fw_capability(*graph);
  if (!cap.ok()) {
    std::cerr << cap.status().message() << "\n";
    return cap.status().exit_code();
  }
  std::cout << "quantizable " << cap->opwise.size() << "\n";
  return 0;
}
