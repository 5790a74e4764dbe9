#include "common/data_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <exception>
#include <filesystem>
#include <fstream>
#include <set>
#include <system_error>

#include "common/yaml_reader.h"

namespace qtune {

bool dataset_dtype_from_name(const std::string& name, DType* out) {
  static const std::pair<const char*, DType> kNames[] = {
      {"u8", DType::kU8},   {"s8", DType::kS8},   {"u16", DType::kU16}, {"s16", DType::kS16},
      {"u32", DType::kU32}, {"s32", DType::kS32}, {"u64", DType::kU64}, {"s64", DType::kS64},
      {"f16", DType::kF16}, {"bf16", DType::kBF16}, {"f32", DType::kF32}, {"f64", DType::kF64},
  };
  for (const auto& [n, t] : kNames) {
    if (name == n) {
      *out = t;
      return true;
    }
  }
  return false;
}

std::vector<std::string> DatasetSpec::paths() const {
  std::vector<std::string> out;
  for (const DataInput& in : inputs) out.push_back(in.path);
  if (!labels.empty()) out.push_back(labels);
  return out;
}

bool DataConfig::preprocessed(const DataInput& in) const {
  if (in.name.empty() || dataset.format_of(in) == "images") return true;
  return std::find(preprocess.inputs.begin(), preprocess.inputs.end(), in.name) !=
         preprocess.inputs.end();
}

namespace {

constexpr const char* kDtypeList = "u8, s8, u16, s16, u32, s32, u64, s64, f16, bf16, f32, f64";

// Reads one YAML document into a DataConfig; every error carries FILE:LINE:COL of the node
// it is about so the user can jump straight to it.
class Parser : public YamlReader {
 public:
  explicit Parser(std::string file) : YamlReader(std::move(file)) {}



  Status get_string(const YAML::Node& n, const std::string& key, std::string* out) const {
    if (!n.IsScalar()) return error(n, key, "expected a string, got " + kind(n));
    *out = n.Scalar();
    if (out->empty()) return error(n, key, "must not be empty");
    return Status::Ok();
  }

  Status get_int(const YAML::Node& n, const std::string& key, int64_t* out) const {
    if (!n.IsScalar()) return error(n, key, "expected an integer, got " + kind(n));
    const std::string& s = n.Scalar();
    const char* b = s.data();
    const char* e = s.data() + s.size();
    if (b != e && *b == '+') ++b;
    auto [p, ec] = std::from_chars(b, e, *out);
    if (ec != std::errc() || p != e || b == e) {
      return error(n, key, "expected an integer, got '" + s + "'");
    }
    return Status::Ok();
  }

  Status get_float(const YAML::Node& n, const std::string& key, float* out) const {
    if (!n.IsScalar()) return error(n, key, "expected a number, got " + kind(n));
    const std::string& s = n.Scalar();
    const char* b = s.data();
    const char* e = s.data() + s.size();
    if (b != e && *b == '+') ++b;
    auto [p, ec] = std::from_chars(b, e, *out);
    if (ec != std::errc() || p != e || b == e || !std::isfinite(*out)) {
      return error(n, key, "expected a finite number, got '" + s + "'");
    }
    return Status::Ok();
  }

  // A sequence of numbers, or a single number standing for a one-element list.
  Status get_float_list(const YAML::Node& n, const std::string& key,
                        std::vector<float>* out) const {
    if (n.IsScalar()) {
      float v;
      QT_RETURN_IF_ERROR(get_float(n, key, &v));
      out->assign(1, v);
      return Status::Ok();
    }
    if (!n.IsSequence()) return error(n, key, "expected a list of numbers, got " + kind(n));
    if (n.size() == 0) return error(n, key, "must not be empty");
    out->clear();
    for (size_t i = 0; i < n.size(); ++i) {
      float v;
      QT_RETURN_IF_ERROR(get_float(n[i], key + "[" + std::to_string(i) + "]", &v));
      out->push_back(v);
    }
    return Status::Ok();
  }

  Status get_dtype(const YAML::Node& n, const std::string& key, DType* out) const {
    std::string s;
    QT_RETURN_IF_ERROR(get_string(n, key, &s));
    if (!dataset_dtype_from_name(s, out)) {
      return error(n, key, "'" + s + "' is not one of " + kDtypeList);
    }
    return Status::Ok();
  }

