// Live progress of `qtune tune` and `qtune coordinator` on stderr. On a terminal: one status
// line (trials done/running/queued, best metric vs goal, workers, elapsed, estimated time left,
// and any calibration or evaluation pass that has run for more than a second) redrawn in place,
// with the log lines scrolling above it. Elsewhere (a log file, a pipe): a plain "progress:"
// line every `period_s`. Nothing with --quiet. Thread-safe: the scheduler's thread logs while
// the main thread evaluates and a ticker thread keeps the clock moving.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>

#include "common/progress.h"

namespace qtune::cli {

// Where the tuning stands.
struct TuneProgress {
  bool started = false;  // trials have begun (before: calibration, baseline, ...)
  int64_t done = 0, running = 0, queued = 0;
  int64_t workers = -1;        // workers connected; -1: trials run in this process
  std::string metric;          // its name
  std::optional<double> best;  // best metric of the trials so far
  bool best_meets_goal = false;
  double target = 0;
  bool higher_is_better = true;
  double trial_seconds = 0;    // summed over the trials timed in this run
  int64_t trials_timed = 0;
  double timeout_s = 0;        // the exit policy's; 0: none
  double tuning_started = 0;   // clock time trials began (for the timeout)
};

// A pass of a long loop (calibration, an evaluation pass), as reported through ProgressFn.
struct PassProgress {
  std::string what;
  int64_t done = 0, total = 0;
  double started = 0;  // clock time of its first report
};

// "8s", "1m05s", "2h03m".
std::string format_duration(double seconds);
// The status text for a moment `now` (same clock as the states; `start` = the command's start).
std::string status_text(const TuneProgress& tune, const std::optional<PassProgress>& pass,
                        double now, double start);
// `text` cut to at most `columns` characters (UTF-8 aware).
std::string fit_columns(const std::string& text, size_t columns);

class Progress {
 public:
  struct Options {
    bool quiet = false;
    bool terminal = false;      // redraw one line in place (stderr is a terminal)
    double period_s = 30;       // elsewhere: seconds between "progress:" lines
    double pass_delay_s = 1;    // passes shorter than this are never shown
    double redraw_s = 0.1;      // a terminal line is redrawn at most this often on updates
    std::function<double()> now;        // seconds; a steady clock when empty
    std::function<size_t()> columns;    // terminal width; stderr's when empty
    bool ticker = true;         // a thread that redraws every 0.25 s; tests call tick()
  };

  // Log lines go to `log`, the status line and "progress:" lines to `status`.
  Progress(Options options, std::ostream& log, std::ostream& status);
  ~Progress();  // stops the ticker and clears the status line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // A log line, printed above the status line. Quiet drops it.
  void log(const std::string& line);
  // One step of a pass; the pass ends when done reaches total.
  void pass(const std::string& what, int64_t done, int64_t total);
  ProgressFn pass_fn() {
    return [this](const std::string& what, int64_t done, int64_t total) { pass(what, done, total); };
  }
  void update(const std::function<void(TuneProgress&)>& change);
  // Called before each tick (not under the progress lock, so it may update()), e.g. to read
  // the scheduler's counts. Replacing it waits for a poll under way, so after set_poll({})
  // the old function is never called again.
  void set_poll(std::function<void()> poll);
  // Redraws the terminal line, or prints a "progress:" line when the period has passed.
  void tick();
  // Removes the status line and stops the ticker (before the final summary).
  void finish();

  double now() const;

 private:
  void draw_locked(bool force);
  void clear_locked();

  Options opt_;
  std::ostream& log_;
  std::ostream& status_;
  double start_ = 0;
  mutable std::mutex mu_;
  TuneProgress tune_;
  std::optional<PassProgress> pass_;
  std::mutex poll_mu_;  // held while polling; taken before mu_, never after
  std::function<void()> poll_;
  bool shown_ = false;       // a status line is on the terminal
  double last_draw_ = -1e18;
  double last_period_line_ = 0;
  bool finished_ = false;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread ticker_;
};

// stderr is a terminal that can redraw a line (not TERM=dumb).
bool stderr_is_terminal();

}  // namespace qtune::cli
