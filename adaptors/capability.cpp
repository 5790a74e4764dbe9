#include "adaptors/capability.h"

#include "adaptors/fused_fp32_patterns.h"
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>
#include <tuple>

#include "adaptors/fused_fp32_patterns.h"
#include "adaptors/quantize/op_roles.h"
#include "runtime/kernel_registry.h"
#include "runtime/onnx_inference.h"
#include "common/yaml_reader.h"

namespace qtune {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Option expansion.

std::vector<TensorQuantSpec> TensorQuantOptions::expand() const {
  std::vector<TensorQuantSpec> out;
  for (DType d : dtype) {
    for (QuantScheme s : scheme) {
      for (QuantGranularity g : granularity) {
        for (CalibAlgorithm a : algorithm) out.push_back({d, s, g, a});
      }
    }
  }
  return out;
}

namespace {

std::vector<TensorQuantSpec> expand_blocks(const std::vector<TensorQuantOptions>& blocks) {
  std::vector<TensorQuantSpec> out;
  for (const auto& b : blocks) {
    for (const auto& s : b.expand()) out.push_back(s);
  }
  return out;
}

}  // namespace

std::vector<TensorQuantSpec> ModeCapability::weight_specs() const { return expand_blocks(weight); }
std::vector<TensorQuantSpec> ModeCapability::activation_specs() const {
  return expand_blocks(activation);
}

bool CapabilitySpec::supports(OpPrecision p) const {
  return std::find(precisions.begin(), precisions.end(), p) != precisions.end();
}

// ---------------------------------------------------------------------------------------------
// Version constraints.

namespace {

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool parse_version_number(const std::string& s, std::vector<int64_t>* out) {
  out->clear();
  size_t i = 0;
  while (true) {
    size_t j = i;
    while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j]))) ++j;
    if (j == i) return false;
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + j, v);
    if (ec != std::errc() || p != s.data() + j) return false;
    out->push_back(v);
    if (j == s.size()) return true;
    if (s[j] != '.') return false;
    i = j + 1;
  }
}

int compare_versions(std::vector<int64_t> a, std::vector<int64_t> b) {
  const size_t n = std::max(a.size(), b.size());
  a.resize(n, 0);
  b.resize(n, 0);
  return a < b ? -1 : (a == b ? 0 : 1);
}

struct VersionClause {
  std::string op;
  std::vector<int64_t> version;
};

// Empty string on success; otherwise what is wrong. "default" and "*" yield no clauses (any).
std::string parse_constraint(const std::string& text, std::vector<VersionClause>* out) {
  out->clear();
  const std::string all = trim(text);
  if (all == "default" || all == "*") return "";
  if (all.empty()) return "empty version constraint";
  size_t start = 0;
  while (start <= all.size()) {
    size_t comma = all.find(',', start);
    if (comma == std::string::npos) comma = all.size();
    const std::string clause = trim(all.substr(start, comma - start));
    start = comma + 1;
    if (clause.empty()) return "empty clause in '" + text + "'";
    VersionClause c;
    size_t k = 0;
    for (const char* op : {">=", "<=", "==", "!=", ">", "<"}) {
      if (clause.rfind(op, 0) == 0) {
        c.op = op;
        k = c.op.size();
        break;
      }
    }
    if (c.op.empty()) c.op = "==";
    const std::string num = trim(clause.substr(k));
    if (!parse_version_number(num, &c.version)) {
      return "'" + clause + "' is not OP VERSION (OP one of >=, >, <=, <, ==, !=; VERSION like 0.1)";
    }
    out->push_back(std::move(c));
    if (comma == all.size()) break;
  }
  return "";
}