  Status parse(const YAML::Node& root, DataConfig* cfg) const {
    if (!root.IsDefined() || root.IsNull()) {
      return error(root, "", "empty document: expected a mapping with a 'dataset' key");
    }
    std::vector<std::pair<std::string, YAML::Node>> top;
    QT_RETURN_IF_ERROR(read_map(root, "", {"dataset", "preprocess", "batch_size"}, &top));
    bool have_dataset = false;
    for (const auto& [k, v] : top) {
      if (k == "dataset") {
        have_dataset = true;
        QT_RETURN_IF_ERROR(parse_dataset(v, &cfg->dataset));
      } else if (k == "preprocess") {
        QT_RETURN_IF_ERROR(parse_preprocess(v, &cfg->preprocess));
      } else if (k == "batch_size") {
        QT_RETURN_IF_ERROR(get_int(v, k, &cfg->batch_size));
        if (cfg->batch_size <= 0) {
          return error(v, k, "must be positive, got " + std::to_string(cfg->batch_size));
        }
      }
    }
    if (!have_dataset) return error(root, "dataset", "missing required key");
    return check_preprocess_targets(root, *cfg);
  }

  Status get_dims(const YAML::Node& n, const std::string& key, std::vector<int64_t>* out) const {
    out->clear();
    if (n.IsScalar()) {
      int64_t v;
      QT_RETURN_IF_ERROR(get_int(n, key, &v));
      if (v <= 0) return error(n, key, "must be positive, got " + std::to_string(v));
      out->push_back(v);
      return Status::Ok();
    }
    if (!n.IsSequence() || n.size() < 1 || n.size() > 2) {
      return error(n, key, "expected a size or [height, width], got " + kind(n));
    }
    for (size_t i = 0; i < n.size(); ++i) {
      int64_t v;
      const std::string ki = key + "[" + std::to_string(i) + "]";
      QT_RETURN_IF_ERROR(get_int(n[i], ki, &v));
      if (v <= 0) return error(n[i], ki, "must be positive, got " + std::to_string(v));
      out->push_back(v);
    }
    return Status::Ok();
  }

  Status check_format(const YAML::Node& v, const std::string& key, const std::string& f) const {
    if (f != "idx" && f != "npy" && f != "raw" && f != "images") {
      return error(v, key, "'" + f + "' is not one of idx, npy, raw, images");
    }
    return Status::Ok();
  }

  // `inputs: {name: PATH}` or `{name: {file: PATH, format: F, shared: true, batch_axis: A}}`, in
  // document order.
  Status parse_inputs(const YAML::Node& n, std::vector<DataInput>* out) const {
    QT_ASSIGN_OR_RETURN(Entries entries, read_named_map(n, "dataset.inputs"));
    if (entries.empty()) return error(n, "dataset.inputs", "must name at least one model input");
    for (const auto& [name, v] : entries) {
      const std::string key = "dataset.inputs." + name;
      DataInput in;
      in.name = name;
      if (v.IsScalar()) {
        QT_RETURN_IF_ERROR(get_string(v, key, &in.path));
        out->push_back(std::move(in));
        continue;
      }
      std::vector<std::pair<std::string, YAML::Node>> kv;
      QT_RETURN_IF_ERROR(read_map(v, key, {"file", "format", "shared", "batch_axis"}, &kv));
      const YAML::Node* axis_node = nullptr;
      for (const auto& [k, x] : kv) {
        if (k == "file") {
          QT_RETURN_IF_ERROR(get_string(x, key + ".file", &in.path));
        } else if (k == "format") {
          QT_RETURN_IF_ERROR(get_string(x, key + ".format", &in.format));
          QT_RETURN_IF_ERROR(check_format(x, key + ".format", in.format));
        } else if (k == "shared") {
          QT_ASSIGN_OR_RETURN(in.shared, get_bool(x, key + ".shared"));
        } else if (k == "batch_axis") {
          QT_RETURN_IF_ERROR(get_int(x, key + ".batch_axis", &in.batch_axis));
          if (in.batch_axis < 0) return error(x, key + ".batch_axis", "must be 0 or more");
          axis_node = &x;
        }
      }
      if (in.path.empty()) return error(v, key + ".file", "missing required key");
      if (axis_node && in.shared) {
        return error(*axis_node, key + ".batch_axis",
                     "a shared input is fed whole: it has no batch axis");
      }
      out->push_back(std::move(in));
    }
    return Status::Ok();
  }

