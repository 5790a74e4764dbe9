#include "cli/progress.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

namespace qtune::cli {
namespace {

// What a terminal shows after `bytes`: \r returns to column 0, ESC[K erases to the end of the
// line, \n starts a new line; anything else overwrites at the cursor.
std::vector<std::string> screen(const std::string& bytes) {
  std::vector<std::string> lines(1);
  size_t col = 0;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const char c = bytes[i];
    std::string& line = lines.back();
    if (c == '\r') {
      col = 0;
    } else if (c == '\n') {
      lines.emplace_back();
      col = 0;
    } else if (c == '\x1b' && bytes.compare(i, 3, "\x1b[K") == 0) {
      line.resize(std::min(line.size(), col));
      i += 2;
    } else {
      if (col < line.size()) line[col] = c;
      else line.push_back(c);
      ++col;
    }
  }
  return lines;
}

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + needle.size())) ++n;
  return n;
}

struct Fixture {
  double clock = 100;
  std::ostringstream out;  // stdout and stderr on one terminal
  Progress::Options options(bool terminal) {
    Progress::Options o;
    o.terminal = terminal;
    o.ticker = false;
    o.period_s = 10;
    o.now = [this] { return clock; };
    o.columns = [] { return size_t{200}; };
    return o;
  }
};

TuneProgress tuning(int64_t done, int64_t running, int64_t queued, int64_t workers) {
  TuneProgress t;
  t.started = true;
  t.done = done;
  t.running = running;
  t.queued = queued;
  t.workers = workers;
  t.metric = "top1";
  t.target = 89.22;
  t.best = 89.71;
  t.best_meets_goal = true;
  t.trial_seconds = 40;
  t.trials_timed = 4;
  return t;
}

TEST(ProgressText, Durations) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(8.4), "8s");
  EXPECT_EQ(format_duration(65), "1m05s");
  EXPECT_EQ(format_duration(7380), "2h03m");
  EXPECT_EQ(format_duration(-3), "0s");
}

TEST(ProgressText, TuningStatusNamesEverything) {
  const std::string s = status_text(tuning(12, 1, 3, 2), std::nullopt, 165, 100);
  EXPECT_EQ(s, "trials 12 done, 1 running, 3 queued \u00b7 best top1 89.71 (goal \u2265 89.22: met) \u00b7 "
               "2 workers \u00b7 1m05s \u00b7 wave ETA ~20s");
  // In-process (no worker count), with a pass under way; lower-is-better goal not met yet.
  TuneProgress t = tuning(3, 1, 0, -1);
  t.higher_is_better = false;
  t.best_meets_goal = false;
  t.target = 0.0012;
  const PassProgress p{"evaluation", 4000, 10000, 160};
  EXPECT_EQ(status_text(t, p, 164, 100),
            "trials 3 done, 1 running \u00b7 best top1 89.71 (goal \u2264 0.0012: not yet) \u00b7 1m04s \u00b7 "
            "wave ETA ~10s \u00b7 evaluation 4000/10000 (40%) ~6s left");
}

TEST(ProgressText, TimeoutCapsTheEstimateAndNoWorkerIsSaid) {
  TuneProgress t = tuning(4, 2, 10, 2);  // 12 left at 10 s each on 2 workers: 60 s
  t.timeout_s = 100;
  t.tuning_started = 100;
  EXPECT_NE(status_text(t, std::nullopt, 150, 100).find("timeout in 50s"), std::string::npos);
  t.workers = 0;
  EXPECT_NE(status_text(t, std::nullopt, 150, 100).find("waiting for a worker"), std::string::npos);
  t = tuning(0, 1, 5, -1);
  t.trials_timed = 0;
  t.best.reset();
  const std::string s = status_text(t, std::nullopt, 100, 100);
  EXPECT_NE(s.find("goal top1 \u2265 89.22"), std::string::npos);
  EXPECT_NE(s.find("wave ETA ?"), std::string::npos);
}

TEST(ProgressText, FitColumnsCountsCharactersNotBytes) {
  EXPECT_EQ(fit_columns("a\u00b7b\u2265c", 3), "a\u00b7b");
  EXPECT_EQ(fit_columns("abc", 10), "abc");
  EXPECT_EQ(fit_columns("abc", 0), "");
}

TEST(ProgressTerminal, RedrawsOneLineInPlaceWithLogLinesAbove) {
  Fixture f;
  {
    Progress p(f.options(true), f.out, f.out);
    p.log("calibrated lenet.onnx");
    p.update([](TuneProgress& t) { t = tuning(1, 1, 2, -1); });
    f.clock += 1;
    p.update([](TuneProgress& t) { t.done = 2; t.queued = 1; });
    p.log("trial 2 (sweep): top1 89.9");
    f.clock += 1;
    p.tick();
    const std::vector<std::string> shown = screen(f.out.str());
    ASSERT_EQ(shown.size(), 3u);
    EXPECT_EQ(shown[0], "calibrated lenet.onnx");
    EXPECT_EQ(shown[1], "trial 2 (sweep): top1 89.9");
    EXPECT_EQ(shown[2].rfind("trials 2 done, 1 running, 1 queued", 0), 0u) << shown[2];
    EXPECT_NE(shown[2].find("2s"), std::string::npos);
    EXPECT_GE(count(f.out.str(), "\r"), 4u);
    EXPECT_GE(count(f.out.str(), "\x1b[K"), 4u);
  }
  // Finishing clears the line: nothing of the status is left on screen.
  const std::vector<std::string> shown = screen(f.out.str());
  EXPECT_EQ(shown.back(), "");
}

