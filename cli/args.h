// Minimal command-line parsing shared by the subcommands: positionals, --flag and --key value.
// Unknown flags are errors (exit 2) so typos never pass silently. Commands that run in
// containers (tune, coordinator, worker, health) also take every option from the environment:
// --curve-server-key from QTUNE_CURVE_SERVER_KEY; the command line wins. Not thread-safe; CLI only.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace qtune::cli {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--out" -> "DIR"; flags map to ""
  std::map<std::string, std::string> from_env;  // "--out" -> "QTUNE_OUT" when the environment gave it

  bool has(const std::string& key) const { return options.count(key) != 0; }
  std::string get(const std::string& key, const std::string& fallback) const {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
  }
};

// What a command accepts. `exclusive` pairs option groups that exclude each other: once the
// command line names an option of one side, the environment's values for the other side are
// ignored, so `--insecure` on the command line beats QTUNE_CURVE=1 in the environment.
struct OptionSpec {
  std::set<std::string> valued, flags;
  std::vector<std::pair<std::set<std::string>, std::set<std::string>>> exclusive;
};

// Looks up an environment variable; nullopt when unset.
using Environment = std::function<std::optional<std::string>(const std::string& name)>;
// The process environment (std::getenv).
Environment process_environment();
// "--curve-server-key" -> "QTUNE_CURVE_SERVER_KEY".
std::string env_name(const std::string& option);

// A positive integer option value, or kInvalidInput naming the flag.
Result<int64_t> positive_int(const std::string& flag, const std::string& s);
// --heartbeat-ms: milliseconds within [kMinHeartbeatMs, kMaxHeartbeatMs] (common/protocol.h).
Result<int64_t> heartbeat_ms(const std::string& s);
// s as a JSON string literal, quotes included.
std::string json_string(const std::string& s);
// v with `digits` decimals.
std::string fixed(double v, int digits);

// `valued` lists options that take a value, `flags` those that do not.
Result<Args> parse_args(int argc, char** argv, int first, const std::set<std::string>& valued,
                        const std::set<std::string>& flags);
// The same with spec's valued and flags (no environment).
Result<Args> parse_args(int argc, char** argv, int first, const OptionSpec& spec);
// The same, then every option the command line left out is taken from `env` (QTUNE_<NAME>):
// a value as it is, a flag when the variable is 1/true/yes/on (0/false/no/off leave it unset).
// An empty variable counts as unset. A flag variable with another value is kInvalidInput
// naming the variable.
Result<Args> parse_args_env(int argc, char** argv, int first, const OptionSpec& spec,
                            const Environment& env);

// "options from the environment: QTUNE_BIND, QTUNE_OUT", or "" when none came from there; for
// error messages, so a bad value is traced to where it was set.
std::string env_note(const Args& args);

// The process environment ("NAME=VALUE") without the variables of `spec`'s options: what a
// child process gets whose options this process sets on its command line.
std::vector<std::string> environment_without(const OptionSpec& spec);

}  // namespace qtune::cli
