// The subcommands by name, for cli/main.cpp (see commands.h).
#include "cli/commands.h"

#include "cli/help.h"

namespace qtune::cli {

const std::vector<CommandEntry>& command_table() {
  static const std::vector<CommandEntry> table = {
      {"tune", cmd_tune, false},
      {"report", cmd_report, false},
      {"diagnose", cmd_diagnose, false},
      {"coordinator", cmd_coordinator, false},
      {"worker", cmd_worker, false},
      {"health", cmd_health, false},
      {"keygen", cmd_keygen, false},
      {"eval", cmd_eval, false},
      {"run", cmd_run, false},
      {"quantize", cmd_quantize, false},
      {"caps", cmd_caps, false},
      {"check", cmd_check, false},
      {"ops", cmd_ops, false},
      {"conformance", cmd_conformance, false},
      {"bench", cmd_bench, false},
      {"bench model", cmd_bench_model, false},
      {"bench dispatch", cmd_bench_dispatch, false},
      {"version", cmd_version, false},
      {"help", cmd_help, false},
      {"send-frame", cmd_send_frame, true},
  };
  return table;
}

const CommandEntry* find_command(const std::string& name) {
  for (const CommandEntry& c : command_table()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace qtune::cli
