// `qtune tune CONFIG.yaml`: accuracy-aware tuning; writes model.int8.onnx, best_tune_cfg.yaml and
// report.json to the output directory and prints a summary. Trials run in this process
// (--workers 0), on N local worker processes over loopback (--workers N), or, as
// `qtune coordinator`, on whichever workers connect to --bind.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <thread>

#include "adaptors/calibration.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "common/endpoint.h"
#include "common/file_writer.h"
#include "cli/help.h"
#include "common/onnx_io.h"
#include "common/tune_config_yaml.h"
#include "common/tuning_config.h"
#include "common/protocol.h"
#include "coordinator/checkpoint.h"
#include "coordinator/report.h"
#include "coordinator/run_files.h"
#include "coordinator/scheduler.h"
#include "coordinator/tuner.h"
#include "worker/curve.h"
#include "worker/trial_runner.h"

namespace qtune::cli {
namespace {

// Calibration samples a strategy's per-op sensitivity is measured on: enough for stable
// errors, one quick pass.
constexpr int64_t kSensitivitySamples = 500;
// Samples the report's per-op output errors are measured on: every value of every op's output
// counts, so a few hundred samples give a stable SQNR for a fraction of a trial's time.
constexpr int64_t kOpErrorSamples = 200;
// Seconds between "progress:" lines when stderr is not a terminal.
constexpr double kDefaultProgressPeriod = 30;

// The strategies' per-op measurements, on this run's calibration samples.
class RunnerProbe : public OpProbe {
 public:
  explicit RunnerProbe(const TrialRunner& runner) : runner_(runner) {}
  Result<std::map<std::string, double>> added_error(const TuneConfig& cfg) override {
    return runner_.sensitivity(cfg, kSensitivitySamples);
  }
  Result<std::map<std::string, double>> fallback_gain(const TuneConfig& cfg) override {
    return runner_.fallback_gain(cfg, kSensitivitySamples);
  }

 private:
  const TrialRunner& runner_;
};

Status write_file(const std::filesystem::path& path, const std::string& text) {
  return replace_file(path.string(), text);
}


// Where trials run: here, on local worker processes, or on workers that connect to `bind`.
struct TuneMode {
  std::string command = "tune";
  int64_t local_workers = 0;  // --workers N
  std::string bind;           // qtune coordinator --bind
  ProtocolTiming timing;
  std::string curve_secret;              // Z85; empty: plain TCP
  std::vector<std::string> curve_allow;  // worker public keys (Z85)
  int64_t trial_deadline_ms = 0;         // 0: derived from the baseline (TrialDeadline)
  int64_t max_inflight_bytes = 0;        // 0: SchedulerOptions' default
  bool distributed() const { return local_workers > 0 || !bind.empty(); }
};

// `qtune worker` children on loopback; killed with their parent (PR_SET_PDEATHSIG).
class LocalWorkers {
 public:
  ~LocalWorkers() { stop(0); }

