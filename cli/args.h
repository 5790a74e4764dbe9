// Minimal command-line parsing shared by the subcommands: positionals, --flag and --key value.
// Unknown flags are errors (exit 2) so typos never pass silently. Not thread-safe; CLI only.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace qtune::cli {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--out" -> "DIR"; flags map to ""

  bool has(const std::string& key) const { return options.count(key) != 0; }
  std::string get(const std::string& key, const std::string& fallback) const {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
  }
};

// A positive integer option value, or kInvalidInput naming the flag.
Result<int64_t> positive_int(const std::string& flag, const std::string& s);
// s as a JSON string literal, quotes included.
std::string json_string(const std::string& s);
// v with `digits` decimals.
std::string fixed(double v, int digits);

// `valued` lists options that take a value, `flags` those that do not.
Result<Args> parse_args(int argc, char** argv, int first, const std::set<std::string>& valued,
                        const std::set<std::string>& flags);

}  // namespace qtune::cli
