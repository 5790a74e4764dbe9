#include "coordinator/checkpoint.h"

#include <sstream>

#include "adaptors/calibration.h"
#include "common/quant_config.h"

namespace qtune {
namespace {

std::string list(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + ",";
  return out;
}

// Length-prefixed, so no two argument lists read the same.
std::string words(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += std::to_string(s.size()) + ":" + s;
  return out;
}

std::string constraint_text(const std::map<std::string, OpConstraint>& dict) {
  std::ostringstream o;
  for (const auto& [name, c] : dict) {
    o << name << "{p:" << list(c.precision) << " w:" << list(c.weight.dtype) << list(c.weight.scheme)
      << list(c.weight.granularity) << list(c.weight.algorithm) << " a:" << list(c.activation.dtype)
      << list(c.activation.scheme) << list(c.activation.granularity) << list(c.activation.algorithm)
      << "}";
  }
  return o.str();
}

}  // namespace

JournalHeader run_journal_header(const TuningConfig& cfg, const Graph& prepared_model,
                                 const TuningSpace& space, const std::string& data_hash) {
  JournalHeader h;
  h.qtune_version = "qtune 0.1.0";
  h.model_hash = graph_content_hash(prepared_model);
  std::ostringstream c;
  c << "adaptor=" << cfg.adaptor << ";data=" << data_hash << ";metric=" << cfg.metric.name << ","
    << cfg.metric.k << "," << words(cfg.metric.command);
  if (!cfg.metric.output.empty() || cfg.metric.name == "binary_agreement") {
    c << ",output=" << cfg.metric.output << ",threshold=" << cfg.metric.threshold;
  }
  c << ";approach=" << cfg.approach
    << ";calib=" << cfg.calibration_sampling_size << ";types=" << constraint_text(cfg.op_type_dict)
    << ";names=" << constraint_text(cfg.op_name_dict);
  h.config_hash = fnv1a_hex(c.str());
  std::ostringstream s;
  for (const auto& op : space.ops) {
    s << op.key.name << "/" << op.key.op_type << ":";
    for (const auto& o : op.options) s << describe(o) << "|";
    s << ";";
  }
  h.capability_hash = fnv1a_hex(s.str());
  std::ostringstream g;
  g << cfg.criterion.relative << "," << cfg.criterion.tolerable_loss << ","
    << cfg.criterion.higher_is_better << ";" << cfg.objective << ";"
    << cfg.exit_policy.timeout_seconds << "," << cfg.exit_policy.max_trials;
  h.goal_hash = fnv1a_hex(g.str());
  h.strategy = cfg.strategy;
  h.seed = cfg.seed;
  return h;
}

Result<std::unique_ptr<Checkpoint>> Checkpoint::open(const std::filesystem::path& dir,
                                                     const JournalHeader& header, bool resume,
                                                     bool allow_goal_change) {
  const std::string path = (dir / kJournalFile).string();
  if (!resume) {
    QT_ASSIGN_OR_RETURN(JournalWriter w, JournalWriter::create(path, header));
    JournalContents empty;
    empty.header = header;
    return std::unique_ptr<Checkpoint>(new Checkpoint(std::move(w), std::move(empty), false));
  }
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::InvalidInput(path + ": no journal to resume from (run without --resume first)");
  }
  QT_ASSIGN_OR_RETURN(JournalContents c, read_journal(path));
  const std::vector<std::string> diff = journal_differences(c.header, header, allow_goal_change);
  if (!diff.empty()) {
    std::string msg = path + ": cannot resume: this run differs from the journal in ";
    for (size_t i = 0; i < diff.size(); ++i) msg += (i ? "; " : "") + diff[i];
    if (!allow_goal_change && diff.size() == 1 && diff[0].rfind("the accuracy goal", 0) == 0) {
      msg += " (--allow-changed-goal reuses the recorded results under the new goal)";
    }
    return Status::InvalidInput(msg);
  }
  // Trials must be the run's own prefix: indices 0..n-1 in order.
  for (size_t i = 0; i < c.trials.size(); ++i) {
    if (c.trials[i].index != static_cast<int64_t>(i)) {
      return Status::InvalidInput(path + ": trial record " + std::to_string(i) + " carries index " +
                                  std::to_string(c.trials[i].index) + "; the journal is not one run's");
    }
  }
  QT_ASSIGN_OR_RETURN(JournalWriter w, JournalWriter::resume(path, c));
  return std::unique_ptr<Checkpoint>(new Checkpoint(std::move(w), std::move(c), true));
}

Result<std::map<std::string, TrialRecord>> reusable_results(const std::filesystem::path& dir,
                                                            const JournalHeader& header) {
  const std::string path = (dir / kJournalFile).string();
  QT_ASSIGN_OR_RETURN(JournalContents c, read_journal(path));
  std::vector<std::string> diff;
  if (c.header.model_hash != header.model_hash) diff.push_back("the model");
  if (c.header.capability_hash != header.capability_hash) diff.push_back("the capability");
  // The strategy, seed and goal may differ; what a trial measures may not.
  if (c.header.config_hash != header.config_hash) {
    diff.push_back("the adaptor, data, metric or quantization settings");
  }
  if (!diff.empty()) {
    std::string msg = path + ": cannot reuse results: the earlier run differs in ";
    for (size_t i = 0; i < diff.size(); ++i) msg += (i ? ", " : "") + diff[i];
    return Status::InvalidInput(msg);
  }
  std::map<std::string, TrialRecord> out;
  for (auto& t : c.trials) out.emplace(t.hash, std::move(t));
  return out;
}

WaveEvaluator with_known_results(WaveEvaluator inner,
                                 std::shared_ptr<const std::map<std::string, TrialRecord>> known) {
  return [inner = std::move(inner), known = std::move(known)](const std::vector<TrialRecord>& wave,
                                                                const WaveControl& control) {
    std::vector<TrialRecord> rest;
    for (const auto& t : wave) {
      if (!known->count(t.hash)) rest.push_back(t);
    }
    size_t next = 0;  // the next trial of `wave` to record
    bool open = true;
    // Records every known trial from `next` up to the first one that needs evaluating.
    auto flush_known = [&]() {
      while (open && next < wave.size() && known->count(wave[next].hash)) {
        TrialRecord r = known->at(wave[next].hash);
        r.reused = true;
        open = control.record(r);
        ++next;
      }
    };
    flush_known();
    if (!open) return;
    if (!rest.empty()) {
      WaveControl inner_control;
      inner_control.out_of_time = control.out_of_time;
      inner_control.record = [&](const TrialRecord& r) {
        if (!open) return false;
        open = control.record(r);
        ++next;
        flush_known();
        return open;
      };
      inner(rest, inner_control);
    }
    flush_known();
  };
}

}  // namespace qtune