  Status spawn(int64_t n, const std::string& endpoint, int64_t threads, int64_t heartbeat_ms,
               const std::filesystem::path& log_dir) {
    char exe[4096];
    const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return Status::Internal("cannot find this executable (/proc/self/exe)");
    exe[len] = 0;
    const pid_t parent = getpid();
    // The children's options are all on their command line; QTUNE_CACHE or QTUNE_CURVE meant
    // for this container's `qtune worker` must not reach them.
    std::vector<std::string> env = environment_without(worker_option_spec());
    std::vector<char*> envp;
    for (auto& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    // The run's config is this user's own, so its command metric may run on these workers.
    for (int64_t k = 0; k < n; ++k) {
      std::vector<std::string> args = {"qtune", "worker", "--connect", endpoint, "--threads",
                                       std::to_string(threads), "--heartbeat-ms", std::to_string(heartbeat_ms),
                                       "--shared-path", "--allow-metric-command"};
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      const std::string log_path = (log_dir / ("worker-" + std::to_string(k) + ".log")).string();
      const int log_fd = file_ops().open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (log_fd < 0) return Status::InvalidInput(log_path + ": cannot write");
      const pid_t pid = fork();
      if (pid < 0) {
        close(log_fd);
        return Status::Internal("fork failed");
      }
      if (pid == 0) {  // only async-signal-safe calls until exec
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(3);
        dup2(log_fd, STDOUT_FILENO);
        dup2(log_fd, STDERR_FILENO);
        execve(exe, argv.data(), envp.data());
        _exit(3);
      }
      close(log_fd);
      pids_.push_back(pid);
    }
    return Status::Ok();
  }

  // Reaps exited children; the number still running.
  int64_t alive() {
    int64_t n = 0;
    for (pid_t& pid : pids_) {
      if (pid > 0 && waitpid(pid, nullptr, WNOHANG) == pid) pid = -1;
      n += pid > 0;
    }
    return n;
  }

  // Waits up to `grace_s` for the children to leave (they do on DISCONNECT), then kills them.
  void stop(double grace_s) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(grace_s);
    while (alive() > 0 && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (pid_t& pid : pids_) {
      if (pid <= 0) continue;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      pid = -1;
    }
  }

 private:
  std::vector<pid_t> pids_;
};

// Keeps the live status's running/queued counts for trials evaluated in this process (a
// scheduler reports its own through the progress poll).
WaveEvaluator with_progress(WaveEvaluator inner, Progress& progress, bool in_process) {
  if (!in_process) return inner;
  return [inner = std::move(inner), &progress](const std::vector<TrialRecord>& wave, const WaveControl& control) {
    const int64_t n = static_cast<int64_t>(wave.size());
    auto set_left = [&](int64_t left) {
      progress.update([&](TuneProgress& p) {
        p.running = left > 0 ? 1 : 0;
        p.queued = std::max<int64_t>(0, left - 1);
      });
    };
    set_left(n);
    int64_t recorded = 0;
    WaveControl counted = control;
    counted.record = [&](const TrialRecord& t) {
      const bool go_on = control.record(t);
      set_left(go_on ? n - ++recorded : 0);
      return go_on;
    };
    inner(wave, counted);
    set_left(0);
  };
}

Result<int> run_tune(const Args& args, const TuneMode& mode) {
  if (args.positional.size() != 1) return usage_error(mode.command, "expects one CONFIG.yaml");
  const auto wall0 = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  };
  QT_ASSIGN_OR_RETURN(TuningConfig cfg, load_tuning_config(args.positional[0]));
  QT_ASSIGN_OR_RETURN(std::unique_ptr<Strategy> strategy,
                      make_strategy(cfg.strategy, cfg.place("tuning.strategy")));
  const std::filesystem::path out_dir =
      args.has("--out") ? args.get("--out", "") : (cfg.output.empty() ? "qtune-out" : cfg.output);
  const bool json = args.has("--json");
  double progress_period = kDefaultProgressPeriod;
  if (args.has("--progress-every")) {
    const std::string v = args.get("--progress-every", "");
    char* end = nullptr;
    progress_period = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != 0 || !(progress_period > 0)) {
      return Status::InvalidInput("--progress-every: expected a positive number of seconds, got '" + v + "'");
    }
  }

  auto make_out_dir = [&]() -> Status {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) return Status::InvalidInput(out_dir.string() + ": cannot create output directory: " + ec.message());
    return Status::Ok();
  };

  // Log lines and the live status: the scheduler's thread logs too, whole lines under the
  // progress lock, so they never interleave.
  Progress::Options progress_options;
  progress_options.quiet = args.has("--quiet");
  progress_options.terminal = stderr_is_terminal();
  progress_options.period_s = progress_period;
  Progress progress(progress_options, json ? std::cerr : std::cout, std::cerr);
  auto say = [&](const std::string& line) { progress.log(line); };

