// `qtune bench dispatch`: the coordinator's own cost. A real Scheduler on loopback serves W
// simulated workers (run_worker threads that sleep --simulate-ms per trial instead of
// evaluating); one wave of trials is timed from the moment all W have joined. Reports trials/s,
// the overhead per trial (what a worker spends per trial beyond the simulated work: dispatch,
// two messages, the result's recording) and dispatch efficiency = busy time / (W x wall time).
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/help.h"
#include "coordinator/scheduler.h"
#include "worker/worker_loop.h"

namespace qtune::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct DispatchRow {
  int64_t workers = 0, trials = 0, simulate_ms = 0;
  double wall_s = 0, busy_s = 0;
  double trials_per_s() const { return static_cast<double>(trials) / wall_s; }
  double overhead_ms() const {
    return 1000.0 * wall_s * static_cast<double>(workers) / static_cast<double>(trials) -
           static_cast<double>(simulate_ms);
  }
  double efficiency() const { return busy_s / (static_cast<double>(workers) * wall_s); }
};

Result<DispatchRow> measure(int64_t workers, int64_t trials, int64_t simulate_ms) {
  SchedulerOptions so;
  so.bind = "tcp://127.0.0.1:*";
  so.config_path = "(simulated)";
  so.hashes = {"c", "m", "d", "s"};
  so.log = [](const std::string&) {};
  QT_ASSIGN_OR_RETURN(std::unique_ptr<Scheduler> s, Scheduler::create(so));
  std::vector<std::thread> threads;
  for (int64_t k = 0; k < workers; ++k) {
    threads.emplace_back([endpoint = s->endpoint(), simulate_ms] {
      WorkerOptions w;
      w.connect = endpoint;
      w.simulate_ms = simulate_ms;
      w.log = [](const std::string&) {};
      (void)run_worker(w);
    });
  }
  auto stop = [&] {
    s->finish("done");
    for (auto& t : threads) t.join();
  };
  const auto join_deadline = Clock::now() + std::chrono::seconds(60);
  while (s->status().workers < workers) {
    if (Clock::now() > join_deadline) {
      stop();
      return Status::Internal("only " + std::to_string(s->status().workers) + " of " +
                              std::to_string(workers) + " simulated workers joined in 60 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::vector<TrialRecord> wave(static_cast<size_t>(trials));
  for (int64_t i = 0; i < trials; ++i) {
    wave[i].index = i;
    wave[i].stage = "bench";
    wave[i].cfg.calib_sampling_size = i + 1;  // distinct configs, distinct hashes
    wave[i].hash = wave[i].cfg.hash();
  }
  DispatchRow row{workers, 0, simulate_ms, 0, 0};
  WaveControl control;
  control.out_of_time = [] { return false; };
  control.record = [&](const TrialRecord& t) {
    ++row.trials;
    row.busy_s += t.seconds;
    return true;
  };
  const auto t0 = Clock::now();
  s->evaluate_wave(wave, control);
  row.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  stop();
  if (row.trials != trials) return Status::Internal("only " + std::to_string(row.trials) + " trials recorded");
  return row;
}

Result<std::vector<int64_t>> int_list(const std::string& flag, const std::string& s) {
  std::vector<int64_t> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    QT_ASSIGN_OR_RETURN(int64_t v, positive_int(flag, item));
    out.push_back(v);
  }
  if (out.empty()) return Status::InvalidInput(flag + " expects a comma-separated list of positive integers");
  return out;
}

Result<int> run(const Args& args) {
  if (!args.positional.empty()) return usage_error("bench dispatch", "takes no operand");
  QT_ASSIGN_OR_RETURN(std::vector<int64_t> counts, int_list("--workers", args.get("--workers", "1,2,4,8,64,256")));
  int64_t simulate_ms = 0;
  if (args.get("--simulate-ms", "0") != "0") {
    QT_ASSIGN_OR_RETURN(simulate_ms, positive_int("--simulate-ms", args.get("--simulate-ms", "")));
  }
  QT_ASSIGN_OR_RETURN(int64_t eff_workers, positive_int("--efficiency-workers", args.get("--efficiency-workers", "256")));
  QT_ASSIGN_OR_RETURN(int64_t eff_ms, positive_int("--efficiency-ms", args.get("--efficiency-ms", "1000")));
  const bool json = args.has("--json");

  std::vector<DispatchRow> rows;
  for (int64_t w : counts) {
    const int64_t trials = std::max<int64_t>(400, 8 * w);
    QT_ASSIGN_OR_RETURN(DispatchRow r, measure(w, trials, simulate_ms));
    rows.push_back(r);
    if (!json) {
      std::printf("%4lld workers  %5lld trials of %lld ms  %7.3f s  %8.1f trials/s  overhead %.3f ms/trial\n",
                  static_cast<long long>(w), static_cast<long long>(r.trials), static_cast<long long>(simulate_ms),
                  r.wall_s, r.trials_per_s(), r.overhead_ms());
      std::fflush(stdout);
    }
  }
  QT_ASSIGN_OR_RETURN(DispatchRow eff, measure(eff_workers, 4 * eff_workers, eff_ms));
  if (json) {
    std::cout << "{\n  \"simulate_ms\": " << simulate_ms << ",\n  \"rows\": [\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      const DispatchRow& r = rows[i];
      std::cout << "    {\"workers\": " << r.workers << ", \"trials\": " << r.trials << ", \"wall_s\": "
                << fixed(r.wall_s, 4) << ", \"trials_per_s\": " << fixed(r.trials_per_s(), 1)
                << ", \"overhead_ms_per_trial\": " << fixed(r.overhead_ms(), 4) << "}"
                << (i + 1 < rows.size() ? "," : "") << "\n";
    }
    std::cout << "  ],\n  \"efficiency\": {\"workers\": " << eff.workers << ", \"trials\": " << eff.trials
              << ", \"simulate_ms\": " << eff_ms << ", \"wall_s\": " << fixed(eff.wall_s, 4)
              << ", \"busy_s\": " << fixed(eff.busy_s, 3) << ", \"efficiency\": " << fixed(eff.efficiency(), 4)
              << "}\n}\n";
  } else {
    std::printf("efficiency: %lld workers x %lld trials of %lld ms: wall %.3f s, busy %.1f s, %.4f\n",
                static_cast<long long>(eff.workers), static_cast<long long>(eff.trials / eff.workers),
                static_cast<long long>(eff_ms), eff.wall_s, eff.busy_s, eff.efficiency());
  }
  return 0;
}

}  // namespace

int cmd_bench_dispatch(int argc, char** argv) {
  auto args = parse_args(argc, argv, 3, option_spec("bench dispatch"));
  Result<int> rc = args.ok() ? run(args.value()) : Result<int>(args.status());
  if (!rc.ok()) {
    std::cerr << "qtune bench dispatch: " << rc.status().message() << "\n";
    return rc.status().exit_code();
  }
  return rc.value();
}

}  // namespace qtune::cli
