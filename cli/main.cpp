// qtune: the one binary. Each subcommand parses its arguments, calls into the libraries and maps
// Status to the exit code (0 ok, 1 goal not met, 2 bad input, 3 internal error).
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "cli/help.h"
#include "common/size_check.h"

namespace {

// An installed tree (cmake --install) keeps the capability YAMLs in share/qtune/capabilities,
// beside bin/; the adaptors' lookup knows the source layout and $QTUNE_CAPABILITIES_DIR.
void use_installed_capabilities() {
  if (const char* env = std::getenv("QTUNE_CAPABILITIES_DIR"); env && *env) return;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return;
  const std::filesystem::path dir = exe.parent_path() / ".." / "share" / "qtune" / "capabilities";
  if (std::filesystem::is_directory(dir, ec)) {
    setenv("QTUNE_CAPABILITIES_DIR", dir.lexically_normal().c_str(), 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  use_installed_capabilities();
  if (argc < 2) {
    std::cerr << qtune::cli::overview_text();
    return 2;
  }
  std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h") cmd = "help";
  if (cmd == "bench" && argc > 2 && (std::string(argv[2]) == "dispatch" || std::string(argv[2]) == "model")) {
    cmd = std::string("bench ") + argv[2];
  }
  // `qtune COMMAND --help` is `qtune help COMMAND`.
  for (int i = 2; i < argc && cmd != "help"; ++i) {
    const std::string a = argv[i];
    if ((a == "--help" || a == "-h") && qtune::cli::find_command_help(cmd)) {
      std::cout << qtune::cli::help_text(*qtune::cli::find_command_help(cmd));
      return 0;
    }
  }
  if (cmd == "--version") cmd = "version";
  if (qtune::Status limits = qtune::set_size_limits_from_environment(); cmd != "help" && !limits.ok()) {
    std::cerr << "qtune " << cmd << ": " << limits.message() << "\n";
    return limits.exit_code();
  }
  const qtune::cli::CommandEntry* command = qtune::cli::find_command(cmd);
  if (command) {
    try {
      return command->run(argc, argv);
    } catch (const qtune::SizeError& e) {
      std::cerr << "qtune " << cmd << ": " << e.what() << "\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "qtune " << cmd << ": internal error: " << e.what() << "\n";
      return 3;
    }
  }
  std::cerr << "qtune: unknown command '" << cmd << "'\n\n" << qtune::cli::overview_text();
  return 2;
}