  // Remote workers may connect while this process calibrates; they get CONFIG (and fetch the
  // run's files) once the calibration statistics exist. A worker then measures the baseline.
  std::unique_ptr<Scheduler> scheduler;
  LocalWorkers local;
  // The status line polls the scheduler: stop that before the scheduler goes, on every path.
  struct StopPolling {
    Progress& progress;
    ~StopPolling() { progress.set_poll({}); }
  } stop_polling{progress};
  if (mode.distributed()) {
    SchedulerOptions so;
    so.bind = mode.local_workers > 0 ? "tcp://127.0.0.1:*" : mode.bind;
    so.config_path = std::filesystem::absolute(cfg.source_path).lexically_normal().string();
    QT_ASSIGN_OR_RETURN(so.hashes, run_hashes(cfg));
    so.timing = mode.timing;
    so.log = [&say](const std::string& line) { say("coordinator: " + line); };
    if (mode.local_workers > 0) so.keep_waiting = [&local] { return local.alive() > 0; };
    so.hold_config = true;
    so.curve_secret = mode.curve_secret;
    so.curve_allow = mode.curve_allow;
    so.deadline.fixed_ms = mode.trial_deadline_ms;
    if (mode.max_inflight_bytes > 0) so.max_inflight_bytes = mode.max_inflight_bytes;
    QT_ASSIGN_OR_RETURN(scheduler, Scheduler::create(so));
    if (mode.local_workers == 0) say("coordinator: listening on " + scheduler->endpoint());
  }

  // Calibration statistics are checkpointed beside the journal; a resume takes them back
  // (only together with the recorded sensitivity, when the strategy needs one: measuring it
  // reads the calibration set).
  const std::filesystem::path stats_path = out_dir / kCalibrationStatsFile;
  // --resume with no journal yet starts the run: a container or batch job that may be restarted
  // passes --resume from its first start on.
  const bool resume = args.has("--resume") && std::filesystem::exists(out_dir / kJournalFile);
  if (args.has("--resume") && !resume) {
    say("no journal in " + out_dir.string() + " yet: --resume starts a new run");
  }
  // A damaged statistics file is recomputed, not fatal: calibration is deterministic, so the
  // journal's results stay valid.
  RunnerSources sources;
  if (resume && std::filesystem::exists(stats_path)) {
    Result<JournalContents> j = read_journal((out_dir / kJournalFile).string());
    if (j.ok() && j->op_errors && (!strategy->needs_sensitivity() || j->sensitivity)) {
      Result<CalibrationStats> stats = load_calibration_stats(stats_path.string());
      if (stats.ok()) {
        sources.stats = std::move(stats).value();
      } else {
        say(stats.status().message() + "; calibrating again");
      }
    }
  }
  bool stats_reused = sources.stats.has_value();
  QT_ASSIGN_OR_RETURN(std::unique_ptr<TrialRunner> runner,
                      TrialRunner::create(cfg, sources, progress.pass_fn()));
  if (stats_reused && runner->session().stats.model_hash != graph_content_hash(*runner->session().prepared)) {
    say(stats_path.string() + ": calibration statistics of another model; calibrating again");
    sources.stats.reset();
    stats_reused = false;
    QT_ASSIGN_OR_RETURN(runner, TrialRunner::create(cfg, sources, progress.pass_fn()));
  }
  const QuantizationSession& session = runner->session();
  say(stats_reused ? "calibration statistics (" + std::to_string(session.stats.samples) +
                         " samples) taken from " + stats_path.string()
                   : "calibrated " + cfg.model + " on " + std::to_string(session.stats.samples) +
                         " samples in " + fixed(runner->calibration_seconds(), 2) + " s (adaptor " +
                         cfg.adaptor + ")");
  if (scheduler) {
    // Calibration runs once: workers receive these statistics by hash.
    QT_RETURN_IF_ERROR(make_out_dir());
    if (!stats_reused) {
      QT_RETURN_IF_ERROR(save_calibration_stats(session.stats, stats_path.string()));
    }
    QT_ASSIGN_OR_RETURN(std::vector<RunFile> files, run_files(cfg, stats_path.string(), (out_dir / "packed").string()));
    scheduler->publish_files(std::move(files));
  }
  if (mode.local_workers > 0) {
    const int64_t cores = std::max<int64_t>(1, std::thread::hardware_concurrency());
    const int64_t threads = std::max<int64_t>(1, cores / mode.local_workers);
    QT_RETURN_IF_ERROR(local.spawn(mode.local_workers, scheduler->endpoint(), threads,
                                   mode.timing.heartbeat_ms, out_dir));
    say("started " + std::to_string(mode.local_workers) + " local worker(s), " +
        std::to_string(threads) + " thread(s) each, on " + scheduler->endpoint() + " (logs: " +
        (out_dir / "worker-*.log").string() + ")");
  }

