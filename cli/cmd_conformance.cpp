#include <iostream>

#include "runtime/conformance.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "kernels/cpu_features.h"

namespace qtune::cli {

int cmd_conformance(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("conformance"));
  if (!args.ok() || args->positional.empty()) {
    std::cerr << "qtune conformance: "
              << (args.ok() ? "expects at least one DIR" : args.status().message()) << "\n"
              << usage_of("conformance") << "\n";
    return 2;
  }
  ConformanceExclusions exclusions;
  if (args->has("--exclusions")) {
    auto loaded = load_conformance_exclusions(args->get("--exclusions", ""));
    if (!loaded.ok()) {
      std::cerr << "qtune conformance: " << loaded.status().message() << "\n";
      return 2;
    }
    exclusions = std::move(loaded).value();
  }
  ConformanceSummary s = run_conformance(args->positional, std::cout, exclusions);
  std::cout << s.passed << " passed, " << s.failed << " failed, " << s.skipped << " skipped\n";
  return s.failed == 0 ? 0 : 1;
}

int cmd_version(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("version"));
  if (!args.ok() || !args->positional.empty()) {
    std::cerr << "qtune version: " << (args.ok() ? "takes no operand" : args.status().message())
              << "\n" << usage_of("version") << "\n";
    return 2;
  }
  std::cout << "qtune 0.1.0\ncpu: " << cpu_features_detected().summary()
            << "\nin use: " << cpu_features().summary() << "\n";
  return 0;
}

}  // namespace qtune::cli
