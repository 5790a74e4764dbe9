#include <functional>

#include "adaptors/adaptor.h"
#include "adaptors/native/native_adaptor.h"
#include "adaptors/onednn/onednn_adaptor.h"

namespace qtune {
namespace {

struct AdaptorEntry {
  const char* name;
  std::function<std::unique_ptr<Adaptor>()> make;
};

// One line per adaptor; see docs/adding-an-adaptor.md.
const AdaptorEntry kAdaptors[] = {
    {"native", make_native_adaptor},
    {"onednn", make_onednn_adaptor},
};

}  // namespace

Result<std::unique_ptr<Adaptor>> make_adaptor(const std::string& name) {
  for (const auto& e : kAdaptors) {
    if (name == e.name) return e.make();
  }
  std::string known;
  for (const auto& e : kAdaptors) known += (known.empty() ? "" : ", ") + std::string(e.name);
  return Status::InvalidInput("unknown adaptor '" + name + "' (known: " + known + ")");
}

std::vector<std::string> adaptor_names() {
  std::vector<std::string> out;
  for (const auto& e : kAdaptors) out.push_back(e.name);
  return out;
}

}  // namespace qtune
