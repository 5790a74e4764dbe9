// Checkpoint and resume of a tuning run on top of the journal (coordinator/journal.h): what
// identifies a run, opening a fresh or resumed journal in the output directory, and results
// reused from an earlier run's journal. Used by `qtune tune` and `qtune coordinator`.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/graph.h"
#include "common/tuning_config.h"
#include "coordinator/journal.h"
#include "coordinator/tuner.h"
#include "coordinator/tuning_space.h"

namespace qtune {

inline constexpr const char* kJournalFile = "journal.qtj";
inline constexpr const char* kCalibrationStatsFile = "calibration.stats";

// The header a run writes and a resume must match. `data_hash` covers the datasets' configs.
JournalHeader run_journal_header(const TuningConfig& cfg, const Graph& prepared_model,
                                 const TuningSpace& space, const std::string& data_hash);

class Checkpoint {
 public:
  // resume=false: a new journal in `dir` (an old one is replaced). resume=true: the journal in
  // `dir` is read and must describe the same run (allow_goal_change lets the accuracy goal,
  // objective and exit policy differ); a torn last record is cut. kInvalidInput says what
  // differs or where the journal is damaged.
  static Result<std::unique_ptr<Checkpoint>> open(const std::filesystem::path& dir,
                                                  const JournalHeader& header, bool resume,
                                                  bool allow_goal_change);

  // What the resumed journal held (empty when fresh).
  const JournalContents& replayed() const { return replayed_; }
  bool resumed() const { return resumed_; }

  Status record_baseline(const TrialMetrics& m) { return writer_.append_baseline(m); }
  Status record_sensitivity(const std::map<std::string, double>& s) {
    return writer_.append_sensitivity(s);
  }
  Status record_trial(const TrialRecord& t) { return writer_.append_trial(t); }
  Status record_op_errors(const std::map<std::string, OpOutputError>& e) {
    return writer_.append_op_errors(e);
  }
  Status record_run(const RunDescription& r) { return writer_.append_run(r); }
  Status record_end(const RunEnd& e) { return writer_.append_end(e); }

 private:
  Checkpoint(JournalWriter w, JournalContents c, bool resumed)
      : writer_(std::move(w)), replayed_(std::move(c)), resumed_(resumed) {}
  JournalWriter writer_;
  JournalContents replayed_;
  bool resumed_ = false;
};

// Results of an earlier run (its output directory) that this run may take instead of
// evaluating: only when model, tuning config and capability match (goal and strategy may
// differ). Keyed by config hash. kInvalidInput when the journal is unreadable or unrelated.
Result<std::map<std::string, TrialRecord>> reusable_results(const std::filesystem::path& dir,
                                                            const JournalHeader& header);

// Wraps a wave evaluator so trials found in `known` are recorded from there (marked reused)
// and only the rest reach `inner`, keeping the record order of the wave.
WaveEvaluator with_known_results(WaveEvaluator inner,
                                 std::shared_ptr<const std::map<std::string, TrialRecord>> known);

}  // namespace qtune