  QT_ASSIGN_OR_RETURN(TuningSpace space,
                      build_tuning_space(session.capability, *session.prepared, cfg));
  if (space.ops.empty()) {
    return Status::InvalidInput(cfg.model + ": no op of the model is quantizable by adaptor " +
                                cfg.adaptor);
  }
  // The journal: every finished trial is on disk before it counts; --resume replays it.
  QT_ASSIGN_OR_RETURN(RunHashes journal_hashes, run_hashes(cfg));
  const JournalHeader header =
      run_journal_header(cfg, *session.prepared, space, journal_hashes.data);
  QT_RETURN_IF_ERROR(make_out_dir());
  if (!stats_reused && !scheduler) {
    QT_RETURN_IF_ERROR(save_calibration_stats(runner->session().stats, stats_path.string()));
  }
  QT_ASSIGN_OR_RETURN(std::unique_ptr<Checkpoint> checkpoint,
                      Checkpoint::open(out_dir, header, resume,
                                       args.has("--allow-changed-goal")));
  const JournalContents& replayed = checkpoint->replayed();
  if (checkpoint->resumed()) {
    say("resuming from " + (out_dir / kJournalFile).string() + ": " +
        std::to_string(replayed.trials.size()) + " trial(s) recorded" +
        (replayed.torn_bytes ? ", a torn last record (" + std::to_string(replayed.torn_bytes) +
                                   " bytes) dropped"
                             : std::string()));
  }
  auto known = std::make_shared<std::map<std::string, TrialRecord>>();
  if (args.has("--reuse")) {
    QT_ASSIGN_OR_RETURN(*known, reusable_results(args.get("--reuse", ""), header));
    say("reusing " + std::to_string(known->size()) + " recorded trial result(s) from " +
        args.get("--reuse", ""));
  }

  const std::vector<std::string> calibration_notes = calibration_warnings(session.stats);
  QT_RETURN_IF_ERROR(checkpoint->record_run(describe_run(cfg, space, session.stats.samples,
                                                         runner->calibration_seconds(),
                                                         calibration_notes)));