bool clauses_match(const std::vector<VersionClause>& clauses, const std::vector<int64_t>& v) {
  for (const auto& c : clauses) {
    const int cmp = compare_versions(v, c.version);
    bool ok = false;
    if (c.op == ">=") ok = cmp >= 0;
    else if (c.op == ">") ok = cmp > 0;
    else if (c.op == "<=") ok = cmp <= 0;
    else if (c.op == "<") ok = cmp < 0;
    else if (c.op == "==") ok = cmp == 0;
    else if (c.op == "!=") ok = cmp != 0;
    if (!ok) return false;
  }
  return true;
}

}  // namespace

Result<bool> adaptor_version_matches(const std::string& constraint, const std::string& version) {
  std::vector<VersionClause> clauses;
  const std::string err = parse_constraint(constraint, &clauses);
  if (!err.empty()) return Status::InvalidInput("version constraint: " + err);
  std::vector<int64_t> v;
  if (!parse_version_number(trim(version), &v)) {
    return Status::InvalidInput("adaptor version '" + version + "' is not like 0.1.0");
  }
  return clauses_match(clauses, v);
}

// ---------------------------------------------------------------------------------------------
// YAML parsing.

namespace {

// Op types with a constant weight input (adaptors/quantize/op_roles.h).
bool has_weight_role(const std::string& op_type) {
  const QuantOpRole* r = quant_op_role(op_type);
  return r && !r->weights.empty();
}
bool has_activation_pairs(const std::string& op_type) {
  const QuantOpRole* r = quant_op_role(op_type);
  return r && r->activation_pairs;
}
std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

struct ParsedEntry {
  std::vector<VersionClause> clauses;
  CapabilitySpec spec;
};

// Reads one capability document; every error carries FILE:LINE:COL of the node it is about.
class SpecParser : public YamlReader {
 public:
  explicit SpecParser(std::string file) : YamlReader(std::move(file)) {
    for (auto& t : KernelRegistry::instance().op_types()) op_types_.insert(std::move(t));
  }


  using Entry = YamlEntry;

  Status get_string(const YAML::Node& n, const std::string& path, std::string* out) const {
    if (!n.IsScalar()) return error(n, path, "expected a string, got " + kind(n));
    *out = n.Scalar();
    if (out->empty()) return error(n, path, "must not be empty");
    return Status::Ok();
  }

  Status get_int(const YAML::Node& n, const std::string& path, int64_t* out) const {
    if (!n.IsScalar()) return error(n, path, "expected an integer, got " + kind(n));
    const std::string& s = n.Scalar();
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    if (ec != std::errc() || p != s.data() + s.size() || s.empty()) {
      return error(n, path, "expected an integer, got '" + s + "'");
    }
    return Status::Ok();
  }

  // A non-empty list of distinct names, each accepted by `parse`.
  template <typename T, typename Parse>
  Status get_enum_list(const YAML::Node& n, const std::string& path, Parse parse,
                       const char* allowed, std::vector<T>* out) const {
    if (!n.IsSequence()) return error(n, path, "expected a list of " + std::string(allowed) +
                                                   ", got " + kind(n));
    if (n.size() == 0) return error(n, path, "must not be empty (list at least one of " +
                                                 std::string(allowed) + ")");
    out->clear();
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string pi = path + "[" + std::to_string(i) + "]";
      std::string s;
      QT_RETURN_IF_ERROR(get_string(n[i], pi, &s));
      T v;
      if (!parse(s, &v)) return error(n[i], pi, "'" + s + "' is not one of " + allowed);
      if (std::find(out->begin(), out->end(), v) != out->end()) {
        return error(n[i], pi, "'" + s + "' is listed twice");
      }
      out->push_back(v);
    }
    return Status::Ok();
  }

  Status get_op_type(const YAML::Node& n, const std::string& path, const std::string& name) const {
    if (!op_types_.count(name)) {
      return error(n, path, "'" + name + "' is not an op type the runtime implements");
    }
    return Status::Ok();
  }

