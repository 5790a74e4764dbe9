// `qtune run MODEL.onnx --inputs DIR --out DIR [--adaptor A]`: runs a model once on inputs given
// as NumPy files (DIR/input_0.npy, input_1.npy, ... in graph input order) and writes every graph
// output as OUT/output_0.npy, ... With --adaptor, QDQ models run on that adaptor's int8 kernels.
// For comparing qtune's outputs with another runtime's on exactly the same data.
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "adaptors/adaptor.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "common/dataset.h"
#include "common/onnx_io.h"
#include "runtime/executor.h"

namespace qtune::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kRunUsage =
    "usage: qtune run MODEL.onnx --inputs DIR --out DIR [--adaptor native|onednn]";

Result<Tensor> tensor_from_npy(const std::string& path, const ValueInfo& declared) {
  QT_ASSIGN_OR_RETURN(RawArray a, read_npy_file(path));
  DType dtype = a.dtype;
  // NumPy's bool arrives as u8; the model says whether it is a bool.
  if (declared.dtype == DType::kBool && dtype == DType::kU8) dtype = DType::kBool;
  if (declared.dtype != DType::kUndefined && declared.dtype != dtype) {
    return Status::InvalidInput(path + ": element type " + std::string(dtype_name(dtype)) +
                                ", the model's input '" + declared.name + "' is " +
                                std::string(dtype_name(declared.dtype)));
  }
  Tensor t(dtype, a.shape);
  std::memcpy(t.raw(), a.data(), t.nbytes());
  return t;
}

Status run_model(const Args& args) {
  if (args.positional.size() != 1 || !args.has("--inputs") || !args.has("--out")) {
    return Status::InvalidInput(kRunUsage);
  }
  const std::string model_path = args.positional[0];
  const fs::path in_dir = args.get("--inputs", ""), out_dir = args.get("--out", "");
  QT_ASSIGN_OR_RETURN(Graph graph, load_onnx_model(model_path));
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < graph.inputs.size(); ++i) {
    const fs::path p = in_dir / ("input_" + std::to_string(i) + ".npy");
    if (!fs::exists(p)) {
      return Status::InvalidInput(p.string() + ": missing (input '" + graph.inputs[i].name +
                                  "' of " + model_path + ")");
    }
    QT_ASSIGN_OR_RETURN(Tensor t, tensor_from_npy(p.string(), graph.inputs[i]));
    inputs.push_back(std::move(t));
  }
  auto shared = std::make_shared<const Graph>(std::move(graph));
  std::vector<Tensor> outputs;
  if (args.has("--adaptor")) {
    QT_ASSIGN_OR_RETURN(std::unique_ptr<Adaptor> adaptor, make_adaptor(args.get("--adaptor", "")));
    QT_ASSIGN_OR_RETURN(std::unique_ptr<PreparedModel> prepared, adaptor->prepare(shared, {}));
    QT_ASSIGN_OR_RETURN(outputs, prepared->run(inputs));
  } else {
    QT_ASSIGN_OR_RETURN(Executor exec, Executor::create(shared));
    QT_ASSIGN_OR_RETURN(outputs, exec.run(inputs));
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status::InvalidInput(out_dir.string() + ": " + ec.message());
  for (size_t i = 0; i < outputs.size(); ++i) {
    const fs::path p = out_dir / ("output_" + std::to_string(i) + ".npy");
    QT_RETURN_IF_ERROR(write_npy_file(outputs[i], p.string()));
    std::cout << p.string() << ": " << shared->outputs[i].name << " "
              << dtype_name(outputs[i].dtype()) << shape_str(outputs[i].shape()) << "\n";
  }
  return Status::Ok();
}

}  // namespace

int cmd_run(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--inputs", "--out", "--adaptor"}, {});
  Status s = args.ok() ? run_model(args.value()) : args.status();
  if (!s.ok()) {
    std::cerr << "qtune run: " << s.message() << "\n";
    if (!args.ok()) std::cerr << kRunUsage << "\n";
    return s.exit_code();
  }
  return 0;
}

}  // namespace qtune::cli
