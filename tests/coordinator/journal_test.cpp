// The journal survives crashes exactly: round trips are bit-exact, a torn tail at any byte is
// dropped, damage elsewhere is refused, and a resumed tuning run replays recorded trials and
// makes the uninterrupted run's choice.
#include "coordinator/journal.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>

#include "coordinator/checkpoint.h"
#include "coordinator/strategy.h"
#include "coordinator/tuner.h"
#include "tests/common/faulty_file_ops.h"

namespace qtune {
namespace {

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("qtune-journal-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / kJournalFile).string();
    header_.qtune_version = "qtune test";
    header_.model_hash = "m1";
    header_.config_hash = "c1";
    header_.capability_hash = "k1";
    header_.goal_hash = "g1";
    header_.strategy = "basic";
    header_.seed = 7;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static TrialRecord trial(int64_t i) {
    TrialRecord t;
    t.index = i;
    t.stage = "sweep";
    OpQuantConfig c;
    c.precision = i % 2 ? OpPrecision::kInt8 : OpPrecision::kFp32;
    c.has_weight = true;
    t.cfg.ops["op" + std::to_string(i)] = c;
    t.cfg.calib_sampling_size = 100 + i;
    t.hash = t.cfg.hash();
    t.ok = i != 1;
    t.error = t.ok ? "" : "worker died";
    t.metric = 90.0 + 0.1 * static_cast<double>(i) + 1e-13;  // not representable in short text
    t.latency_ms = 1.0 / 3.0 + static_cast<double>(i);
    t.latency_error_ms = 1.0 / 7.0 + static_cast<double>(i);
    t.fp32_ratio = 0.5 + 1.0 / 11.0 * static_cast<double>(i);
    t.fp32_ratio_error = 1.0 / 13.0;
    t.model_bytes = 1000 + i;
    t.seconds = 0.25 * static_cast<double>(i);
    return t;
  }

  void write_three() {
    auto w = JournalWriter::create(path_, header_);
    ASSERT_TRUE(w.ok()) << w.status().message();
    ASSERT_TRUE(w->append_baseline(TrialMetrics{90.5, 2.0 / 3.0, 4096, 0.1}).ok());
    ASSERT_TRUE(w->append_sensitivity({{"op0", 0.125}, {"op1", 1e-7}}).ok());
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(w->append_trial(trial(i)).ok());
  }
  std::string bytes() {
    std::ifstream f(path_, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  }
  void put(const std::string& b) { std::ofstream(path_, std::ios::binary | std::ios::trunc) << b; }

  static void expect_same(const TrialRecord& a, const TrialRecord& b) {
    EXPECT_EQ(a.index, b.index);
    EXPECT_EQ(a.stage, b.stage);
    EXPECT_EQ(a.hash, b.hash);
    EXPECT_EQ(a.cfg.hash(), b.cfg.hash());
    EXPECT_EQ(a.ok, b.ok);
    EXPECT_EQ(a.error, b.error);
    EXPECT_EQ(a.metric, b.metric);  // bit-exact
    EXPECT_EQ(a.latency_ms, b.latency_ms);
    EXPECT_EQ(a.latency_error_ms, b.latency_error_ms);
    EXPECT_EQ(a.fp32_ratio, b.fp32_ratio);
    EXPECT_EQ(a.fp32_ratio_error, b.fp32_ratio_error);
    EXPECT_EQ(a.model_bytes, b.model_bytes);
    EXPECT_EQ(a.seconds, b.seconds);
  }

  std::filesystem::path dir_;
  std::string path_;
  JournalHeader header_;
};

TEST_F(JournalTest, RoundTripIsExact) {
  write_three();
  auto c = read_journal(path_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->header.model_hash, "m1");
  EXPECT_EQ(c->header.seed, 7u);
  ASSERT_TRUE(c->baseline.has_value());
  EXPECT_EQ(c->baseline->latency_ms, 2.0 / 3.0);
  EXPECT_EQ(c->baseline->model_bytes, 4096);
  EXPECT_EQ(c->baseline->latency_error_ms, 0.1);
  ASSERT_TRUE(c->sensitivity.has_value());
  EXPECT_EQ(c->sensitivity->at("op1"), 1e-7);
  ASSERT_EQ(c->trials.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    expect_same(c->trials[i], trial(i));
    EXPECT_TRUE(c->trials[i].reused);
  }
  EXPECT_EQ(c->torn_bytes, 0u);
  EXPECT_EQ(c->valid_bytes, bytes().size());
}

RunDescription sample_run() {
  RunDescription d;
  d.model = "models/m.onnx";
  d.adaptor = "native";
  d.strategy = "basic";
  d.objective = "performance";
  d.metric = "top1";
  d.criterion = {false, 0.5, false};
  d.exit_policy = {12.5, 40};
  d.ops = {{"conv1", "Conv", 5}, {"fc", "Gemm", 3}};
  d.calibration_samples = 300;
  d.calibration_seconds = 1.0 / 7.0;
  d.calibration_warnings = {"calibration: tensor 'x': zero range", "second \"quoted\" <finding>"};
  return d;
}

TEST_F(JournalTest, RunDescriptionOpErrorsAndEndRoundTrip) {
  write_three();
  {
    auto c = read_journal(path_);
    ASSERT_TRUE(c.ok());
    EXPECT_FALSE(c->run || c->op_errors || c->end);  // a journal of an older run has none
    auto w = JournalWriter::resume(path_, *c);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE(w->append_run(sample_run()).ok());
    OpOutputError exact;
    exact.sqnr_db = std::numeric_limits<double>::infinity();
    OpOutputError noisy{17.25, 0.99, 0.125, 0.0188, 1.0 / 3.0};
    ASSERT_TRUE(w->append_op_errors({{"conv1", noisy}, {"fc", exact}}).ok());
    ASSERT_TRUE(w->append_end({"goal met", 3, 12.75, "out/model.int8.onnx", "error the op adds",
                               {"first note", "second note"}}).ok());
  }
  auto c = read_journal(path_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->run && c->op_errors && c->end);
  EXPECT_EQ(*c->run, sample_run());
  EXPECT_EQ(c->op_errors->at("conv1"), (OpOutputError{17.25, 0.99, 0.125, 0.0188, 1.0 / 3.0}));
  EXPECT_TRUE(std::isinf(c->op_errors->at("fc").sqnr_db));
  EXPECT_EQ(*c->end, (RunEnd{"goal met", 3, 12.75, "out/model.int8.onnx", "error the op adds",
                             {"first note", "second note"}}));
  EXPECT_EQ(c->trials.size(), 3u);
}

TEST_F(JournalTest, AnEndFollowedByMoreRecordsIsNoLongerTheEnd) {
  // A finished run resumed with a new goal, then interrupted: its journal describes no end.
  auto w = JournalWriter::create(path_, header_);
  ASSERT_TRUE(w.ok());
  ASSERT_TRUE(w->append_run(sample_run()).ok());
  ASSERT_TRUE(w->append_trial(trial(0)).ok());
  ASSERT_TRUE(w->append_end({"goal met", 1, 2.0, "m.onnx"}).ok());
  auto ended = read_journal(path_);
  ASSERT_TRUE(ended.ok());
  EXPECT_TRUE(ended->end.has_value());
  RunDescription again = sample_run();
  again.criterion.tolerable_loss = 0.25;
  ASSERT_TRUE(w->append_run(again).ok());
  auto restarted = read_journal(path_);
  ASSERT_TRUE(restarted.ok());
  EXPECT_FALSE(restarted->end.has_value());
  EXPECT_EQ(restarted->run->criterion.tolerable_loss, 0.25);  // the last start's description
  ASSERT_TRUE(w->append_end({"timeout", 0, 3.0, "m.onnx"}).ok());
  ASSERT_TRUE(w->append_trial(trial(2)).ok());
  auto more = read_journal(path_);
  ASSERT_TRUE(more.ok());
  EXPECT_FALSE(more->end.has_value());
}

TEST_F(JournalTest, TruncationAtEveryByteNeverMisreads) {
  write_three();
  const std::string full = bytes();
  const auto whole = read_journal(path_);
  ASSERT_TRUE(whole.ok());
  for (size_t cut = 0; cut < full.size(); ++cut) {
    put(full.substr(0, cut));
    auto c = read_journal(path_);
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), StatusCode::kInvalidInput) << cut;
      EXPECT_NE(c.status().message().find(kJournalFile), std::string::npos) << cut;
      continue;
    }
    ASSERT_LE(c->trials.size(), 3u);
    for (size_t i = 0; i < c->trials.size(); ++i) expect_same(c->trials[i], trial(static_cast<int64_t>(i)));
    EXPECT_EQ(c->valid_bytes + c->torn_bytes, cut);
  }
  // Every cut inside the last record: read fine, two trials, the rest reported torn.
  {
    auto w = JournalWriter::create(path_, header_);
    ASSERT_TRUE(w->append_baseline(TrialMetrics{90.5, 2.0 / 3.0, 4096}).ok());
    ASSERT_TRUE(w->append_sensitivity({{"op0", 0.125}, {"op1", 1e-7}}).ok());
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(w->append_trial(trial(i)).ok());
  }
  const size_t last_start = bytes().size();
  for (size_t cut = last_start; cut < full.size(); ++cut) {
    put(full.substr(0, cut));
    auto c = read_journal(path_);
    ASSERT_TRUE(c.ok()) << cut << ": " << c.status().message();
    EXPECT_EQ(c->trials.size(), 2u) << cut;
    EXPECT_EQ(c->valid_bytes, last_start);
    EXPECT_EQ(c->torn_bytes, cut - last_start);
  }
}