  Status parse(const YAML::Node& root, std::string* adaptor, YAML::Node* adaptor_node,
               YAML::Node* versions_node, std::vector<ParsedEntry>* entries) const {
    if (!root.IsDefined() || root.IsNull()) {
      return error(root, "", "empty document: expected a mapping with schema, adaptor, versions");
    }
    std::vector<Entry> top;
    QT_RETURN_IF_ERROR(read_map(root, "", {"schema", "adaptor", "versions"}, &top));
    bool have_schema = false;
    for (const auto& e : top) {
      if (e.name == "schema") {
        have_schema = true;
        int64_t schema = 0;
        QT_RETURN_IF_ERROR(get_int(e.value, "schema", &schema));
        if (schema != 1) {
          return error(e.value, "schema", "unsupported schema " + std::to_string(schema) +
                                              " (this qtune reads schema 1)");
        }
      } else if (e.name == "adaptor") {
        QT_RETURN_IF_ERROR(get_string(e.value, "adaptor", adaptor));
        *adaptor_node = e.value;
      } else if (e.name == "versions") {
        *versions_node = e.value;
        if (!e.value.IsSequence()) {
          return error(e.value, "versions", "expected a list of entries, got " + kind(e.value));
        }
        if (e.value.size() == 0) return error(e.value, "versions", "must not be empty");
        for (size_t i = 0; i < e.value.size(); ++i) {
          ParsedEntry pe;
          QT_RETURN_IF_ERROR(
              parse_entry(e.value[i], "versions[" + std::to_string(i) + "]", &pe));
          entries->push_back(std::move(pe));
        }
      }
    }
    if (!have_schema) return error(root, "schema", "missing required key");
    if (adaptor->empty()) return error(root, "adaptor", "missing required key");
    if (entries->empty()) return error(root, "versions", "missing required key");
    return Status::Ok();
  }

 private:
  Status parse_entry(const YAML::Node& n, const std::string& path, ParsedEntry* pe) const {
    std::vector<Entry> kv;
    QT_RETURN_IF_ERROR(read_map(n, path, {"version", "precisions", "int8", "bf16"}, &kv));
    CapabilitySpec& spec = pe->spec;
    const YAML::Node* int8_node = nullptr;
    const YAML::Node* bf16_node = nullptr;
    const YAML::Node* precisions_node = nullptr;
    bool have_version = false;
    for (const auto& e : kv) {
      const std::string key = path + "." + e.name;
      if (e.name == "version") {
        have_version = true;
        QT_RETURN_IF_ERROR(get_string(e.value, key, &spec.version));
        const std::string err = parse_constraint(spec.version, &pe->clauses);
        if (!err.empty()) return error(e.value, key, err);
      } else if (e.name == "precisions") {
        precisions_node = &e.value;
        QT_RETURN_IF_ERROR(get_enum_list(e.value, key, parse_precision, "int8, bf16, fp32",
                                         &spec.precisions));
        if (!spec.supports(OpPrecision::kFp32)) {
          return error(e.value, key, "must include fp32 (every op can fall back to it)");
        }
      } else if (e.name == "int8") {
        int8_node = &e.value;
        std::vector<Entry> ops;
        QT_RETURN_IF_ERROR(read_map(e.value, key, nullptr, &ops));
        if (ops.empty()) return error(e.value, key, "must not be empty");
        for (const auto& op : ops) {
          const std::string op_path = key + "." + op.name;
          QT_RETURN_IF_ERROR(get_op_type(op.key, op_path, op.name));
          QT_RETURN_IF_ERROR(parse_op(op.value, op_path, op.name, &spec.int8[op.name]));
        }
      } else if (e.name == "bf16") {
        bf16_node = &e.value;
        if (!e.value.IsSequence()) {
          return error(e.value, key, "expected a list of op types, got " + kind(e.value));
        }
        if (e.value.size() == 0) return error(e.value, key, "must not be empty");
        for (size_t i = 0; i < e.value.size(); ++i) {
          const std::string pi = key + "[" + std::to_string(i) + "]";
          std::string op;
          QT_RETURN_IF_ERROR(get_string(e.value[i], pi, &op));
          QT_RETURN_IF_ERROR(get_op_type(e.value[i], pi, op));
          if (std::find(spec.bf16.begin(), spec.bf16.end(), op) != spec.bf16.end()) {
            return error(e.value[i], pi, "'" + op + "' is listed twice");
          }
          spec.bf16.push_back(op);
        }
      }
    }
    if (!have_version) return error(n, path + ".version", "missing required key");
    if (!precisions_node) return error(n, path + ".precisions", "missing required key");
    for (auto [p, node, name] : {std::tuple{OpPrecision::kInt8, int8_node, "int8"},
                                 std::tuple{OpPrecision::kBf16, bf16_node, "bf16"}}) {
      if (spec.supports(p) && !node) {
        return error(n, path + "." + name,
                     std::string("missing required key (precisions lists ") + name + ")");
      }
      if (!spec.supports(p) && node) {
        return error(*node, path + "." + name,
                     std::string("given but precisions does not list ") + name);
      }
    }
    return Status::Ok();
  }

