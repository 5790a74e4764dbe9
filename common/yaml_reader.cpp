#include "common/yaml_reader.h"

#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>

namespace qtune {

Status YamlReader::error(const YAML::Mark& m, const std::string& key,
                         const std::string& what) const {
  std::string where = file_;
  if (!m.is_null()) {
    where.append(":").append(std::to_string(m.line + 1));
    where.append(":").append(std::to_string(m.column + 1));
  }
  return Status::InvalidInput(where + ": " + (key.empty() ? "" : key + ": ") + what);
}

std::string YamlReader::kind(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Scalar: return "'" + n.Scalar() + "'";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Undefined: return "nothing";
  }
  return "something else";
}

Status YamlReader::read_map(const YAML::Node& n, const std::string& key,
                            const std::set<std::string>* known,
                            std::vector<YamlEntry>* out) const {
  if (!n.IsMap()) return error(n, key, "expected a mapping, got " + kind(n));
  const std::string prefix = key.empty() ? "" : key + ".";
  std::set<std::string> seen;
  for (auto it = n.begin(); it != n.end(); ++it) {
    const YAML::Node k = it->first;  // a handle copy: `it->` yields a temporary proxy
    if (!k.IsScalar()) return error(k, key, "keys must be plain names");
    const std::string name = k.Scalar();
    if (name.empty()) return error(k, key, "keys must not be empty");
    if (known && !known->count(name)) {
      std::string list;
      for (const auto& s : *known) list += (list.empty() ? "" : ", ") + s;
      return error(k, prefix + name, "unknown key (expected one of " + list + ")");
    }
    if (!seen.insert(name).second) return error(k, prefix + name, "duplicate key");
    const YAML::Node v = it->second;
    // A null value's mark points at the next token, so blame the key instead.
    if (v.IsNull()) return error(k, prefix + name, "has no value");
    out->push_back({name, k, v});
  }
  return Status::Ok();
}

Status YamlReader::read_map(const YAML::Node& n, const std::string& key,
                            const std::set<std::string>& known, Entries* out) const {
  std::vector<YamlEntry> entries;
  QT_RETURN_IF_ERROR(read_map(n, key, &known, &entries));
  for (auto& e : entries) out->emplace_back(std::move(e.name), e.value);
  return Status::Ok();
}

Result<YamlReader::Entries> YamlReader::read_map(const YAML::Node& n, const std::string& key,
                                                 const std::set<std::string>& known) const {
  Entries out;
  QT_RETURN_IF_ERROR(read_map(n, key, known, &out));
  return out;
}

Result<YamlReader::Entries> YamlReader::read_named_map(const YAML::Node& n,
                                                       const std::string& key) const {
  std::vector<YamlEntry> entries;
  QT_RETURN_IF_ERROR(read_map(n, key, nullptr, &entries));
  Entries out;
  for (auto& e : entries) out.emplace_back(std::move(e.name), e.value);
  return out;
}

Result<std::string> YamlReader::get_string(const YAML::Node& n, const std::string& key) const {
  if (!n.IsScalar()) return error(n, key, "expected a string, got " + kind(n));
  if (n.Scalar().empty()) return error(n, key, "must not be empty");
  return n.Scalar();
}

Result<int64_t> YamlReader::get_int(const YAML::Node& n, const std::string& key) const {
  if (!n.IsScalar()) return error(n, key, "expected an integer, got " + kind(n));
  const std::string& s = n.Scalar();
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  int64_t v = 0;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e || b == e) {
    return error(n, key, "expected an integer, got '" + s + "'");
  }
  return v;
}

Result<double> YamlReader::get_number(const YAML::Node& n, const std::string& key) const {
  if (!n.IsScalar()) return error(n, key, "expected a number, got " + kind(n));
  const std::string& s = n.Scalar();
  const char* b = s.data();
  const char* e = s.data() + s.size();
  if (b != e && *b == '+') ++b;
  double v = 0;
  auto [p, ec] = std::from_chars(b, e, v);
  if (ec != std::errc() || p != e || b == e || !std::isfinite(v)) {
    return error(n, key, "expected a finite number, got '" + s + "'");
  }
  return v;
}

Result<bool> YamlReader::get_bool(const YAML::Node& n, const std::string& key) const {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
  }
  return error(n, key, "expected true or false, got " + kind(n));
}

Result<std::vector<std::string>> YamlReader::get_string_list(const YAML::Node& n,
                                                             const std::string& key) const {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    QT_ASSIGN_OR_RETURN(std::string s, get_string(n, key));
    out.push_back(s);
    return out;
  }
  if (!n.IsSequence()) return error(n, key, "expected a list, got " + kind(n));
  if (n.size() == 0) return error(n, key, "must not be empty");
  for (size_t i = 0; i < n.size(); ++i) {
    QT_ASSIGN_OR_RETURN(std::string s, get_string(n[i], key + "[" + std::to_string(i) + "]"));
    out.push_back(s);
  }
  return out;
}

Result<std::string> YamlReader::get_choice(const YAML::Node& n, const std::string& key,
                                           const std::vector<std::string>& allowed) const {
  QT_ASSIGN_OR_RETURN(std::string s, get_string(n, key));
  for (const auto& a : allowed) {
    if (s == a) return s;
  }
  std::string list;
  for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
  return error(n, key, "'" + s + "' is not one of " + list);
}

Result<YAML::Node> load_yaml_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidInput(path + ": is a directory, expected " + what);
  }
  std::ifstream probe(path);
  if (!probe) return Status::InvalidInput(path + ": cannot open " + what);
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (!root.IsDefined() || root.IsNull()) {
      return Status::InvalidInput(path + ": empty document, expected " + what);
    }
    return root;
  } catch (const YAML::Exception& e) {
    return YamlReader(path).error(e.mark, "", e.msg);
  } catch (const std::exception& e) {
    return Status::InvalidInput(path + ": " + e.what());
  }
}

}  // namespace qtune