  Status parse_dataset(const YAML::Node& n, DatasetSpec* d) const {
    std::vector<std::pair<std::string, YAML::Node>> kv;
    QT_RETURN_IF_ERROR(read_map(n, "dataset",
                                {"format", "images", "inputs", "labels", "limit", "shape", "dtype",
                                 "header_bytes", "labels_dtype", "recursive"},
                                &kv));
    const YAML::Node* raw_only = nullptr;
    std::string raw_only_key;
    const YAML::Node* shape_node = nullptr;
    const YAML::Node* images_node = nullptr;
    const YAML::Node* inputs_node = nullptr;
    const YAML::Node* recursive_node = nullptr;
    for (const auto& [k, v] : kv) {
      const std::string key = "dataset." + k;
      if (k == "format") {
        QT_RETURN_IF_ERROR(get_string(v, key, &d->format));
        QT_RETURN_IF_ERROR(check_format(v, key, d->format));
      } else if (k == "images") {
        images_node = &v;
        DataInput in;
        QT_RETURN_IF_ERROR(get_string(v, key, &in.path));
        d->inputs.push_back(std::move(in));
      } else if (k == "inputs") {
        inputs_node = &v;
        QT_RETURN_IF_ERROR(parse_inputs(v, &d->inputs));
      } else if (k == "labels") {
        QT_RETURN_IF_ERROR(get_string(v, key, &d->labels));
      } else if (k == "limit") {
        QT_RETURN_IF_ERROR(get_int(v, key, &d->limit));
        if (d->limit <= 0) return error(v, key, "must be positive, got " + std::to_string(d->limit));
      } else if (k == "recursive") {
        recursive_node = &v;
        QT_ASSIGN_OR_RETURN(d->recursive, get_bool(v, key));
      } else if (k == "shape") {
        shape_node = &v;
        if (!v.IsSequence()) return error(v, key, "expected a list of integers, got " + kind(v));
        if (v.size() < 2 || v.size() > 4) {
          return error(v, key, "expected 2 to 4 dimensions ([H,W], [N,H,W] or [N,C,H,W]), got " +
                                   std::to_string(v.size()));
        }
        d->shape.clear();
        for (size_t i = 0; i < v.size(); ++i) {
          int64_t dim;
          const std::string ki = key + "[" + std::to_string(i) + "]";
          QT_RETURN_IF_ERROR(get_int(v[i], ki, &dim));
          const bool inferable = i == 0 && v.size() >= 3 && dim == -1;
          if (dim <= 0 && !inferable) {
            return error(v[i], ki, "must be positive (only N, the first of 3 or 4, may be -1)");
          }
          d->shape.push_back(dim);
        }
      } else if (k == "dtype") {
        QT_RETURN_IF_ERROR(get_dtype(v, key, &d->dtype));
      } else if (k == "labels_dtype") {
        QT_RETURN_IF_ERROR(get_dtype(v, key, &d->labels_dtype));
        if (dtype_is_float(d->labels_dtype)) {
          return error(v, key, "labels must be an integer type");
        }
      } else if (k == "header_bytes") {
        QT_RETURN_IF_ERROR(get_int(v, key, &d->header_bytes));
        if (d->header_bytes < 0) return error(v, key, "must not be negative");
      }
      if ((k == "shape" || k == "dtype" || k == "header_bytes" || k == "labels_dtype") &&
          !raw_only) {
        raw_only = &v;
        raw_only_key = key;
      }
    }
    if (d->format.empty()) return error(n, "dataset.format", "missing required key");
    if (images_node && inputs_node) {
      return error(*inputs_node, "dataset.inputs",
                   "give either images (one input, the model's first) or inputs, not both");
    }
    if (!images_node && !inputs_node) {
      return error(n, "dataset.images", "missing required key (or dataset.inputs)");
    }
    bool any_raw = false, any_images = false;
    for (DataInput& in : d->inputs) {
      if (in.format.empty()) in.format = d->format;
      any_raw = any_raw || in.format == "raw";
      any_images = any_images || in.format == "images";
    }
    if (any_raw && !shape_node) {
      return error(n, "dataset.shape", "missing required key for format raw");
    }
    if (any_raw && d->inputs.size() > 1) {
      return error(*inputs_node, "dataset.inputs",
                   "format raw describes one file (dataset.shape, dtype): use npy for several "
                   "inputs");
    }
    if (!any_raw && raw_only) {
      return error(*raw_only, raw_only_key,
                   "only used with format raw (format " + d->format + " stores it in the file)");
    }
    if (!any_images && recursive_node) {
      return error(*recursive_node, "dataset.recursive", "only used with format images");
    }
    return Status::Ok();
  }