  Status parse_op(const YAML::Node& n, const std::string& path, const std::string& op_type,
                  OpTypeCapability* out) const {
    if (!quant_op_role(op_type)) {
      return error(n, path, op_type + " cannot be quantized; quantizable op types: " +
                                joined(quantizable_op_types()));
    }
    std::vector<Entry> kv;
    QT_RETURN_IF_ERROR(read_map(n, path, {"static", "dynamic", "activation_pairs"}, &kv));
    bool have_mode = false;
    for (const auto& e : kv) {
      if (e.name == "activation_pairs") {
        if (!has_activation_pairs(op_type)) {
          return error(e.key, path + "." + e.name,
                       op_type + " has no activation x activation form (only Gemm, MatMul do)");
        }
        QT_ASSIGN_OR_RETURN(out->activation_pairs, get_bool(e.value, path + "." + e.name));
        continue;
      }
      have_mode = true;
      const QuantMode mode = e.name == "static" ? QuantMode::kStatic : QuantMode::kDynamic;
      ModeCapability m;
      QT_RETURN_IF_ERROR(parse_mode(e.value, path + "." + e.name, op_type, mode, &m));
      (mode == QuantMode::kStatic ? out->static_mode : out->dynamic_mode) = std::move(m);
    }
    if (!have_mode) return error(n, path, "expected static and/or dynamic");
    return Status::Ok();
  }

  Status parse_mode(const YAML::Node& n, const std::string& path, const std::string& op_type,
                    QuantMode mode, ModeCapability* out) const {
    std::vector<Entry> kv;
    QT_RETURN_IF_ERROR(read_map(n, path, {"weight", "activation"}, &kv));
    bool have_weight = false;
    bool have_activation = false;
    for (const auto& e : kv) {
      const std::string key = path + "." + e.name;
      if (e.name == "weight") {
        have_weight = true;
        if (!has_weight_role(op_type)) {
          return error(e.key, key, op_type + " has no weight input");
        }
        QT_RETURN_IF_ERROR(parse_side(e.value, key, /*activation=*/false, mode, &out->weight));
      } else {
        have_activation = true;
        QT_RETURN_IF_ERROR(parse_side(e.value, key, /*activation=*/true, mode, &out->activation));
      }
    }
    if (!have_activation) return error(n, path + ".activation", "missing required key");
    if (!have_weight && has_weight_role(op_type)) {
      return error(n, path + ".weight", "missing required key (" + op_type + " has a weight)");
    }
    return Status::Ok();
  }

