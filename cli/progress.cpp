#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace qtune::cli {
namespace {

std::string fixed_text(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string metric_text(double v) {
  return std::fabs(v) >= 1 || v == 0 ? fixed_text(v, 2) : [&] {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return std::string(buf);
  }();
}

std::string pass_text(const PassProgress& p, double now) {
  std::string s = p.what + " " + std::to_string(p.done) + "/" + std::to_string(p.total);
  if (p.total > 0) {
    s += " (" + std::to_string(p.done * 100 / p.total) + "%)";
  }
  const double ran = now - p.started;
  if (p.done > 0 && p.total > p.done && ran > 0) {
    s += " ~" + format_duration(ran * static_cast<double>(p.total - p.done) / static_cast<double>(p.done)) + " left";
  }
  return s;
}

size_t stderr_columns() {
  winsize w{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0 && w.ws_col > 0) return w.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    const long n = std::strtol(c, nullptr, 10);
    if (n > 0) return static_cast<size_t>(n);
  }
  return 80;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) seconds = 0;
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  char buf[64];
  if (s < 60) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  }
  return buf;
}

std::string status_text(const TuneProgress& t, const std::optional<PassProgress>& pass, double now,
                        double start) {
  std::vector<std::string> parts;
  if (t.started) {
    std::string trials = "trials " + std::to_string(t.done) + " done";
    if (t.running > 0) trials += ", " + std::to_string(t.running) + " running";
    if (t.queued > 0) trials += ", " + std::to_string(t.queued) + " queued";
    parts.push_back(trials);
    const std::string goal = std::string(t.higher_is_better ? "\u2265 " : "\u2264 ") + metric_text(t.target);
    parts.push_back(t.best ? "best " + t.metric + " " + metric_text(*t.best) + " (goal " + goal +
                                 (t.best_meets_goal ? ": met)" : ": not yet)")
                           : "goal " + t.metric + " " + goal);
    if (t.workers >= 0) parts.push_back(std::to_string(t.workers) + (t.workers == 1 ? " worker" : " workers"));
  }
  parts.push_back(format_duration(now - start));
  if (t.started) {
    const int64_t left = t.running + t.queued;
    if (left > 0 && t.workers != 0) {
      if (t.trials_timed == 0) {
        parts.push_back("wave ETA ?");
      } else {
        const double mean = t.trial_seconds / static_cast<double>(t.trials_timed);
        const double eta = mean * static_cast<double>(left) / static_cast<double>(std::max<int64_t>(1, t.workers));
        const double to_timeout = t.timeout_s > 0 ? t.timeout_s - (now - t.tuning_started) : eta + 1;
        parts.push_back(to_timeout < eta ? "timeout in " + format_duration(to_timeout)
                                         : "wave ETA ~" + format_duration(eta));
      }
    } else if (left > 0) {
      parts.push_back("waiting for a worker");
    }
  }
  if (pass) parts.push_back(pass_text(*pass, now));
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? " \u00b7 " : "") + parts[i];
  return out;
}

std::string fit_columns(const std::string& text, size_t columns) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const bool starts_char = (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    if (starts_char && chars++ == columns) return text.substr(0, i);
  }
  return text;
}

bool stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  return isatty(STDERR_FILENO) == 1 && !(term && std::strcmp(term, "dumb") == 0);
}

Progress::Progress(Options options, std::ostream& log, std::ostream& status)
    : opt_(std::move(options)), log_(log), status_(status) {
  start_ = now();
  last_period_line_ = start_;
  if (!opt_.quiet && opt_.ticker) {
    ticker_ = std::thread([this] {
      std::unique_lock<std::mutex> lk(mu_);
      while (!stop_cv_.wait_for(lk, std::chrono::milliseconds(250), [this] { return stop_; })) {
        lk.unlock();
        tick();
        lk.lock();
      }
    });
  }
}

Progress::~Progress() { finish(); }

double Progress::now() const {
  if (opt_.now) return opt_.now();
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void Progress::log(const std::string& line) {
  std::lock_guard<std::mutex> lk(mu_);
  if (opt_.quiet) return;
  if (shown_) clear_locked();
  log_ << line << std::endl;
  if (opt_.terminal && !finished_) draw_locked(true);
}

void Progress::pass(const std::string& what, int64_t done, int64_t total) {
  std::lock_guard<std::mutex> lk(mu_);
  if (opt_.quiet || finished_) return;
  if (!pass_ || pass_->what != what) pass_ = PassProgress{what, done, total, now()};
  pass_->done = done;
  pass_->total = total;
  if (done >= total) pass_.reset();
  if (opt_.terminal) draw_locked(false);
}

void Progress::update(const std::function<void(TuneProgress&)>& change) {
  std::lock_guard<std::mutex> lk(mu_);
  change(tune_);
  if (opt_.terminal && !opt_.quiet && !finished_) draw_locked(false);
}

void Progress::set_poll(std::function<void()> poll) {
  std::lock_guard<std::mutex> lk(poll_mu_);
  poll_ = std::move(poll);
}

void Progress::tick() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (opt_.quiet || finished_) return;
  }
  {
    std::lock_guard<std::mutex> lk(poll_mu_);
    if (poll_) poll_();
  }
  std::lock_guard<std::mutex> lk(mu_);
  if (finished_) return;
  if (opt_.terminal) {
    draw_locked(true);
    return;
  }
  const double t = now();
  if (t - last_period_line_ < opt_.period_s) return;
  const bool pass_shown = pass_ && t - pass_->started >= opt_.pass_delay_s;
  if (!tune_.started && !pass_shown) return;  // nothing under way worth a line
  last_period_line_ = t;
  status_ << "progress: " << status_text(tune_, pass_shown ? pass_ : std::nullopt, t, start_) << std::endl;
}

void Progress::finish() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (shown_) clear_locked();
    finished_ = true;
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void Progress::draw_locked(bool force) {
  const double t = now();
  if (!force && t - last_draw_ < opt_.redraw_s) return;
  const bool pass_shown = pass_ && t - pass_->started >= opt_.pass_delay_s;
  if (!tune_.started && !pass_shown) {
    if (shown_) clear_locked();
    return;
  }
  last_draw_ = t;
  const size_t columns = opt_.columns ? opt_.columns() : stderr_columns();
  const std::string text = status_text(tune_, pass_shown ? pass_ : std::nullopt, t, start_);
  // One column short of the width: a line that fills it would wrap on some terminals.
  status_ << "\r" << fit_columns(text, columns > 1 ? columns - 1 : columns) << "\x1b[K" << std::flush;
  shown_ = true;
}

void Progress::clear_locked() {
  status_ << "\r\x1b[K" << std::flush;
  shown_ = false;
}

}  // namespace qtune::cli
