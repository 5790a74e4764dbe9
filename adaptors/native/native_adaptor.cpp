#include "adaptors/native/native_adaptor.h"

#include "adaptors/adaptor_base.h"
#include "adaptors/executor_model.h"
#include "adaptors/lowering.h"
#include "adaptors/quantize/graph_passes.h"
#include "adaptors/native/native_lowering.h"
#include "adaptors/native/native_ops.h"

namespace qtune {
namespace {

class NativeAdaptor : public CapabilityYamlAdaptor {
 public:
  NativeAdaptor() : CapabilityYamlAdaptor("native") {}

  Result<std::unique_ptr<PreparedModel>> prepare(
      std::shared_ptr<const Graph> model, const std::vector<std::string>& bf16_ops) const override {
    // An fp32 model gets the rewrites quantize() starts from (BatchNormalization folded into
    // its Conv, ...), which it needs to run fast; a QDQ graph was built from them already.
    QT_ASSIGN_OR_RETURN(Graph fp32, prepare_for_running(*model));
    QT_ASSIGN_OR_RETURN(Graph lowered, lower_native(fp32, bf16_ops));
    return ExecutorModel::create(std::make_shared<const Graph>(std::move(lowered)), &native_ops());
  }
};

}  // namespace

std::unique_ptr<Adaptor> make_native_adaptor() { return std::make_unique<NativeAdaptor>(); }

}  // namespace qtune
