#include "cli/args.h"

#include "common/json.h"

#include <charconv>
#include <cstdio>

namespace qtune::cli {

Result<int64_t> positive_int(const std::string& flag, const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v <= 0) {
    return Status::InvalidInput(flag + " expects a positive integer, got '" + s + "'");
  }
  return v;
}

std::string json_string(const std::string& s) { return json_quote(s); }

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
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

}  // namespace qtune::cli
