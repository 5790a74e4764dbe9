// ExecutorModel: a PreparedModel that is a lowered graph run by the Executor with an adaptor's
// fused ops. Shared by adaptors whose compute plugs in as ops. run() is thread-safe.
#pragma once

#include <memory>

#include "adaptors/adaptor.h"

namespace qtune {

class ExecutorModel : public PreparedModel {
 public:
  // `ops` (the adaptor's fused ops) must outlive this object; static registries do.
  static Result<std::unique_ptr<PreparedModel>> create(std::shared_ptr<const Graph> lowered,
                                                       const KernelRegistry* ops) {
    auto exec = Executor::create(lowered, ops);
    if (!exec.ok()) return exec.status();
    return std::unique_ptr<PreparedModel>(new ExecutorModel(std::move(exec).value()));
  }
  Result<std::vector<Tensor>> run(const std::vector<Tensor>& inputs) const override {
    return exec_.run(inputs);
  }
  const Graph& graph() const override { return exec_.graph(); }
  const Executor& executor() const { return exec_; }
  Executor& executor() { return exec_; }

 private:
  explicit ExecutorModel(Executor exec) : exec_(std::move(exec)) {}
  Executor exec_;
};

}  // namespace qtune
