#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"

namespace qtune::cli {

int cmd_eval(int argc, char** argv) {
  std::cerr << "qtune eval: not built yet\n";
  return 3;
}

}  // namespace qtune::cli
