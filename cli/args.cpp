// Command-line parsing and the environment fallback of the qtune subcommands (see args.h).
#include "cli/args.h"

#include "common/json.h"
#include "common/protocol.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <cstdlib>

namespace qtune::cli {

Result<int64_t> positive_int(const std::string& flag, const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return Status::InvalidInput(flag + " expects a positive integer, got '" + s + "'");
  }
  return v;
}

Result<int64_t> heartbeat_ms(const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < kMinHeartbeatMs || v > kMaxHeartbeatMs) {
    return Status::InvalidInput("--heartbeat-ms expects milliseconds from " + std::to_string(kMinHeartbeatMs) +
                                " to " + std::to_string(kMaxHeartbeatMs) + ", got '" + s + "'");
  }
  return v;
}

std::string json_string(const std::string& s) { return json_quote(s); }

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

Environment process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::string env_name(const std::string& option) {
  std::string name = "QTUNE_";
  for (char c : option.substr(option.rfind("--", 0) == 0 ? 2 : 0)) {
    name += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return name;
}

Result<Args> parse_args(int argc, char** argv, int first, const std::set<std::string>& valued,
                        const std::set<std::string>& flags) {
  Args a;
  for (int i = first; i < argc; ++i) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0 || s == "--") {
      a.positional.push_back(s);
      continue;
    }
    std::string value;
    const auto eq = s.find('=');
    if (eq != std::string::npos) {
      value = s.substr(eq + 1);
      s = s.substr(0, eq);
    }
    if (flags.count(s)) {
      if (eq != std::string::npos) return Status::InvalidInput("option " + s + " takes no value");
      a.options[s] = "";
    } else if (valued.count(s)) {
      if (eq == std::string::npos) {
        if (i + 1 >= argc) return Status::InvalidInput("option " + s + " needs a value");
        value = argv[++i];
      }
      a.options[s] = value;
    } else {
      return Status::InvalidInput("unknown option " + s);
    }
  }
  return a;
}

Result<Args> parse_args(int argc, char** argv, int first, const OptionSpec& spec) {
  return parse_args(argc, argv, first, spec.valued, spec.flags);
}

namespace {

// True when the command line named an option that excludes `option` (OptionSpec::exclusive).
bool excluded_by_command_line(const OptionSpec& spec, const Args& cmdline, const std::string& option) {
  auto any_given = [&](const std::set<std::string>& side) {
    return std::any_of(side.begin(), side.end(), [&](const std::string& o) { return cmdline.has(o); });
  };
  for (const auto& [left, right] : spec.exclusive) {
    if (left.count(option) && any_given(right)) return true;
    if (right.count(option) && any_given(left)) return true;
  }
  return false;
}

Result<bool> env_flag(const std::string& name, std::string v) {
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return Status::InvalidInput("environment variable " + name +
                              ": expects 1 or 0 (true/false, yes/no, on/off), got '" + v + "'");
}

}  // namespace

Result<Args> parse_args_env(int argc, char** argv, int first, const OptionSpec& spec,
                            const Environment& env) {
  QT_ASSIGN_OR_RETURN(Args a, parse_args(argc, argv, first, spec.valued, spec.flags));
  if (!env) return a;
  const Args cmdline = a;
  for (const std::set<std::string>* group : {&spec.valued, &spec.flags}) {
    for (const std::string& option : *group) {
      if (cmdline.has(option) || excluded_by_command_line(spec, cmdline, option)) continue;
      const std::string name = env_name(option);
      const std::optional<std::string> v = env(name);
      if (!v || v->empty()) continue;
      if (group == &spec.flags) {
        QT_ASSIGN_OR_RETURN(bool on, env_flag(name, *v));
        if (!on) continue;
        a.options[option] = "";
      } else {
        a.options[option] = *v;
      }
      a.from_env[option] = name;
    }
  }
  return a;
}

std::string env_note(const Args& args) {
  if (args.from_env.empty()) return "";
  std::string note = "options from the environment:";
  const char* sep = " ";
  for (const auto& [option, name] : args.from_env) {
    note += sep + name;
    sep = ", ";
  }
  return note;
}

std::vector<std::string> environment_without(const OptionSpec& spec) {
  std::set<std::string> drop;
  for (const auto& o : spec.valued) drop.insert(env_name(o));
  for (const auto& o : spec.flags) drop.insert(env_name(o));
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    if (!drop.count(entry.substr(0, entry.find('=')))) out.push_back(entry);
  }
  return out;
}

}  // namespace qtune::cli