  // One option block, or a list of them.
  Status parse_side(const YAML::Node& n, const std::string& path, bool activation, QuantMode mode,
                    std::vector<TensorQuantOptions>* out) const {
    if (n.IsMap()) {
      out->emplace_back();
      QT_RETURN_IF_ERROR(parse_block(n, path, activation, mode, &out->back()));
    } else if (n.IsSequence()) {
      if (n.size() == 0) return error(n, path, "must not be empty");
      for (size_t i = 0; i < n.size(); ++i) {
        out->emplace_back();
        QT_RETURN_IF_ERROR(parse_block(n[i], path + "[" + std::to_string(i) + "]", activation,
                                       mode, &out->back()));
      }
    } else {
      return error(n, path, "expected an option block or a list of them, got " + kind(n));
    }
    std::set<TensorQuantSpec> seen;
    for (const auto& s : expand_blocks(*out)) {
      if (!seen.insert(s).second) {
        OpQuantConfig c;
        c.precision = OpPrecision::kInt8;
        c.activation = s;
        const std::string d = describe(c);
        return error(n, path, "option blocks overlap: " + d.substr(d.find("a:") + 2) +
                                  " comes out twice");
      }
    }
    return Status::Ok();
  }

  Status parse_block(const YAML::Node& n, const std::string& path, bool activation,
                     QuantMode mode, TensorQuantOptions* out) const {
    std::vector<Entry> kv;
    QT_RETURN_IF_ERROR(read_map(n, path, {"dtype", "scheme", "granularity", "algorithm"}, &kv));
    std::set<std::string> have;
    for (const auto& e : kv) {
      const std::string key = path + "." + e.name;
      have.insert(e.name);
      if (e.name == "dtype") {
        QT_RETURN_IF_ERROR(get_enum_list(e.value, key, parse_quant_dtype, "int8, uint8",
                                         &out->dtype));
      } else if (e.name == "scheme") {
        QT_RETURN_IF_ERROR(get_enum_list(e.value, key, parse_scheme, "sym, asym", &out->scheme));
      } else if (e.name == "granularity") {
        QT_RETURN_IF_ERROR(get_enum_list(e.value, key, parse_granularity,
                                         "per_tensor, per_channel", &out->granularity));
        if (activation && out->granularity != std::vector{QuantGranularity::kPerTensor}) {
          return error(e.value, key, "activations are quantized per_tensor only");
        }
      } else if (e.name == "algorithm") {
        QT_RETURN_IF_ERROR(get_enum_list(e.value, key, parse_algorithm,
                                         "minmax, kl, percentile, mse", &out->algorithm));
        if (activation && mode == QuantMode::kDynamic &&
            out->algorithm != std::vector{CalibAlgorithm::kMinMax}) {
          return error(e.value, key,
                       "dynamic quantization measures ranges at run time: only minmax applies");
        }
      }
    }
    for (const char* k : {"dtype", "scheme", "granularity", "algorithm"}) {
      if (!have.count(k)) return error(n, path + "." + k, "missing required key");
    }
    return Status::Ok();
  }


  std::set<std::string> op_types_;
};

Result<CapabilitySpec> load_spec(const std::string& yaml_path, const std::string& adaptor_version,
                                 const std::string* expected_adaptor) {
  std::vector<int64_t> version;
  if (!parse_version_number(trim(adaptor_version), &version)) {
    return Status::InvalidInput("adaptor version '" + adaptor_version + "' is not like 0.1.0");
  }
  {
    std::error_code ec;
    if (fs::is_directory(yaml_path, ec)) {
      return Status::InvalidInput(yaml_path + ": is a directory, expected a capability YAML file");
    }
    std::ifstream probe(yaml_path);
    if (!probe) return Status::InvalidInput(yaml_path + ": cannot open capability file");
  }
  SpecParser parser(yaml_path);
  try {
    const YAML::Node root = YAML::LoadFile(yaml_path);
    std::string adaptor;
    YAML::Node adaptor_node, versions_node;
    std::vector<ParsedEntry> entries;
    QT_RETURN_IF_ERROR(parser.parse(root, &adaptor, &adaptor_node, &versions_node, &entries));
    if (expected_adaptor && adaptor != *expected_adaptor) {
      return parser.error(adaptor_node, "adaptor",
                          "is '" + adaptor + "' but the file is for adaptor '" +
                              *expected_adaptor + "'");
    }
    std::string tried;
    for (auto& e : entries) {
      if (clauses_match(e.clauses, version)) {
        e.spec.source = yaml_path;
        e.spec.adaptor = adaptor;
        return std::move(e.spec);
      }
      tried += (tried.empty() ? "" : ", ") + std::string("'") + e.spec.version + "'";
    }
    return parser.error(versions_node, "versions",
                        "no entry matches adaptor version " + adaptor_version + " (entries: " +
                            tried + ")");
  } catch (const YAML::Exception& e) {
    return parser.error(e.mark, "", e.msg);
  } catch (const std::exception& e) {
    return Status::InvalidInput(yaml_path + ": " + e.what());
  }
}

}  // namespace

