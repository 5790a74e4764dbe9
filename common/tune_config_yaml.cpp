#include "common/tune_config_yaml.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <charconv>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <vector>

#include "common/yaml_reader.h"

namespace qtune {

namespace {

// Reads one tune_cfg document; every error carries FILE:LINE:COL of the node it is about.
class Parser : public YamlReader {
 public:
  explicit Parser(std::string file) : YamlReader(std::move(file)) {}


  using Entry = YamlEntry;

  template <typename T, typename Parse>
  Status get_enum(const YAML::Node& n, const std::string& path, Parse parse, const char* allowed,
                  T* out) const {
    if (!n.IsScalar()) return error(n, path, "expected one of " + std::string(allowed) +
                                                 ", got " + kind(n));
    if (!parse(n.Scalar(), out)) {
      return error(n, path, "'" + n.Scalar() + "' is not one of " + allowed);
    }
    return Status::Ok();
  }

  Status parse(const YAML::Node& root, TuneConfig* cfg) const {
    if (!root.IsDefined() || root.IsNull()) {
      return error(root, "", "empty document: expected a mapping with an 'ops' key");
    }
    std::vector<Entry> top;
    QT_RETURN_IF_ERROR(read_map(root, "", {"calib_sampling_size", "ops"}, &top));
    bool have_ops = false;
    for (const auto& e : top) {
      if (e.name == "calib_sampling_size") {
        const std::string& s = e.value.IsScalar() ? e.value.Scalar() : std::string();
        int64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (!e.value.IsScalar() || s.empty() || ec != std::errc() || p != s.data() + s.size()) {
          return error(e.value, e.name, "expected an integer, got " + kind(e.value));
        }
        if (v <= 0) return error(e.value, e.name, "must be positive, got " + s);
        cfg->calib_sampling_size = v;
      } else {
        have_ops = true;
        std::vector<Entry> ops;
        QT_RETURN_IF_ERROR(read_map(e.value, "ops", nullptr, &ops));
        for (const auto& op : ops) {
          QT_RETURN_IF_ERROR(parse_op(op.value, "ops." + op.name, &cfg->ops[op.name]));
        }
      }
    }
    if (!have_ops) return error(root, "ops", "missing required key");
    return Status::Ok();
  }

 private:
  Status parse_op(const YAML::Node& n, const std::string& path, OpQuantConfig* c) const {
    std::vector<Entry> kv;
    QT_RETURN_IF_ERROR(read_map(n, path, {"precision", "mode", "weight", "activation"}, &kv));
    bool have_precision = false, have_mode = false, have_activation = false;
    for (const auto& e : kv) {
      if (e.name == "precision") {
        have_precision = true;
        QT_RETURN_IF_ERROR(get_enum(e.value, path + ".precision", parse_precision,
                                    "int8, bf16, fp32", &c->precision));
      }
    }
    if (!have_precision) return error(n, path + ".precision", "missing required key");
    for (const auto& e : kv) {
      const std::string key = path + "." + e.name;
      if (e.name == "precision") continue;
      if (c->precision != OpPrecision::kInt8) {
        return error(e.key, key, "only int8 ops take mode, weight and activation (precision is " +
                                     to_string(c->precision) + ")");
      }
      if (e.name == "mode") {
        have_mode = true;
        QT_RETURN_IF_ERROR(get_enum(e.value, key, parse_mode, "static, dynamic", &c->mode));
      } else if (e.name == "weight") {
        c->has_weight = true;
        QT_RETURN_IF_ERROR(parse_side(e.value, key, &c->weight));
      } else if (e.name == "activation") {
        have_activation = true;
        QT_RETURN_IF_ERROR(parse_side(e.value, key, &c->activation));
      }
    }
    if (c->precision == OpPrecision::kInt8) {
      if (!have_mode) return error(n, path + ".mode", "missing required key for an int8 op");
      if (!have_activation) {
        return error(n, path + ".activation", "missing required key for an int8 op");
      }
    }
    return Status::Ok();
  }