TEST_F(JournalTest, FlippedBytesAreDetectedOrDropped) {
  write_three();
  const std::string full = bytes();
  for (size_t at = 0; at < full.size(); ++at) {
    std::string damaged = full;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x5a);
    put(damaged);
    auto c = read_journal(path_);
    if (!c.ok()) {
      EXPECT_EQ(c.status().code(), StatusCode::kInvalidInput);
      continue;
    }
    // Whatever is returned is exactly what was written: a damaged record never reads back.
    for (size_t i = 0; i < c->trials.size(); ++i) expect_same(c->trials[i], trial(static_cast<int64_t>(i)));
    EXPECT_LT(c->trials.size(), 3u) << "byte " << at << " flipped and all three trials survived";
  }
}

TEST_F(JournalTest, ResumeChecksTheHeaderAndCutsATornTail) {
  write_three();
  std::string full = bytes();
  put(full.substr(0, full.size() - 5));  // crash while writing the third trial
  JournalHeader other = header_;
  other.model_hash = "m2";
  other.goal_hash = "g2";
  auto refused = Checkpoint::open(dir_, other, true, false);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("the model (journal m1, now m2)"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("the accuracy goal"), std::string::npos);
  JournalHeader goal_only = header_;
  goal_only.goal_hash = "g2";
  EXPECT_FALSE(Checkpoint::open(dir_, goal_only, true, false).ok());

  auto cp = Checkpoint::open(dir_, goal_only, true, /*allow_goal_change=*/true);
  ASSERT_TRUE(cp.ok()) << cp.status().message();
  ASSERT_EQ((*cp)->replayed().trials.size(), 2u);
  ASSERT_TRUE((*cp)->record_trial(trial(2)).ok());
  cp->reset();
  auto c = read_journal(path_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->trials.size(), 3u);
  expect_same(c->trials[2], trial(2));
  EXPECT_EQ(c->torn_bytes, 0u);

  auto none = Checkpoint::open(dir_ / "nowhere", header_, true, false);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("no journal to resume"), std::string::npos);
}