Result<CapabilitySpec> load_capability_spec(const std::string& yaml_path,
                                            const std::string& adaptor_version) {
  return load_spec(yaml_path, adaptor_version, nullptr);
}

std::string capabilities_dir() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("QTUNE_CAPABILITIES_DIR"); env && *env) {
    candidates.emplace_back(env);
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path() / ".." / "capabilities");
    candidates.push_back(exe.parent_path() / ".." / ".." / "capabilities");
  }
#ifdef QTUNE_SOURCE_DIR
  candidates.push_back(fs::path(QTUNE_SOURCE_DIR) / "capabilities");
#endif
  for (const auto& c : candidates) {
    if (!fs::is_directory(c, ec)) continue;
    fs::path p = c.lexically_normal();
    if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();  // "dir/" -> "dir"
    return p.string();
  }
  return "";
}

Result<CapabilitySpec> load_adaptor_capability_spec(const std::string& adaptor) {
  const bool plain = !adaptor.empty() && std::all_of(adaptor.begin(), adaptor.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
  if (!plain) return Status::InvalidInput("'" + adaptor + "' is not an adaptor name");
  const std::string dir = capabilities_dir();
  if (dir.empty()) {
    return Status::Internal(
        "cannot find the capabilities directory (next to the binary or $QTUNE_CAPABILITIES_DIR)");
  }
  const fs::path file = fs::path(dir) / (adaptor + ".yaml");
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) {
    std::vector<std::string> have;
    for (const auto& de : fs::directory_iterator(dir, ec)) {
      if (de.path().extension() == ".yaml") have.push_back(de.path().stem().string());
    }
    std::sort(have.begin(), have.end());
    std::string list;
    for (const auto& h : have) list += (list.empty() ? "" : ", ") + h;
    return Status::InvalidInput("unknown adaptor '" + adaptor + "': no " + file.string() +
                                " (have: " + (list.empty() ? "none" : list) + ")");
  }
  return load_spec(file.string(), kAdaptorVersion, &adaptor);
}

// ---------------------------------------------------------------------------------------------
// Capability of a model.