  Status parse_side(const YAML::Node& n, const std::string& path, TensorQuantSpec* t) const {
    std::vector<Entry> kv;
    QT_RETURN_IF_ERROR(read_map(n, path, {"dtype", "scheme", "granularity", "algorithm"}, &kv));
    std::set<std::string> have;
    for (const auto& e : kv) {
      const std::string key = path + "." + e.name;
      have.insert(e.name);
      if (e.name == "dtype") {
        QT_RETURN_IF_ERROR(get_enum(e.value, key, parse_quant_dtype, "int8, uint8", &t->dtype));
      } else if (e.name == "scheme") {
        QT_RETURN_IF_ERROR(get_enum(e.value, key, parse_scheme, "sym, asym", &t->scheme));
      } else if (e.name == "granularity") {
        QT_RETURN_IF_ERROR(get_enum(e.value, key, parse_granularity, "per_tensor, per_channel",
                                    &t->granularity));
      } else if (e.name == "algorithm") {
        QT_RETURN_IF_ERROR(get_enum(e.value, key, parse_algorithm, "minmax, kl, percentile, mse",
                                    &t->algorithm));
      }
    }
    for (const char* k : {"dtype", "scheme", "granularity", "algorithm"}) {
      if (!have.count(k)) return error(n, path + "." + k, "missing required key");
    }
    return Status::Ok();
  }


};

// Node names go out plain when YAML would read them back unchanged, double-quoted otherwise.
std::string yaml_key(const std::string& s) {
  bool plain = !s.empty() && s != "null" && s != "Null" && s != "NULL" && s != "~";
  for (size_t i = 0; plain && i < s.size(); ++i) {
    const unsigned char c = s[i];
    const bool ok = std::isalnum(c) || c == '_' || c == '/' || c == '.' || (i > 0 && c == '-');
    plain = ok;
  }
  if (plain) return s;
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string side_to_yaml(const TensorQuantSpec& t) {
  return std::string("{dtype: ") + (t.dtype == DType::kU8 ? "uint8" : "int8") +
         ", scheme: " + to_string(t.scheme) + ", granularity: " + to_string(t.granularity) +
         ", algorithm: " + to_string(t.algorithm) + "}";
}

}  // namespace

Result<TuneConfig> parse_tune_config(const std::string& text, const std::string& source_name) {
  Parser parser(source_name);
  TuneConfig cfg;
  try {
    const YAML::Node root = YAML::Load(text);
    QT_RETURN_IF_ERROR(parser.parse(root, &cfg));
  } catch (const YAML::Exception& e) {
    return parser.error(e.mark, "", e.msg);
  } catch (const std::exception& e) {
    return Status::InvalidInput(source_name + ": " + e.what());
  }
  return cfg;
}

Result<TuneConfig> load_tune_config(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status::InvalidInput(path + ": is a directory, expected a tune_cfg YAML file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidInput(path + ": cannot open tune_cfg");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::InvalidInput(path + ": cannot read tune_cfg");
  return parse_tune_config(text.str(), path);
}

std::string tune_config_to_yaml(const TuneConfig& cfg) {
  std::string out = "calib_sampling_size: " + std::to_string(cfg.calib_sampling_size) + "\n";
  if (cfg.ops.empty()) return out + "ops: {}\n";
  out += "ops:\n";
  for (const auto& [name, c] : cfg.ops) {
    out += "  " + yaml_key(name) + ": {precision: " + to_string(c.precision);
    if (c.precision == OpPrecision::kInt8) {
      out += ", mode: " + to_string(c.mode);
      if (c.has_weight) out += ", weight: " + side_to_yaml(c.weight);
      out += ", activation: " + side_to_yaml(c.activation);
    }
    out += "}\n";
  }
  return out;
}

}  // namespace qtune