// The disk fills in the middle of a trial record: the append fails, the partial record is cut,
// and once there is room again the journal goes on and reads back whole. (Before, the partial
// record stayed and the next record after it made the journal unreadable.)
TEST_F(JournalTest, AppendThatFailsHalfWayLeavesAReadableJournal) {
  fault::FaultyFileOps ops;
  ScopedFileOps use(&ops);
  auto w = JournalWriter::create(path_, header_);
  ASSERT_TRUE(w.ok()) << w.status().message();
  EXPECT_TRUE(ops.open_flags.at(0) & O_APPEND);
  EXPECT_GE(ops.dir_fsyncs, 1);  // the new journal's directory entry is durable
  ASSERT_TRUE(w->append_trial(trial(0)).ok());
  ops.space = 10;
  Status full = w->append_trial(trial(1));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.exit_code(), 2);
  EXPECT_NE(full.message().find(path_), std::string::npos) << full.message();
  ops.space = -1;
  ops.fsync_failures = 1;
  EXPECT_FALSE(w->append_trial(trial(1)).ok());
  ASSERT_TRUE(w->append_trial(trial(1)).ok());
  ASSERT_TRUE(w->append_trial(trial(2)).ok());
  auto c = read_journal(path_);
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->trials.size(), 3u);
  for (int i = 0; i < 3; ++i) expect_same(c->trials[i], trial(i));
  EXPECT_EQ(c->torn_bytes, 0u);
}

// A journal whose header cannot be written completely is empty, never a header fragment.
TEST_F(JournalTest, CreateOnAFullDiskLeavesNoHalfHeader) {
  fault::FaultyFileOps ops;
  ops.space = 20;
  ScopedFileOps use(&ops);
  EXPECT_FALSE(JournalWriter::create(path_, header_).ok());
  EXPECT_EQ(bytes(), "");
}

