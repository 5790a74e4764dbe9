// Strict reading of YAML documents into config structs: every error is kInvalidInput shaped
// "FILE:LINE:COL: key.path: what is wrong" (1-based), unknown and duplicate keys are errors.
// The base of every YAML parser in qtune (data, tune_cfg, tuning and capability files).
// Stateless apart from the file name; thread-safe.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace qtune {

// One mapping entry: the key's name and node (for marks) and the value.
struct YamlEntry {
  std::string name;
  YAML::Node key;
  YAML::Node value;
};

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  Status error(const YAML::Mark& m, const std::string& key, const std::string& what) const;
  Status error(const YAML::Node& n, const std::string& key, const std::string& what) const {
    return error(n.Mark(), key, what);
  }

  // The entries of mapping `n` (at key path `key`) in document order, after rejecting
  // non-mappings, empty, duplicate and valueless keys, and keys outside `known` when given.
  Status read_map(const YAML::Node& n, const std::string& key, const std::set<std::string>* known,
                  std::vector<YamlEntry>* out) const;
  Status read_map(const YAML::Node& n, const std::string& key, const std::set<std::string>& known,
                  std::vector<YamlEntry>* out) const {
    return read_map(n, key, &known, out);
  }
  // The same as (name, value) pairs.
  using Entries = std::vector<std::pair<std::string, YAML::Node>>;
  Status read_map(const YAML::Node& n, const std::string& key, const std::set<std::string>& known,
                  Entries* out) const;
  Result<Entries> read_map(const YAML::Node& n, const std::string& key,
                           const std::set<std::string>& known) const;
  // A mapping whose keys are user names (op names, op types): only duplicates are rejected.
  Result<Entries> read_named_map(const YAML::Node& n, const std::string& key) const;

  Result<std::string> get_string(const YAML::Node& n, const std::string& key) const;
  Result<int64_t> get_int(const YAML::Node& n, const std::string& key) const;
  Result<double> get_number(const YAML::Node& n, const std::string& key) const;
  Result<bool> get_bool(const YAML::Node& n, const std::string& key) const;
  // A sequence of strings, or one string standing for a one-element list; never empty.
  Result<std::vector<std::string>> get_string_list(const YAML::Node& n,
                                                   const std::string& key) const;
  // A string that must be one of `allowed`.
  Result<std::string> get_choice(const YAML::Node& n, const std::string& key,
                                 const std::vector<std::string>& allowed) const;

  static std::string kind(const YAML::Node& n);

 private:
  std::string file_;
};

// Loads `path` as YAML, turning I/O and syntax errors into kInvalidInput with FILE:LINE:COL.
Result<YAML::Node> load_yaml_file(const std::string& path, const std::string& what);

}  // namespace qtune
