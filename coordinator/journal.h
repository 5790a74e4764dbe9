// The tuning journal: an append-only checkpoint in the output directory. A versioned header
// says which search it belongs to; then one record per finished trial (and the baseline,
// sensitivity and per-op output error measurements, what the run tunes for at each start, and
// how it ended), each length-prefixed, checksummed and fsync'd before the trial counts as done.
// Reports are rebuilt from it (qtune report), also for runs that never ended. Reading stops cleanly at a torn last record (a crash mid-write) and refuses a
// journal that is damaged anywhere else, so a resume never misreads a result.
// JournalWriter is not thread-safe; one coordinator owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/file_writer.h"
#include "common/status.h"
#include "common/trial_metrics.h"
#include "coordinator/decision.h"

namespace qtune {

// What a resumed run must share with the journal. The accuracy goal and exit policy live in
// goal_hash so a resume may be allowed to change only those.
struct JournalHeader {
  std::string qtune_version;
  std::string model_hash;       // content of the (prepared) model graph
  std::string config_hash;      // what a trial measures: adaptor, data, metric, approach, constraints
  std::string capability_hash;  // the tuning space the strategy walks
  std::string goal_hash;        // accuracy criterion, objective, exit policy
  std::string strategy;
  uint64_t seed = 0;
};

// What a run tunes for, as its reports name it; appended at every start (a resume may change
// the goal), the last one read counts.
struct RunDescription {
  std::string model, adaptor, strategy, objective, metric;
  AccuracyCriterion criterion;
  ExitPolicy exit_policy;
  struct Op {
    std::string name, op_type;
    int64_t options = 0;  // configs the tuning space offers it
    bool operator==(const Op&) const = default;
  };
  std::vector<Op> ops;  // the tuning space, graph order
  int64_t calibration_samples = 0;
  double calibration_seconds = 0;  // 0 when this start took recorded statistics
  std::vector<std::string> calibration_warnings;

  bool operator==(const RunDescription&) const = default;
};

// How a run ended; absent from the journal of a run that was interrupted.
struct RunEnd {
  std::string stop_reason;
  int64_t evaluated = 0;  // trials evaluated by the run that ended (not replayed or reused)
  double wall_seconds = 0;
  std::string model_out;  // the chosen model's path, empty when nothing was written
  // What the strategy added to the report (Strategy::report); absent from older journals.
  std::string sensitivity_measure;
  std::vector<std::string> strategy_notes;

  bool operator==(const RunEnd&) const = default;
};

struct JournalContents {
  JournalHeader header;
  std::optional<TrialMetrics> baseline;
  std::optional<std::map<std::string, double>> sensitivity;
  std::optional<std::map<std::string, OpOutputError>> op_errors;
  std::optional<RunDescription> run;  // the last start's
  std::optional<RunEnd> end;          // only when nothing was recorded after it
  std::vector<TrialRecord> trials;  // in the order written
  uint64_t valid_bytes = 0;         // the prefix that holds whole, checksummed records
  uint64_t torn_bytes = 0;          // a torn last record after it, dropped
};

// kInvalidInput naming the file and byte offset for anything but a torn tail: bad magic or
// version, a checksum mismatch followed by more data, an undecodable record, a missing header.
Result<JournalContents> read_journal(const std::string& path);

// "what differs" phrases (empty: the same search). allow_goal_change ignores goal_hash.
std::vector<std::string> journal_differences(const JournalHeader& journal,
                                             const JournalHeader& run, bool allow_goal_change);

// Writes through common/file_writer.h's AppendFile: O_APPEND, each record fsync'd, a failed
// append cut back off so the journal always ends at a whole record.
class JournalWriter {
 public:

  // A new journal (replacing any file at path) holding the header.
  static Result<JournalWriter> create(const std::string& path, const JournalHeader& header);
  // Continue a journal read by read_journal: cuts a torn tail at contents.valid_bytes first.
  static Result<JournalWriter> resume(const std::string& path, const JournalContents& contents);

  Status append_baseline(const TrialMetrics& m);
  Status append_sensitivity(const std::map<std::string, double>& s);
  Status append_trial(const TrialRecord& t);
  Status append_op_errors(const std::map<std::string, OpOutputError>& e);
  Status append_run(const RunDescription& r);
  Status append_end(const RunEnd& e);

 private:
  explicit JournalWriter(AppendFile file) : file_(std::move(file)) {}
  Status append(uint32_t kind, const std::string& payload);
  AppendFile file_;
};

}  // namespace qtune