  TrialMetrics base;
  if (replayed.baseline) {
    base = *replayed.baseline;
  } else {
    QT_ASSIGN_OR_RETURN(base, scheduler ? scheduler->evaluate_baseline() : runner->baseline());
  }
  // Every decision is relative to the baseline: an implausible one ends the run.
  QT_RETURN_IF_ERROR(check_trial_metrics(cfg.metric.name, base).Annotate("the fp32 baseline"));
  if (!replayed.baseline) QT_RETURN_IF_ERROR(checkpoint->record_baseline(base));
  TuningHistory history;
  history.trials = replayed.trials;
  history.baseline_metric = base.metric;
  history.baseline_latency_ms = base.latency_ms;
  history.baseline_latency_error_ms = base.latency_error_ms;
  history.baseline_model_bytes = base.model_bytes;
  say("fp32 baseline: " + cfg.metric.name + " " + fixed(base.metric, 4) + ", " +
      fixed(base.latency_ms, 3) + " ms per batch; " + std::to_string(space.ops.size()) +
      " tunable ops; strategy " + cfg.strategy);
  // Every op's int8 output against fp32, for the report: measured once, checkpointed.
  std::map<std::string, OpOutputError> op_errors;
  std::string measured_in;
  if (replayed.op_errors) {
    op_errors = *replayed.op_errors;
  } else {
    const double t0 = elapsed();
    QT_ASSIGN_OR_RETURN(op_errors, runner->op_output_errors(space.default_config(cfg.calibration_sampling_size),
                                                            kOpErrorSamples));
    QT_RETURN_IF_ERROR(checkpoint->record_op_errors(op_errors));
    measured_in = " (" + fixed(elapsed() - t0, 2) + " s)";
  }
  if (!op_errors.empty()) {
    auto worst = std::min_element(op_errors.begin(), op_errors.end(), [](const auto& a, const auto& b) {
      return a.second.sqnr_db < b.second.sqnr_db;
    });
    say("int8 output of every op vs fp32" + measured_in + ": lowest SQNR " + fixed(worst->second.sqnr_db, 1) +
        " dB at " + worst->first);
  }
  TuneRunOptions opts;
  opts.metric = cfg.metric.name;
  opts.criterion = cfg.criterion;
  opts.exit_policy = cfg.exit_policy;
  opts.objective = cfg.objective;
  opts.calib_sampling_size = cfg.calibration_sampling_size;
  opts.seed = cfg.seed;
  // Sensitivity is measured when a strategy first ranks ops (never, when the first configs
  // pass) and checkpointed; a resume takes the recorded one.
  std::optional<std::map<std::string, double>> measured;
  Status sensitivity_status = Status::Ok();
  if (replayed.sensitivity) {
    space.sensitivity = *replayed.sensitivity;
  } else if (strategy->needs_sensitivity()) {
    opts.sensitivity = [&]() -> const std::map<std::string, double>& {
      if (!measured) {
        say("measuring per-op sensitivity for " + strategy->name() + ": " +
            strategy->sensitivity_measure());
        RunnerProbe probe(*runner);
        Result<std::map<std::string, double>> s = strategy->measure_sensitivity(
            probe, space.default_config(cfg.calibration_sampling_size));
        measured.emplace();
        if (!s.ok()) {
          sensitivity_status = s.status().Annotate("per-op sensitivity");
        } else {
          *measured = std::move(*s);
          sensitivity_status = checkpoint->record_sensitivity(*measured);
        }
      }
      return *measured;
    };
  }
  TuningHistory seen = history;  // for the progress line's best so far
  progress.update([&](TuneProgress& p) {
    p.metric = cfg.metric.name;
    p.target = accuracy_target(cfg.criterion, base.metric);
    p.higher_is_better = cfg.criterion.higher_is_better;
    p.timeout_s = cfg.exit_policy.timeout_seconds;
    p.done = static_cast<int64_t>(seen.trials.size());
  });
  Status journal_status = Status::Ok();
  opts.on_trial = [&](const TrialRecord& t) {
    if (journal_status.ok()) journal_status = checkpoint->record_trial(t);
    seen.trials.push_back(t);
    const std::optional<size_t> best = best_accepted(seen, cfg.criterion, cfg.objective);
    const std::optional<size_t> best_metric = best ? best : best_effort(seen, cfg.criterion);
    progress.update([&](TuneProgress& p) {
      p.done = static_cast<int64_t>(seen.trials.size());
      if (best_metric) p.best = seen.trials[*best_metric].metric;
      p.best_meets_goal = best.has_value();
      if (!t.reused) {
        p.trial_seconds += t.seconds;
        ++p.trials_timed;
      }
    });
    say("trial " + std::to_string(t.index) + " (" + t.stage + "): " +
        (t.ok ? cfg.metric.name + " " + fixed(t.metric, 4) + ", " + fixed(t.latency_ms, 3) + " ms, " +
                    fixed(t.seconds, 2) + " s"
              : "failed: " + t.error));
  };
  WaveEvaluator evaluate =
      scheduler ? WaveEvaluator([&](const std::vector<TrialRecord>& wave, const WaveControl& c) {
        scheduler->evaluate_wave(wave, c);
      })
                : one_by_one([&](const TuneConfig& c) { return runner->evaluate(c); });
  if (!known->empty()) evaluate = with_known_results(std::move(evaluate), known);
  evaluate = with_progress(std::move(evaluate), progress, scheduler == nullptr);
  if (scheduler) {
    progress.set_poll([&progress, sched = scheduler.get()] {
      const SchedulerStatus st = sched->status();
      progress.update([&](TuneProgress& p) {
        p.workers = st.workers;
        p.running = st.running;
        p.queued = st.queued;
      });
    });
  }
  progress.update([&](TuneProgress& p) {
    p.started = true;
    p.tuning_started = progress.now();
  });
  const TuneOutcome outcome =
      run_tuning_waves(space, *strategy, opts, std::move(history), evaluate);
  if (!journal_status.ok()) return journal_status.Annotate("the journal");
  if (!sensitivity_status.ok()) return sensitivity_status;
  if (measured) space.sensitivity = *measured;
  progress.set_poll({});
  std::optional<DistributionReport> distribution;
  if (scheduler) {
    const SchedulerStatus st = scheduler->status();
    scheduler->finish("done");
    const SchedulerDistribution d = scheduler->distribution();
    distribution = DistributionReport{d.workers, d.trials, d.baseline_worker, st.joined, st.lost,
                                      st.requeued, st.dispatched, st.refused, st.dropped, st.expired};
    local.stop(5.0);
    say("coordinator: " + std::to_string(st.dispatched) + " trial(s) dispatched, " +
        std::to_string(st.requeued) + " requeued; " + std::to_string(st.joined) + " worker join(s), " +
        std::to_string(st.lost) + " lost (" + std::to_string(st.expired) + " at the trial deadline); " +
        std::to_string(st.dropped) + " frame(s) dropped" +
        (mode.curve_secret.empty() ? std::string() : "; " + std::to_string(st.refused) + " connection(s) refused"));
    if (outcome.stop_reason == "interrupted") {
      return Status::Internal("every local worker exited before the run ended; see " +
                              (out_dir / "worker-*.log").string());
    }
  }
  QT_RETURN_IF_ERROR(make_out_dir());
  const std::string model_out = (out_dir / "model.int8.onnx").string();
  if (outcome.chosen) {
    const TuneConfig& best = outcome.history.trials[*outcome.chosen].cfg;
    QT_ASSIGN_OR_RETURN(QuantizedModel q, runner->quantize(best));
    QT_RETURN_IF_ERROR(save_onnx_model(*q.graph, model_out));
    QT_RETURN_IF_ERROR(write_file(out_dir / "best_tune_cfg.yaml", tune_config_to_yaml(best)));
  }
  const StrategyContext strategy_ctx{space, cfg.criterion, cfg.calibration_sampling_size, cfg.seed, {}};
  const StrategyReport strategy_report = strategy->report(strategy_ctx, outcome.history);
  // The end record keeps the strategy's notes: `qtune report` has no tuning space to ask it.
  const RunEnd end{outcome.stop_reason, outcome.evaluated, elapsed(), outcome.chosen ? model_out : "",
                   strategy_report.sensitivity_measure, strategy_report.notes};
  QT_RETURN_IF_ERROR(checkpoint->record_end(end));
  const ReportContext context{cfg, space, outcome, runner->calibration_seconds(), end.wall_seconds,
                              end.model_out, distribution, op_errors, calibration_notes,
                              session.stats.samples, strategy_report};
  const ReportData report = report_data(context);
  const std::string report_text = report_json(report);
  QT_RETURN_IF_ERROR(write_file(out_dir / "report.json", report_text));
  QT_RETURN_IF_ERROR(write_file(out_dir / "report.html", report_html(report)));
  progress.finish();
  if (json) {
    std::cout << report_text;
  } else {
    std::cout << report_summary(report) << "report: " << (out_dir / "report.json").string() << ", "
              << (out_dir / "report.html").string() << "\n";
  }
  if (!outcome.goal_met) {
    std::cerr << "qtune tune: no config met the goal (target " << fixed(outcome.target, 4)
              << (cfg.objective == "performance" ? ", faster than fp32" : "") << "); "
              << (outcome.chosen ? "the best effort was written" : "nothing was written") << "\n";
    return 1;
  }
  return 0;
}

