// `qtune run MODEL.onnx (--inputs DIR | --data DATA.yaml [--limit N]) --out DIR [--adaptor A]`:
// runs a model on inputs given as NumPy files (DIR/input_0.npy, input_1.npy, ... in graph input
// order, or DIR/NAME.npy by input name) or on a dataset (docs/data.md: preprocessed, fed by
// name, in batches), and writes every graph output as OUT/output_0.npy, ... With --data it also
// writes the inputs it fed as OUT/input_0.npy, ..., so another runtime can be run on exactly
// the same tensors. QDQ models run on the adaptor's int8 kernels (default native), with
// --reference as fp32 fake-quant on the reference executor.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <iostream>
#include <memory>

#include "adaptors/adaptor.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "cli/model_runtime.h"
#include "common/data_config.h"
#include "common/dataset.h"
#include "common/model_feed.h"
#include "common/onnx_io.h"
#include "runtime/executor.h"

namespace qtune::cli {
namespace {

namespace fs = std::filesystem;

using Runner = std::function<Result<std::vector<Tensor>>(const std::vector<Tensor>&)>;

// Row-wise concatenation of tensors that agree past axis 0.
Tensor concat_rows(const std::vector<Tensor>& parts) {
  Shape shape = parts[0].shape();
  shape[0] = 0;
  for (const Tensor& p : parts) shape[0] += p.dim(0);
  Tensor out(parts[0].dtype(), shape);
  int64_t at = 0;
  for (const Tensor& p : parts) {
    out.copy_elements(p, 0, at, p.numel());
    at += p.numel();
  }
  return out;
}

// Runs every sample of the dataset; `inputs` gets what was fed (per-sample inputs over all
// samples, shared ones as stored), `outputs` the outputs: those whose first dimension is the
// batch's sample count concatenated over the batches, the others as the last batch left them.
Status run_on_dataset(const Runner& run, const Graph& model, const DataConfig& cfg,
                      std::vector<Tensor>* inputs, std::vector<Tensor>* outputs) {
  QT_ASSIGN_OR_RETURN(Dataset data, load_dataset(cfg));
  QT_ASSIGN_OR_RETURN(ModelFeed feed, ModelFeed::bind(model, data));
  const int64_t n = data.size();
  const int64_t batch = feed.batch_size(cfg.batch_size);
  std::vector<std::vector<Tensor>> fed(model.inputs.size()), got;
  std::vector<bool> batched;
  for (int64_t start = 0; start < n; start += batch) {
    const int64_t count = std::min(batch, n - start);
    std::vector<Tensor> x = feed.batch(start, count);
    Result<std::vector<Tensor>> y = run(x);
    if (!y.ok()) return y.status().Annotate("batch at sample " + std::to_string(start));
    ModelFeed::drop_padding(&y.value(), feed.rows_for(count), count);
    for (size_t i = 0; i < x.size(); ++i) {
      if (feed.per_sample(i)) {
        std::vector<Tensor> rows = {std::move(x[i])};
        ModelFeed::drop_padding(&rows, feed.rows_for(count), count);
        fed[i].push_back(std::move(rows[0]));
      } else if (fed[i].empty()) {
        fed[i].push_back(std::move(x[i]));
      }
    }
    if (got.empty()) {
      got.resize(y->size());
      batched.assign(y->size(), true);
    }
    for (size_t i = 0; i < y->size(); ++i) {
      Tensor& t = (*y)[i];
      batched[i] = batched[i] && t.is_tensor() && t.rank() >= 1 && t.dim(0) == count;
      if (!batched[i]) got[i].clear();
      got[i].push_back(std::move(t));
    }
  }
  inputs->clear();
  for (size_t i = 0; i < fed.size(); ++i) {
    inputs->push_back(feed.per_sample(i) ? concat_rows(fed[i]) : fed[i][0]);
  }
  outputs->clear();
  for (size_t i = 0; i < got.size(); ++i) {
    outputs->push_back(batched[i] ? concat_rows(got[i]) : got[i].back());
  }
  return Status::Ok();
}

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
  if (args.positional.size() != 1) return usage_error("run", "expects one MODEL.onnx");
  if (args.has("--inputs") == args.has("--data")) {
    return usage_error("run", "needs either --inputs DIR or --data DATA.yaml");
  }
  if (!args.has("--out")) return usage_error("run", "needs --out DIR");
  if (args.has("--limit") && !args.has("--data")) return usage_error("run", "--limit needs --data");
  const std::string model_path = args.positional[0];
  const fs::path out_dir = args.get("--out", "");
  QT_ASSIGN_OR_RETURN(Graph graph, load_onnx_model(model_path));
  auto shared = std::make_shared<const Graph>(std::move(graph));
  QT_ASSIGN_OR_RETURN(std::unique_ptr<PreparedModel> prepared, prepare_to_run(shared, args));
  const Runner run = [&](const std::vector<Tensor>& x) { return prepared->run(x); };
  std::vector<Tensor> inputs, outputs;
  if (args.has("--data")) {
    QT_ASSIGN_OR_RETURN(DataConfig cfg, load_data_config(args.get("--data", "")));
    if (args.has("--limit")) {
      QT_ASSIGN_OR_RETURN(cfg.dataset.limit, positive_int("--limit", args.get("--limit", "")));
    }
    QT_RETURN_IF_ERROR(run_on_dataset(run, *shared, cfg, &inputs, &outputs));
  } else {
    const fs::path in_dir = args.get("--inputs", "");
    for (size_t i = 0; i < shared->inputs.size(); ++i) {
      const ValueInfo& in = shared->inputs[i];
      fs::path p = in_dir / ("input_" + std::to_string(i) + ".npy");
      if (!fs::exists(p) && fs::exists(in_dir / (in.name + ".npy"))) p = in_dir / (in.name + ".npy");
      if (!fs::exists(p)) {
        return Status::InvalidInput(p.string() + ": missing (input '" + in.name + "' of " +
                                    model_path + "; or " + in.name + ".npy)");
      }
      QT_ASSIGN_OR_RETURN(Tensor t, tensor_from_npy(p.string(), in));
      inputs.push_back(std::move(t));
    }
    QT_ASSIGN_OR_RETURN(outputs, run(inputs));
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return Status::InvalidInput(out_dir.string() + ": " + ec.message());
  for (size_t i = 0; args.has("--data") && i < inputs.size(); ++i) {
    const fs::path p = out_dir / ("input_" + std::to_string(i) + ".npy");
    QT_RETURN_IF_ERROR(write_npy_file(inputs[i], p.string()));
    std::cout << p.string() << ": " << shared->inputs[i].name << " "
              << dtype_name(inputs[i].dtype()) << shape_str(inputs[i].shape()) << "\n";
  }
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
  auto args = parse_args(argc, argv, 2, option_spec("run"));
  Status s = args.ok() ? run_model(args.value()) : args.status();
  if (!s.ok()) {
    std::cerr << "qtune run: " << s.message() << "\n";
    if (!args.ok()) std::cerr << usage_of("run") << "\n";
    return s.exit_code();
  }
  return 0;
}

}  // namespace qtune::cli
