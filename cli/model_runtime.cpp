#include "cli/model_runtime.h"

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

}  // namespace qtune::cli