TEST(ProgressTerminal, UpdatesBetweenTicksAreRateLimited) {
  Fixture f;
  Progress p(f.options(true), f.out, f.out);
  p.update([](TuneProgress& t) { t = tuning(1, 1, 2, -1); });
  for (int i = 0; i < 50; ++i) p.update([&](TuneProgress& t) { t.done = 1 + i; });
  EXPECT_EQ(count(f.out.str(), "\r"), 1u);
  f.clock += 0.2;
  p.update([](TuneProgress& t) { t.done = 60; });
  EXPECT_EQ(count(f.out.str(), "\r"), 2u);
  EXPECT_NE(screen(f.out.str()).back().find("trials 60 done"), std::string::npos);
}

TEST(ProgressTerminal, PassesShowAfterASecondAndGoWhenDone) {
  Fixture f;
  Progress p(f.options(true), f.out, f.out);
  p.pass("calibration", 200, 2000);
  p.tick();
  EXPECT_EQ(f.out.str(), "");  // under a second: not worth a line
  f.clock += 1.5;
  p.pass("calibration", 1000, 2000);
  EXPECT_EQ(screen(f.out.str()).back(), "2s \u00b7 calibration 1000/2000 (50%) ~2s left");
  f.clock += 1;
  p.pass("calibration", 2000, 2000);
  EXPECT_EQ(screen(f.out.str()).back(), "");
}

TEST(ProgressTerminal, LongLinesAreCutToTheWidth) {
  Fixture f;
  Progress::Options o = f.options(true);
  o.columns = [] { return size_t{30}; };
  Progress p(o, f.out, f.out);
  p.update([](TuneProgress& t) { t = tuning(12, 1, 3, 2); });
  EXPECT_EQ(screen(f.out.str()).back(), "trials 12 done, 1 running, 3 ");  // 29 columns
}

TEST(ProgressPlain, PeriodicLinesWithoutControlCharacters) {
  Fixture f;
  std::ostringstream log;
  Progress p(f.options(false), log, f.out);
  p.log("calibrated");
  p.update([](TuneProgress& t) { t = tuning(1, 1, 2, 2); });
  p.tick();
  EXPECT_EQ(f.out.str(), "");  // within the period
  f.clock += 10;
  p.tick();
  f.clock += 5;
  p.tick();  // within the next period
  f.clock += 5;
  p.update([](TuneProgress& t) { t.done = 3; t.running = 0; t.queued = 0; });
  p.tick();
  EXPECT_EQ(f.out.str(),
            "progress: trials 1 done, 1 running, 2 queued \u00b7 best top1 89.71 (goal \u2265 89.22: met) \u00b7 "
            "2 workers \u00b7 10s \u00b7 wave ETA ~15s\n"
            "progress: trials 3 done \u00b7 best top1 89.71 (goal \u2265 89.22: met) \u00b7 2 workers \u00b7 20s\n");
  EXPECT_EQ(log.str(), "calibrated\n");
  EXPECT_EQ(f.out.str().find('\r'), std::string::npos);
  EXPECT_EQ(f.out.str().find('\x1b'), std::string::npos);
}

TEST(ProgressPlain, NothingUnderWayNoLine) {
  Fixture f;
  Progress p(f.options(false), f.out, f.out);
  f.clock += 100;
  p.tick();
  p.pass("calibration", 10, 2000);  // just started: not shown yet
  p.tick();
  EXPECT_EQ(f.out.str(), "");
  f.clock += 20;
  p.pass("calibration", 1000, 2000);
  p.tick();
  EXPECT_EQ(f.out.str(), "progress: 2m00s \u00b7 calibration 1000/2000 (50%) ~20s left\n");
}

TEST(ProgressQuiet, SaysNothing) {
  Fixture f;
  for (bool terminal : {true, false}) {
    Progress::Options o = f.options(terminal);
    o.quiet = true;
    Progress p(o, f.out, f.out);
    p.log("calibrated");
    p.update([](TuneProgress& t) { t = tuning(1, 1, 2, 2); });
    p.pass("evaluation", 5, 10);
    f.clock += 100;
    p.tick();
    p.finish();
  }
  EXPECT_EQ(f.out.str(), "");
}

TEST(ProgressPoll, RunsBeforeEachTick) {
  Fixture f;
  Progress p(f.options(true), f.out, f.out);
  int polls = 0;
  p.set_poll([&] {
    ++polls;
    p.update([&](TuneProgress& t) { t = tuning(polls, 0, 0, 3); });
  });
  p.tick();
  p.tick();
  EXPECT_EQ(polls, 2);
  EXPECT_NE(screen(f.out.str()).back().find("trials 2 done"), std::string::npos);
  EXPECT_NE(screen(f.out.str()).back().find("3 workers"), std::string::npos);
}

}  // namespace
}  // namespace qtune::cli
