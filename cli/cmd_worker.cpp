// `qtune worker --connect tcp://HOST:PORT`: serve a coordinator's trials until it ends the run.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/args.h"
#include "cli/commands.h"
#include "worker/worker_loop.h"

namespace qtune::cli {
namespace {

constexpr const char* kWorkerUsage =
    "usage: qtune worker --connect tcp://HOST:PORT [--threads N] [--simulate-ms MS] [--heartbeat-ms MS]";

Result<int64_t> non_negative_int(const std::string& flag, const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) {
    return Status::InvalidInput(flag + " expects a non-negative integer, got '" + s + "'");
  }
  return v;
}

Result<int> run_worker_command(const Args& args) {
  if (!args.positional.empty() || !args.has("--connect")) return Status::InvalidInput(kWorkerUsage);
  WorkerOptions opts;
  opts.connect = args.get("--connect", "");
  if (args.has("--threads")) {
    QT_ASSIGN_OR_RETURN(opts.threads, positive_int("--threads", args.get("--threads", "")));
  }
  if (args.has("--simulate-ms")) {
    QT_ASSIGN_OR_RETURN(opts.simulate_ms, non_negative_int("--simulate-ms", args.get("--simulate-ms", "")));
  }
  if (args.has("--heartbeat-ms")) {
    QT_ASSIGN_OR_RETURN(opts.timing.heartbeat_ms, positive_int("--heartbeat-ms", args.get("--heartbeat-ms", "")));
  }
  QT_ASSIGN_OR_RETURN(WorkerSummary s, run_worker(opts));
  std::cerr << "worker: " << s.trials << " trial(s) served, " << s.reconnects << " reconnect(s)\n";
  return 0;
}

}  // namespace

int cmd_worker(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--connect", "--threads", "--simulate-ms", "--heartbeat-ms"}, {});
  Result<int> rc = args.ok() ? run_worker_command(args.value()) : Result<int>(args.status());
  if (!rc.ok()) {
    std::cerr << "qtune worker: " << rc.status().message() << "\n";
    if (!args.ok()) std::cerr << kWorkerUsage << "\n";
    return rc.status().exit_code();
  }
  // An abandoned trial may still be running on the evaluation thread: leave without joining it.
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(rc.value());
}

}  // namespace qtune::cli
