#include "common/tuning_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/yaml_reader.h"

namespace qtune {
namespace {

std::string resolve(const std::string& config_path, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_absolute()) return p;
  const std::filesystem::path base = std::filesystem::path(config_path).parent_path();
  return base.empty() ? p : (base / path).lexically_normal().string();
}

std::string where(const std::string& file, const YAML::Mark& m) {
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

class TuningParser {
 public:
  explicit TuningParser(const std::string& file) : r_(file) {}

  Status parse(const YAML::Node& root, TuningConfig* c) {
    QT_ASSIGN_OR_RETURN(auto top, r_.read_map(root, "", {"model", "adaptor", "data", "metric",
                                                         "tuning", "quantization", "output"}));
    bool have_model = false, have_data = false;
    for (const auto& [k, v] : top) {
      if (k == "model") {
        QT_ASSIGN_OR_RETURN(c->model, r_.get_string(v, k));
        c->where[k] = where(r_.file(), v.Mark()) + ": " + k;
        have_model = true;
      } else if (k == "adaptor") {
        QT_ASSIGN_OR_RETURN(c->adaptor, r_.get_string(v, k));
        c->where[k] = where(r_.file(), v.Mark()) + ": " + k;
      } else if (k == "data") {
        QT_RETURN_IF_ERROR(parse_data(v, c));
        have_data = true;
      } else if (k == "metric") {
        QT_RETURN_IF_ERROR(parse_metric(v, &c->metric));
      } else if (k == "tuning") {
        QT_RETURN_IF_ERROR(parse_tuning(v, c));
      } else if (k == "quantization") {
        QT_RETURN_IF_ERROR(parse_quantization(v, c));
      } else if (k == "output") {
        QT_ASSIGN_OR_RETURN(c->output, r_.get_string(v, k));
      }
    }
    if (!have_model) return r_.error(root, "model", "missing required key");
    if (!have_data) return r_.error(root, "data", "missing required key");
    if (!criterion_direction_given_) c->criterion.higher_is_better = c->metric.higher_is_better;
    return Status::Ok();
  }

 private:
  Status parse_data(const YAML::Node& n, TuningConfig* c) {
    QT_ASSIGN_OR_RETURN(auto kv, r_.read_map(n, "data", {"calibration", "evaluation"}));
    for (const auto& [k, v] : kv) {
      QT_ASSIGN_OR_RETURN(std::string s, r_.get_string(v, "data." + k));
      (k == "calibration" ? c->calibration_data : c->evaluation_data) = s;
      c->where["data." + k] = where(r_.file(), v.Mark()) + ": data." + k;
    }
    if (c->evaluation_data.empty()) return r_.error(n, "data.evaluation", "missing required key");
    if (c->calibration_data.empty()) {
      c->calibration_data = c->evaluation_data;
      c->where["data.calibration"] = c->where["data.evaluation"];
    }
    return Status::Ok();
  }

  Status parse_metric(const YAML::Node& n, MetricSpec* m) {
    QT_ASSIGN_OR_RETURN(auto kv, r_.read_map(n, "metric", {"name", "k", "command", "timeout_s",
                                                           "output", "threshold",
                                                           "higher_is_better"}));
    std::optional<bool> hib;
    const YAML::Node* k_node = nullptr;
    const YAML::Node* timeout_node = nullptr;
    const YAML::Node* output_node = nullptr;
    const YAML::Node* threshold_node = nullptr;
    for (const auto& [k, v] : kv) {
      const std::string key = "metric." + k;
      if (k == "name") {
        QT_ASSIGN_OR_RETURN(m->name,
                            r_.get_choice(v, key, {"top1", "topk", "mse", "cosine",
                                                   "binary_agreement", "command"}));
      } else if (k == "k") {
        QT_ASSIGN_OR_RETURN(m->k, r_.get_int(v, key));
        if (m->k <= 0) return r_.error(v, key, "must be positive");
        k_node = &v;
      } else if (k == "command") {
        QT_ASSIGN_OR_RETURN(m->command, command_words(v, key));
      } else if (k == "timeout_s") {
        QT_ASSIGN_OR_RETURN(m->timeout_s, r_.get_number(v, key));
        if (!(m->timeout_s > 0) || m->timeout_s > 7 * 24 * 3600) {
          return r_.error(v, key, "must be a positive number of seconds, at most a week");
        }
        timeout_node = &v;
      } else if (k == "output") {
        QT_ASSIGN_OR_RETURN(m->output, r_.get_string(v, key));
        if (m->output.empty()) return r_.error(v, key, "must name a model output");
        output_node = &v;
      } else if (k == "threshold") {
        QT_ASSIGN_OR_RETURN(m->threshold, r_.get_number(v, key));
        if (!std::isfinite(m->threshold)) return r_.error(v, key, "must be a finite number");
        threshold_node = &v;
      } else if (k == "higher_is_better") {
        QT_ASSIGN_OR_RETURN(bool b, r_.get_bool(v, key));
        hib = b;
      }
    }
    if (m->name == "command" && m->command.empty()) {
      return r_.error(n, "metric.command", "missing: the command metric needs a command");
    }
    if (m->name != "command" && !m->command.empty()) {
      return r_.error(n, "metric.command", "only the command metric takes a command");
    }
    if (k_node && m->name != "topk") return r_.error(*k_node, "metric.k", "only topk takes k");
    if (timeout_node && m->name != "command") {
      return r_.error(*timeout_node, "metric.timeout_s", "only the command metric takes a timeout");
    }
    if (output_node && !m->compares_to_fp32()) {
      return r_.error(*output_node, "metric.output",
                      "only metrics that compare with fp32 (mse, cosine, binary_agreement) take "
                      "an output");
    }
    if (threshold_node && m->name != "binary_agreement") {
      return r_.error(*threshold_node, "metric.threshold", "only binary_agreement takes a threshold");
    }
    m->higher_is_better = hib.value_or(m->name != "mse");
    if (hib && m->name != "command" && *hib != (m->name != "mse")) {
      return r_.error(n, "metric.higher_is_better",
                      "contradicts the metric '" + m->name + "' (only command metrics choose)");
    }
    return Status::Ok();
  }

  // The program and its arguments: a list of strings as they are, or a string split at
  // whitespace. No shell sees either, so quotes, $, ` and \ would mean nothing: the string form
  // refuses quotes and backslashes (use the list form for an argument with spaces).
  Result<std::vector<std::string>> command_words(const YAML::Node& v, const std::string& key) {
    std::vector<std::string> words;
    if (v.IsSequence()) {
      for (const YAML::Node& w : v) {
        QT_ASSIGN_OR_RETURN(std::string s, r_.get_string(w, key));
        if (s.find('\0') != std::string::npos) return r_.error(w, key, "an argument holds a NUL byte");
        words.push_back(std::move(s));
      }
    } else {
      QT_ASSIGN_OR_RETURN(const std::string s, r_.get_string(v, key));
      if (s.find_first_of("'\"\\") != std::string::npos) {
        return r_.error(v, key, "the string form is split at spaces and no shell reads it, so quotes and "
                                "backslashes mean nothing; give the command as a list [prog, arg, ...]");
      }
      if (s.find('\0') != std::string::npos) return r_.error(v, key, "holds a NUL byte");
      size_t i = 0;
      while (i < s.size()) {
        const size_t b = s.find_first_not_of(" \t\n\r", i);
        if (b == std::string::npos) break;
        const size_t e = std::min(s.find_first_of(" \t\n\r", b), s.size());
        words.push_back(s.substr(b, e - b));
        i = e;
      }
    }
    if (words.empty()) return r_.error(v, key, "names no program");
    return words;
  }

  Status parse_tuning(const YAML::Node& n, TuningConfig* c) {
    QT_ASSIGN_OR_RETURN(auto kv, r_.read_map(n, "tuning", {"strategy", "accuracy_criterion",
                                                           "exit_policy", "objective", "seed"}));
    for (const auto& [k, v] : kv) {
      const std::string key = "tuning." + k;
      if (k == "strategy") {
        QT_ASSIGN_OR_RETURN(c->strategy, r_.get_string(v, key));
        if (c->strategy.empty()) return r_.error(v, key, "must name a strategy");
        c->where[key] = where(r_.file(), v.Mark()) + ": " + key;
      } else if (k == "objective") {
        QT_ASSIGN_OR_RETURN(c->objective,
                            r_.get_choice(v, key, {"performance", "modelsize", "accuracy"}));
      } else if (k == "seed") {
        QT_ASSIGN_OR_RETURN(int64_t s, r_.get_int(v, key));
        if (s < 0) return r_.error(v, key, "must not be negative");
        c->seed = static_cast<uint64_t>(s);
      } else if (k == "accuracy_criterion") {
        QT_RETURN_IF_ERROR(parse_criterion(v, &c->criterion));
      } else if (k == "exit_policy") {
        QT_ASSIGN_OR_RETURN(auto ep, r_.read_map(v, key, {"timeout", "max_trials"}));
        for (const auto& [ek, ev] : ep) {
          if (ek == "timeout") {
            QT_ASSIGN_OR_RETURN(c->exit_policy.timeout_seconds, r_.get_number(ev, key + ".timeout"));
            if (c->exit_policy.timeout_seconds < 0) {
              return r_.error(ev, key + ".timeout", "must not be negative");
            }
          } else {
            QT_ASSIGN_OR_RETURN(c->exit_policy.max_trials, r_.get_int(ev, key + ".max_trials"));
            if (c->exit_policy.max_trials <= 0) {
              return r_.error(ev, key + ".max_trials", "must be positive");
            }
          }
        }
      }
    }
    return Status::Ok();
  }

  Status parse_criterion(const YAML::Node& n, AccuracyCriterion* a) {
    const std::string key = "tuning.accuracy_criterion";
    QT_ASSIGN_OR_RETURN(auto kv, r_.read_map(n, key, {"relative", "absolute", "higher_is_better"}));
    int kinds = 0;
    for (const auto& [k, v] : kv) {
      if (k == "higher_is_better") {
        QT_ASSIGN_OR_RETURN(a->higher_is_better, r_.get_bool(v, key + "." + k));
        criterion_direction_given_ = true;
        continue;
      }
      ++kinds;
      a->relative = k == "relative";
      QT_ASSIGN_OR_RETURN(a->tolerable_loss, r_.get_number(v, key + "." + k));
      if (a->tolerable_loss < 0) return r_.error(v, key + "." + k, "must not be negative");
      if (a->relative && a->tolerable_loss >= 1) {
        return r_.error(v, key + "." + k, "a relative loss is a fraction below 1 (0.01 is 1%)");
      }
    }
    if (kinds != 1) return r_.error(n, key, "needs exactly one of relative, absolute");
    return Status::Ok();
  }

  Status parse_quantization(const YAML::Node& n, TuningConfig* c) {
    QT_ASSIGN_OR_RETURN(auto kv, r_.read_map(n, "quantization",
                                             {"approach", "calibration_sampling_size",
                                              "op_type_dict", "op_name_dict"}));
    for (const auto& [k, v] : kv) {
      const std::string key = "quantization." + k;
      if (k == "approach") {
        QT_ASSIGN_OR_RETURN(c->approach, r_.get_choice(v, key, {"static", "dynamic"}));
      } else if (k == "calibration_sampling_size") {
        QT_ASSIGN_OR_RETURN(c->calibration_sampling_size, r_.get_int(v, key));
        if (c->calibration_sampling_size <= 0) return r_.error(v, key, "must be positive");
      } else {
        auto& dict = k == "op_type_dict" ? c->op_type_dict : c->op_name_dict;
        QT_ASSIGN_OR_RETURN(auto ops, r_.read_named_map(v, key));
        for (const auto& [name, spec] : ops) {
          QT_RETURN_IF_ERROR(parse_constraint(spec, key + "." + name, &dict[name]));
        }
      }
    }
    return Status::Ok();
  }

  Status parse_constraint(const YAML::Node& n, const std::string& key, OpConstraint* c) {
    c->where = where(r_.file(), n.Mark());
    QT_ASSIGN_OR_RETURN(auto kv, r_.read_map(n, key, {"precision", "weight", "activation"}));
    for (const auto& [k, v] : kv) {
      if (k == "precision") {
        QT_ASSIGN_OR_RETURN(c->precision, r_.get_string_list(v, key + ".precision"));
        for (size_t i = 0; i < c->precision.size(); ++i) {
          const std::string& p = c->precision[i];
          if (p != "int8" && p != "bf16" && p != "fp32") {
            return r_.error(v.IsSequence() ? v[i] : v, key + ".precision",
                            "'" + p + "' is not one of int8, bf16, fp32");
          }
        }
      } else {
        QT_RETURN_IF_ERROR(
            parse_tensor(v, key + "." + k, k == "weight" ? &c->weight : &c->activation));
      }
    }
    return Status::Ok();
  }

  Status parse_tensor(const YAML::Node& n, const std::string& key, TensorConstraint* t) {
    static const std::map<std::string, std::vector<std::string>> kAllowed = {
        {"dtype", {"int8", "uint8"}},
        {"scheme", {"sym", "asym"}},
        {"granularity", {"per_tensor", "per_channel"}},
        {"algorithm", {"minmax", "kl", "percentile", "mse"}}};
    QT_ASSIGN_OR_RETURN(auto kv, r_.read_map(n, key, {"dtype", "scheme", "granularity",
                                                      "algorithm"}));
    for (const auto& [k, v] : kv) {
      std::vector<std::string>& out = k == "dtype"         ? t->dtype
                                      : k == "scheme"      ? t->scheme
                                      : k == "granularity" ? t->granularity
                                                           : t->algorithm;
      QT_ASSIGN_OR_RETURN(out, r_.get_string_list(v, key + "." + k));
      const auto& allowed = kAllowed.at(k);
      for (size_t i = 0; i < out.size(); ++i) {
        if (std::find(allowed.begin(), allowed.end(), out[i]) == allowed.end()) {
          std::string list;
          for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
          return r_.error(v.IsSequence() ? v[i] : v, key + "." + k,
                          "'" + out[i] + "' is not one of " + list);
        }
      }
    }
    return Status::Ok();
  }

  YamlReader r_;
  bool criterion_direction_given_ = false;  // else the metric's direction applies
};

}  // namespace

Result<TuningConfig> load_tuning_config(const std::string& file, const std::string& as_path) {
  const std::string& path = as_path.empty() ? file : as_path;
  QT_ASSIGN_OR_RETURN(YAML::Node root, load_yaml_file(file, "a tuning config YAML file"));
  TuningConfig c;
  c.source_path = path;
  try {
    TuningParser p(path);
    QT_RETURN_IF_ERROR(p.parse(root, &c));
  } catch (const YAML::Exception& e) {
    return YamlReader(path).error(e.mark, "", e.msg);
  }
  c.model = resolve(path, c.model);
  c.calibration_data = resolve(path, c.calibration_data);
  c.evaluation_data = resolve(path, c.evaluation_data);
  if (!c.output.empty()) c.output = resolve(path, c.output);
  return c;
}

}  // namespace qtune