// --curve with its key files, or plain TCP: fine on loopback, elsewhere only with --insecure.
Status coordinator_security(const Args& args, TuneMode* mode) {
  if (!args.has("--curve")) {
    if (args.has("--curve-secret") || args.has("--curve-allow")) {
      return Status::InvalidInput("--curve-secret and --curve-allow need --curve");
    }
    if (!mode->bind.empty() && !is_loopback_endpoint(mode->bind) && !args.has("--insecure")) {
      return Status::InvalidInput(
          "--bind " + mode->bind + " accepts connections from other hosts: use --curve --curve-secret "
          "FILE --curve-allow DIR (qtune keygen) so only known workers join and trials travel "
          "encrypted, or --insecure for plain TCP on a trusted network");
    }
    return Status::Ok();
  }
  if (args.has("--insecure")) return Status::InvalidInput("--curve and --insecure exclude each other");
  if (!args.has("--curve-secret") || !args.has("--curve-allow")) {
    return Status::InvalidInput("--curve needs --curve-secret FILE (from qtune keygen) and --curve-allow "
                                "DIR_OR_FILES (the workers' .pub keys)");
  }
  QT_ASSIGN_OR_RETURN(mode->curve_secret, read_curve_key(args.get("--curve-secret", "")));
  QT_ASSIGN_OR_RETURN(mode->curve_allow, read_curve_allow_list(args.get("--curve-allow", "")));
  return Status::Ok();
}

