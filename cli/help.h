// The help of every subcommand in one table: `qtune help [COMMAND]`, `qtune COMMAND --help`, the
// usage line of error messages, docs/cli.md (`qtune help --markdown`) and the options each
// command's parser accepts all come from it, so none of them can drift from the others.
// Read-only after start-up; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "cli/args.h"

namespace qtune::cli {

struct OptionHelp {
  std::string flag;   // "--out"
  std::string value;  // "DIR"; empty for an option that takes no value
  std::string text;   // what it does and its default
  bool required = false;
};

struct CommandHelp {
  std::string name;         // "tune", "bench dispatch"
  std::string operands;     // what follows the name before the options: "CONFIG.yaml"
  std::string summary;      // one line, for the command list
  std::string description;  // paragraphs separated by "\n\n"
  std::vector<OptionHelp> options;
  std::vector<std::string> examples;  // whole command lines
  bool environment = false;  // options also from QTUNE_* variables (cli/args.h)
};

// Every documented command, in the order `qtune help` lists them.
const std::vector<CommandHelp>& command_help();
// nullptr when `name` is not a documented command.
const CommandHelp* find_command_help(const std::string& name);

// "usage: qtune tune CONFIG.yaml [--out DIR] ...": required options bare, the rest bracketed.
std::string usage_line(const CommandHelp& c);
// usage, description, options, environment note and examples, wrapped for a terminal.
std::string help_text(const CommandHelp& c);
// `qtune help`: the command list, the environment and the exit codes.
std::string overview_text();
// docs/cli.md: everything above as one Markdown page.
std::string help_markdown();

// The options `command` accepts, from its help (valued and flags; no exclusive groups).
OptionSpec option_spec(const std::string& command);
// usage_line of `command`.
std::string usage_of(const std::string& command);
// kInvalidInput: `what` is wrong with the command line, then the command's usage line.
Status usage_error(const std::string& command, const std::string& what);

// `qtune help [COMMAND... | --markdown]`.
int cmd_help(int argc, char** argv);

}  // namespace qtune::cli