namespace {

std::vector<OpQuantConfig> config_list(const OpTypeCapability& op, bool has_weight, bool bf16) {
  std::vector<OpQuantConfig> out;
  for (const auto& [mode, m] : {std::pair{QuantMode::kStatic, &op.static_mode},
                                std::pair{QuantMode::kDynamic, &op.dynamic_mode}}) {
    if (!m->has_value()) continue;
    // Without a constant weight the weight options do not apply: one pass, weight left default.
    const std::vector<TensorQuantSpec> weights =
        has_weight ? (*m)->weight_specs() : std::vector<TensorQuantSpec>{TensorQuantSpec{}};
    const std::vector<TensorQuantSpec> activations = (*m)->activation_specs();
    for (const auto& w : weights) {
      for (const auto& a : activations) {
        OpQuantConfig c;
        c.precision = OpPrecision::kInt8;
        c.mode = mode;
        c.has_weight = has_weight;
        c.weight = w;
        c.activation = a;
        out.push_back(c);
      }
    }
  }
  if (bf16) out.push_back(OpQuantConfig::bf16());
  out.push_back(OpQuantConfig::fp32());
  return out;
}

std::string registry_key(const Node& n) {
  return n.domain.empty() || n.domain == "ai.onnx" ? n.op_type : n.domain + "::" + n.op_type;
}

// Which values of a model are f32 activations: not constants (initializers, Constant outputs),
// and f32 or of unknown type (inference may not cover every op; unknown counts as float).
class FloatActivations {
 public:
  explicit FloatActivations(const Graph& model) {
    Graph copy = model;
    (void)infer_graph_types(copy);  // a failure only leaves fewer types known
    for (const auto& [name, v] : copy.value_info) types_[name] = v.dtype;
    for (const auto& v : copy.inputs) types_[v.name] = v.dtype;
    for (const auto& [name, t] : model.initializers) constants_.insert(name);
    for (const Node& n : model.nodes) {
      if (n.op_type == "Constant" && (n.domain.empty() || n.domain == "ai.onnx")) {
        constants_.insert(n.outputs.begin(), n.outputs.end());
      }
    }
  }
  bool operator()(const std::string& name) const {
    if (name.empty() || constants_.count(name)) return false;
    auto it = types_.find(name);
    return it == types_.end() || it->second == DType::kUndefined || it->second == DType::kF32;
  }

 private:
  std::map<std::string, DType> types_;
  std::set<std::string> constants_;
};

// Whether quantizing `node` would quantize anything: a constant weight, or an f32 activation
// among the inputs its role quantizes (as the QDQ builder plans it). Shape arithmetic on int64
// values (Gather/Unsqueeze/Concat/Mul of a dynamic Reshape's target shape) has none and is not
// worth a place in the tuning space.
template <typename IsFloat>
bool quantizes_something(const Node& node, bool has_weight, const IsFloat& is_float) {
  if (has_weight) return true;
  const QuantOpRole* role = quant_op_role(node.op_type);
  if (!role) return true;  // a non-ONNX op the capability names: keep it as declared
  size_t last = role->all_activations ? node.inputs.size() : std::min<size_t>(1, node.inputs.size());
  if (role->activation_pairs) last = std::max<size_t>(last, std::min<size_t>(2, node.inputs.size()));
  for (size_t i = 0; i < last; ++i) {
    if (is_float(node.inputs[i])) return true;
  }
  return false;
}

}  // namespace

