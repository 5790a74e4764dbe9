// Entry points of the qtune subcommands; each returns the process exit code. cli/main.cpp
// dispatches through command_table(); every command that is not hidden has an entry in the help
// table (cli/help.h), which tests check.
#pragma once

#include <string>
#include <vector>

#include "cli/args.h"

namespace qtune::cli {

int cmd_eval(int argc, char** argv);
int cmd_conformance(int argc, char** argv);
int cmd_version(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_caps(int argc, char** argv);
int cmd_ops(int argc, char** argv);
int cmd_run(int argc, char** argv);
int cmd_check(int argc, char** argv);
int cmd_quantize(int argc, char** argv);
int cmd_tune(int argc, char** argv);
int cmd_diagnose(int argc, char** argv);
int cmd_worker(int argc, char** argv);
int cmd_coordinator(int argc, char** argv);
int cmd_report(int argc, char** argv);
int cmd_send_frame(int argc, char** argv);  // hidden: a bad frame for protocol tests
int cmd_keygen(int argc, char** argv);
int cmd_bench_dispatch(int argc, char** argv);  // `qtune bench dispatch`
int cmd_bench_model(int argc, char** argv);     // `qtune bench model`
int cmd_health(int argc, char** argv);          // container health probe

struct CommandEntry {
  std::string name;  // "tune", "bench dispatch"
  int (*run)(int argc, char** argv);
  bool hidden = false;  // for tests only; not in the help
};
// Every subcommand, in `qtune help` order.
const std::vector<CommandEntry>& command_table();
// nullptr for an unknown name.
const CommandEntry* find_command(const std::string& name);

// The options of `qtune worker`; `qtune tune --workers N` keeps their environment variables
// from its children, whose command line it sets.
const OptionSpec& worker_option_spec();

}  // namespace qtune::cli
