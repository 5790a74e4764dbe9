// The remote worker: a ZeroMQ DEALER that announces itself with READY, receives the run's CONFIG
// and TRIALs, evaluates each with a TrialRunner (loaded and calibrated once per config hash) and
// answers RESULT. Evaluation runs on a second thread so heartbeats keep flowing during a long
// trial. When the coordinator goes silent the worker reconnects with a doubling backoff;
// DISCONNECT without rejoin ends it. docs/protocol.md is the protocol.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/protocol.h"
#include "common/status.h"
#include "worker/file_cache.h"

namespace qtune {

struct WorkerOptions {
  std::string connect;       // tcp://host:port
  int64_t threads = 0;       // evaluation threads; 0: what TBB picks
  int64_t simulate_ms = -1;  // >= 0: sleep this long per trial instead of evaluating
  // Files the run needs are fetched by content hash into this cache ("" = default_cache_dir()),
  // unless shared_path: then the model and data are read at the coordinator's paths. The
  // calibration statistics are fetched either way.
  std::string cache_dir;
  int64_t cache_max_bytes = FileCache::kDefaultQuotaBytes;  // least recently used files go first
  bool shared_path = false;
  // A command metric runs a program the coordinator's config names: only when this is set.
  bool allow_metric_command = false;
  // CURVE (Z85 keys): this worker's secret key and the coordinator's public key; both empty for
  // a plain TCP link.
  std::string curve_secret, curve_server_key;
  ProtocolTiming timing;     // until the coordinator's CONFIG says otherwise
  std::function<void(const std::string&)> log;  // one line per event; defaults to stderr
};

struct WorkerSummary {
  int64_t trials = 0;       // results sent
  int64_t reconnects = 0;
  int64_t fetched_files = 0, fetched_bytes = 0;
  bool job_running = false;  // a dropped trial was still being evaluated when the run ended
};

// Serves trials until the coordinator ends the run. Returns kInvalidInput for a bad endpoint, a
// refused CURVE key, or a file the coordinator cannot send or that arrives corrupt; a
// coordinator that is away is waited for, never an error.
Result<WorkerSummary> run_worker(const WorkerOptions& opts);

// "host:pid": how a worker names itself in READY and in logs.
std::string default_worker_id();

}  // namespace qtune
