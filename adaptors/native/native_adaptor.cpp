#include "adaptors/native/native_adaptor.h"

#include "adaptors/adaptor_base.h"
#include "adaptors/executor_model.h"
#include "adaptors/lowering.h"
#include "adaptors/native/native_lowering.h"
#include "adaptors/native/native_ops.h"

namespace qtune {
namespace {

class NativeAdaptor : public CapabilityYamlAdaptor {
 public:
  NativeAdaptor() : CapabilityYamlAdaptor("native") {}

  Result<std::unique_ptr<PreparedModel>> prepare(
      std::shared_ptr<const Graph> model, const std::vector<std::string>& bf16_ops) const override {
    QT_ASSIGN_OR_RETURN(Graph lowered, lower_native(*model, bf16_ops));
    return ExecutorModel::create(std::make_shared<const Graph>(std::move(lowered)), &native_ops());
  }
};

}  // namespace

std::unique_ptr<Adaptor> make_native_adaptor() { return std::make_unique<NativeAdaptor>(); }

}  // namespace qtune