  Status parse_preprocess(const YAML::Node& n, PreprocessSpec* p) const {
    std::vector<std::pair<std::string, YAML::Node>> kv;
    QT_RETURN_IF_ERROR(read_map(n, "preprocess",
                                {"scale", "mean", "std", "layout", "source_layout", "inputs",
                                 "resize", "center_crop", "color"},
                                &kv));
    const YAML::Node* mean_node = nullptr;
    const YAML::Node* std_node = nullptr;
    for (const auto& [k, v] : kv) {
      const std::string key = "preprocess." + k;
      if (k == "scale") {
        QT_RETURN_IF_ERROR(get_float(v, key, &p->scale));
      } else if (k == "mean") {
        mean_node = &v;
        QT_RETURN_IF_ERROR(get_float_list(v, key, &p->mean));
      } else if (k == "std") {
        std_node = &v;
        QT_RETURN_IF_ERROR(get_float_list(v, key, &p->std));
        for (size_t i = 0; i < p->std.size(); ++i) {
          if (p->std[i] == 0.0f) {
            const YAML::Node& at = v.IsSequence() ? v[i] : v;
            return error(at, v.IsSequence() ? key + "[" + std::to_string(i) + "]" : key,
                         "must not be 0 (it divides)");
          }
        }
      } else if (k == "layout" || k == "source_layout") {
        std::string* out = k == "layout" ? &p->layout : &p->source_layout;
        QT_RETURN_IF_ERROR(get_string(v, key, out));
        if (*out != "NCHW" && *out != "NHWC") {
          return error(v, key, "'" + *out + "' is not one of NCHW, NHWC");
        }
      } else if (k == "inputs") {
        QT_ASSIGN_OR_RETURN(p->inputs, get_string_list(v, key));
      } else if (k == "resize") {
        QT_RETURN_IF_ERROR(get_dims(v, key, &p->resize));
      } else if (k == "center_crop") {
        QT_RETURN_IF_ERROR(get_dims(v, key, &p->center_crop));
      } else if (k == "color") {
        QT_RETURN_IF_ERROR(get_string(v, key, &p->color));
        if (p->color != "RGB" && p->color != "BGR" && p->color != "gray") {
          return error(v, key, "'" + p->color + "' is not one of RGB, BGR, gray");
        }
      }
    }
    if (mean_node && std_node && p->mean.size() != p->std.size()) {
      return error(*std_node, "preprocess.std",
                   "has " + std::to_string(p->std.size()) + " values but preprocess.mean has " +
                       std::to_string(p->mean.size()));
    }
    return Status::Ok();
  }

  // The checks that need both sections: which inputs preprocess names and whether its
  // image-only steps have an image input to act on.
  Status check_preprocess_targets(const YAML::Node& root, const DataConfig& cfg) const {
    const YAML::Node pre = root["preprocess"];
    if (!pre) return Status::Ok();
    const DatasetSpec& d = cfg.dataset;
    if (const YAML::Node names = pre["inputs"]) {
      if (d.inputs.size() == 1 && d.inputs[0].name.empty()) {
        return error(names, "preprocess.inputs",
                     "only used with dataset.inputs (dataset.images is always preprocessed)");
      }
      for (size_t i = 0; i < cfg.preprocess.inputs.size(); ++i) {
        const std::string& name = cfg.preprocess.inputs[i];
        const bool known = std::any_of(d.inputs.begin(), d.inputs.end(),
                                       [&](const DataInput& in) { return in.name == name; });
        if (!known) {
          const YAML::Node& at = names.IsSequence() ? names[i] : names;
          return error(at, "preprocess.inputs", "'" + name + "' is not one of dataset.inputs");
        }
      }
    }
    bool any = false, any_images = false;
    for (const DataInput& in : d.inputs) {
      any = any || cfg.preprocessed(in);
      any_images = any_images || in.format == "images";
    }
    if (!any) {
      return error(pre, "preprocess",
                   "applies to no input: name the dataset.inputs it is for in preprocess.inputs");
    }
    for (const char* k : {"resize", "center_crop", "color"}) {
      if (const YAML::Node v = pre[k]; v && !any_images) {
        return error(v, std::string("preprocess.") + k, "only used with format images");
      }
    }
    return Status::Ok();
  }

 private:

};

std::string resolve(const std::filesystem::path& base, const std::string& p) {
  if (p.empty()) return p;
  std::filesystem::path path(p);
  if (path.is_absolute() || base.empty()) return p;
  return (base / path).lexically_normal().string();
}

}  // namespace

Result<DataConfig> load_data_config(const std::string& yaml_path, const std::string& as_path) {
  Parser parser(yaml_path);
  {
    std::error_code ec;
    if (std::filesystem::is_directory(yaml_path, ec)) {
      return Status::InvalidInput(yaml_path + ": is a directory, expected a data YAML file");
    }
    std::ifstream probe(yaml_path);
    if (!probe) return Status::InvalidInput(yaml_path + ": cannot open data config");
  }
  DataConfig cfg;
  cfg.source_path = yaml_path;
  try {
    YAML::Node root = YAML::LoadFile(yaml_path);
    QT_RETURN_IF_ERROR(parser.parse(root, &cfg));
  } catch (const YAML::Exception& e) {
    return parser.error(e.mark, "", e.msg);
  } catch (const std::exception& e) {
    return Status::InvalidInput(yaml_path + ": " + e.what());
  }
  const std::filesystem::path base = std::filesystem::path(as_path.empty() ? yaml_path : as_path).parent_path();
  for (DataInput& in : cfg.dataset.inputs) in.path = resolve(base, in.path);
  cfg.dataset.labels = resolve(base, cfg.dataset.labels);
  return cfg;
}

}  // namespace qtune