Result<Capability> build_capability(const CapabilitySpec& spec, const Graph& model) {
  Capability cap;
  std::set<std::string> names;
  std::map<std::string, bool> type_has_weight;  // op type -> some node has a constant weight
  const bool bf16_on = spec.supports(OpPrecision::kBf16);
  const FloatActivations is_float(model);
  // Ops inside subgraphs (If branches, Loop bodies) quantize like the main graph's, except where
  // a value name is defined in more than one graph: calibration keys statistics by name.
  const std::vector<ScopedGraph> tree = graph_tree(model);
  std::map<std::string, int> definitions;
  for (const ScopedGraph& sg : tree) {
    for (const auto& name : sg.graph->defined_names()) ++definitions[name];
  }
  auto ambiguous = [&](const Node& n) {
    for (const auto* values : {&n.inputs, &n.outputs}) {
      for (const auto& v : *values) {
        if (!v.empty() && definitions[v] > 1) return true;
      }
    }
    return false;
  };
  // LayerNorm and GELU written out as elementwise ops run as one fp32 op: quantizing their Adds
  // and Muls would only add Q/DQ pairs (and error) inside them. Main graph only: type inference
  // of a subgraph on its own (outer-scope values undeclared) is not safe in libonnx.
  const std::set<std::string> fused_fp32 = fused_fp32_pattern_nodes(model);
  for (const ScopedGraph& sg : tree) {
    for (const Node& node : sg.graph->nodes) {
      const std::string type = registry_key(node);
      const auto it = spec.int8.find(type);
      if (it == spec.int8.end()) continue;
      if (sg.owner && ambiguous(node)) continue;
      if (!sg.owner && fused_fp32.count(node.name)) continue;
      const bool weight_op = has_weight_role(type);
      const bool const_weight = node.inputs.size() > 1 && sg.initializer(node.inputs[1]);
      if (weight_op && !const_weight &&
          (!has_activation_pairs(type) || !it->second.activation_pairs)) {
        continue;
      }
      const bool has_weight = weight_op && const_weight;
      if (!quantizes_something(node, has_weight, [&](const std::string& v) {
            return !sg.initializer(v) && is_float(v);
          })) {
        continue;
      }
      if (!names.insert(node.name).second) {
        return Status::InvalidInput(node.describe() +
                                    ": another quantizable node has the same name (a tune_cfg keys "
                                    "ops by name)");
      }
      const bool bf16 =
          bf16_on && std::find(spec.bf16.begin(), spec.bf16.end(), type) != spec.bf16.end();
      cap.opwise[OpKey{node.name, node.op_type}] = config_list(it->second, has_weight, bf16);
      type_has_weight[type] = type_has_weight[type] || has_weight;
    }
  }
  for (const auto& [type, has_weight] : type_has_weight) {
    const bool bf16 =
        bf16_on && std::find(spec.bf16.begin(), spec.bf16.end(), type) != spec.bf16.end();
    cap.optypewise[type] = config_list(spec.int8.at(type), has_weight, bf16);
  }
  return cap;
}

Result<TuneConfig> default_int8_config(const Capability& cap) {
  TuneConfig cfg;
  for (const auto& [key, list] : cap.opwise) {
    if (list.empty()) {
      return Status::Internal("capability of op '" + key.name + "' (" + key.op_type +
                              ") lists no configs");
    }
    const OpQuantConfig* pick = nullptr;
    auto minmax = [](const OpQuantConfig& c) {
      return c.precision == OpPrecision::kInt8 && c.activation.algorithm == CalibAlgorithm::kMinMax;
    };
    for (const auto& c : list) {
      if (minmax(c) && c.mode == QuantMode::kStatic) {
        pick = &c;
        break;
      }
    }
    for (const auto& c : list) {
      if (!pick && minmax(c)) pick = &c;
    }
    if (!pick) pick = &list.front();
    if (!cfg.ops.emplace(key.name, *pick).second) {
      return Status::InvalidInput("op name '" + key.name +
                                  "' appears twice in the capability (a tune_cfg keys ops by name)");
    }
  }
  return cfg;
}

Status check_tune_config(const TuneConfig& cfg, const Capability& cap) {
  std::map<std::string, std::pair<const OpKey*, const std::vector<OpQuantConfig>*>> by_name;
  for (const auto& [key, list] : cap.opwise) by_name[key.name] = {&key, &list};
  for (const auto& [name, c] : cfg.ops) {
    const auto it = by_name.find(name);
    if (it == by_name.end()) {
      return Status::InvalidInput("tune_cfg op '" + name +
                                  "' is not a quantizable op of the model (not in the capability)");
    }
    const auto& list = *it->second.second;
    // describe() carries exactly the fields that matter for the precision and mode.
    const std::string d = describe(c);
    const bool listed = std::any_of(list.begin(), list.end(),
                                    [&](const OpQuantConfig& e) { return describe(e) == d; });
    if (!listed) {
      return Status::InvalidInput("tune_cfg op '" + name + "' (" + it->second.first->op_type +
                                  "): '" + d + "' is not one of its " +
                                  std::to_string(list.size()) + " capability configs");
    }
  }
  return Status::Ok();
}

}  // namespace qtune
