#include "adaptors/onednn/onednn_adaptor.h"

#include "adaptors/adaptor_base.h"
#include "adaptors/executor_model.h"
#include "adaptors/lowering.h"
#include "adaptors/quantize/graph_passes.h"
#include "adaptors/onednn/onednn_ops.h"

namespace qtune {
namespace {

class OneDnnAdaptor : public CapabilityYamlAdaptor {
 public:
  OneDnnAdaptor() : CapabilityYamlAdaptor("onednn") {}

  Result<std::unique_ptr<PreparedModel>> prepare(
      std::shared_ptr<const Graph> model, const std::vector<std::string>& bf16_ops) const override {
    if (!model) return Status::Internal("onednn adaptor: prepare() got no graph");
    // An fp32 model gets the rewrites quantize() starts from (BatchNormalization folded into
    // its Conv, ...), which it needs to run fast; a QDQ graph was built from them already.
    QT_ASSIGN_OR_RETURN(Graph fp32, prepare_for_running(*model));
    QT_ASSIGN_OR_RETURN(Graph lowered, lower_qdq(fp32, onednn_lowering_target(), bf16_ops));
    return ExecutorModel::create(std::make_shared<const Graph>(std::move(lowered)), &onednn_ops());
  }
};

}  // namespace

std::unique_ptr<Adaptor> make_onednn_adaptor() { return std::make_unique<OneDnnAdaptor>(); }

}  // namespace qtune