TEST_F(JournalTest, KnownResultsAreRecordedInWaveOrder) {
  auto known = std::make_shared<std::map<std::string, TrialRecord>>();
  std::vector<TrialRecord> wave;
  for (int i = 0; i < 5; ++i) wave.push_back(trial(i));
  (*known)[wave[1].hash] = wave[1];
  (*known)[wave[4].hash] = wave[4];
  std::vector<int64_t> evaluated, recorded;
  std::vector<bool> reused;
  WaveEvaluator inner = [&](const std::vector<TrialRecord>& w, const WaveControl& c) {
    for (const auto& t : w) {
      evaluated.push_back(t.index);
      if (!c.record(t)) return;
    }
  };
  WaveControl control;
  control.out_of_time = [] { return false; };
  control.record = [&](const TrialRecord& t) {
    recorded.push_back(t.index);
    reused.push_back(t.reused);
    return true;
  };
  with_known_results(inner, known)(wave, control);
  EXPECT_EQ(evaluated, (std::vector<int64_t>{0, 2, 3}));
  EXPECT_EQ(recorded, (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(reused, (std::vector<bool>{false, true, false, false, true}));
}

// A fake 8-op model: accuracy drops 0.3 per int8 op among the first three; timing-free.
TuningSpace fake_space() {
  TuningSpace s;
  for (int i = 0; i < 8; ++i) {
    TunableOp op;
    op.key = {"op" + std::to_string(i), "Conv"};
    OpQuantConfig q;
    q.precision = OpPrecision::kInt8;
    q.has_weight = true;
    op.options = {q, OpQuantConfig::bf16(), OpQuantConfig::fp32()};
    s.ops.push_back(op);
  }
  return s;
}

Result<TrialMetrics> fake_eval(const TuneConfig& cfg) {
  TrialMetrics m{80.0, 10.0, 0};
  for (const auto& [name, c] : cfg.ops) {
    if (c.precision == OpPrecision::kInt8) {
      m.latency_ms -= 1.0;
      if (name < "op3") m.metric -= 0.3;
    }
  }
  return m;
}

TEST_F(JournalTest, ResumedRunMatchesTheUninterruptedOne) {
  const TuningSpace space = fake_space();
  TuneRunOptions opts;
  opts.criterion = {true, 0.002, true};  // target 79.84: op0..op2 must leave int8
  opts.objective = "accuracy";
  opts.exit_policy.max_trials = 100;
  auto strategy = make_strategy("basic");
  ASSERT_TRUE(strategy.ok());
  TuningHistory base;
  base.baseline_metric = 80.0;
  base.baseline_latency_ms = 10.0;
  const TuneOutcome full = run_tuning(space, **strategy, opts, base, fake_eval);
  ASSERT_TRUE(full.chosen.has_value());
  const size_t total = full.history.trials.size();
  ASSERT_GE(total, 4u);

  for (size_t k : {size_t{1}, size_t{2}, total / 2, total - 1}) {
    // The run dies after k trials: its journal holds exactly those.
    {
      auto cp = Checkpoint::open(dir_, header_, false, false);
      ASSERT_TRUE(cp.ok());
      TuneRunOptions o = opts;
      size_t seen = 0;
      o.on_trial = [&](const TrialRecord& t) { ASSERT_TRUE((*cp)->record_trial(t).ok()); };
      run_tuning_waves(space, **strategy, o, base,
                       [&](const std::vector<TrialRecord>& wave, const WaveControl& c) {
                         for (TrialRecord t : wave) {
                           if (seen++ >= k) return;  // killed
                           auto m = fake_eval(t.cfg);
                           t.ok = true;
                           t.metric = m->metric;
                           t.latency_ms = m->latency_ms;
                           if (!c.record(t)) return;
                         }
                       });
    }
    auto cp = Checkpoint::open(dir_, header_, true, false);
    ASSERT_TRUE(cp.ok()) << cp.status().message();
    TuningHistory h = base;
    h.trials = (*cp)->replayed().trials;
    ASSERT_EQ(h.trials.size(), k);
    int calls = 0;
    const TuneOutcome resumed = run_tuning(space, **strategy, opts, h, [&](const TuneConfig& c) {
      ++calls;
      return fake_eval(c);
    });
    ASSERT_TRUE(resumed.chosen.has_value());
    EXPECT_EQ(resumed.history.trials[*resumed.chosen].hash, full.history.trials[*full.chosen].hash) << k;
    EXPECT_EQ(resumed.history.trials.size(), total) << k;
    EXPECT_EQ(calls, static_cast<int>(total - k)) << k;
    EXPECT_EQ(resumed.evaluated, static_cast<int64_t>(total - k));
    for (size_t i = 0; i < total; ++i) {
      EXPECT_EQ(resumed.history.trials[i].hash, full.history.trials[i].hash) << k << " " << i;
    }
  }
}

}  // namespace
}  // namespace qtune