// --trial-deadline-s and --max-inflight-mb, shared by tune and coordinator.
Status flow_options(const Args& args, TuneMode* mode) {
  if (args.has("--trial-deadline-s")) {
    QT_ASSIGN_OR_RETURN(int64_t s, positive_int("--trial-deadline-s", args.get("--trial-deadline-s", "")));
    if (s > 7 * 24 * 3600) return Status::InvalidInput("--trial-deadline-s: at most a week (604800)");
    mode->trial_deadline_ms = s * 1000;
  }
  if (args.has("--max-inflight-mb")) {
    QT_ASSIGN_OR_RETURN(int64_t mb, positive_int("--max-inflight-mb", args.get("--max-inflight-mb", "")));
    if (mb > 1 << 20) return Status::InvalidInput("--max-inflight-mb: at most 1048576");
    mode->max_inflight_bytes = mb << 20;
  }
  return Status::Ok();
}

}  // namespace

int cmd_tune(int argc, char** argv) {
  static const OptionSpec spec = option_spec("tune");
  auto args = parse_args_env(argc, argv, 2, spec, process_environment());
  TuneMode mode;
  Result<int> rc = args.status();
  if (args.ok()) {
    const std::string n = args->get("--workers", "0");
    Result<int64_t> workers = n == "0" ? Result<int64_t>(int64_t{0}) : positive_int("--workers", n);
    if (workers.ok()) mode.local_workers = *workers;
    const Status flow = flow_options(*args, &mode);
    rc = !workers.ok() ? Result<int>(workers.status()) : !flow.ok() ? Result<int>(flow) : run_tune(args.value(), mode);
  }
  if (!rc.ok()) {
    std::cerr << "qtune tune: " << rc.status().message() << "\n";
    if (args.ok() && !args->from_env.empty()) std::cerr << env_note(*args) << "\n";
    if (!args.ok()) std::cerr << usage_of("tune") << "\n";
    return rc.status().exit_code();
  }
  return rc.value();
}

int cmd_coordinator(int argc, char** argv) {
  static const OptionSpec spec = [] {
    OptionSpec s = option_spec("coordinator");
    s.exclusive = {{{"--insecure"}, {"--curve", "--curve-secret", "--curve-allow"}}};
    return s;
  }();
  auto args = parse_args_env(argc, argv, 2, spec, process_environment());
  TuneMode mode;
  mode.command = "coordinator";
  Result<int> rc = args.status();
  if (args.ok()) {
    mode.bind = args->get("--bind", "");
    const Status security = coordinator_security(*args, &mode);
    Result<int64_t> hb = args->has("--heartbeat-ms") ? heartbeat_ms(args->get("--heartbeat-ms", ""))
                                                     : Result<int64_t>(mode.timing.heartbeat_ms);
    const Status flow = flow_options(*args, &mode);
    if (mode.bind.empty()) rc = usage_error("coordinator", "needs --bind ENDPOINT");
    else if (!security.ok()) rc = security;
    else if (!hb.ok()) rc = hb.status();
    else if (!flow.ok()) rc = flow;
    else {
      mode.timing.heartbeat_ms = *hb;
      rc = run_tune(args.value(), mode);
    }
  }
  if (!rc.ok()) {
    std::cerr << "qtune coordinator: " << rc.status().message() << "\n";
    if (args.ok() && !args->from_env.empty()) std::cerr << env_note(*args) << "\n";
    if (!args.ok()) std::cerr << usage_of("coordinator") << "\n";
    return rc.status().exit_code();
  }
  return rc.value();
}

}  // namespace qtune::cli
