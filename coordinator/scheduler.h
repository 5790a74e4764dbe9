// The coordinator's side of distributed tuning: a ZeroMQ ROUTER that accepts workers at any time
// (READY -> CONFIG), dispatches the current wave's trials lowest index first to idle workers,
// tracks liveness by heartbeat and requeues the trial of a worker that dies, leaves or stops
// answering, or holds a trial past its deadline. Every peer's memory is bounded: high-water
// marks and a frame size limit on the socket, a byte budget for CHUNKs, a cap on pending FETCHes,
// and a cap on frames read per peer per poll (docs/protocol.md, "Flow limits").
// evaluate_wave() is a WaveEvaluator for run_tuning_waves: results are handed back in
// sequence-index order, so the stop decision and the choice equal an in-process run's.
//
// A background thread owns the socket (heartbeats keep flowing while the caller computes);
// evaluate_wave(), status() and the destructor may be called from one other thread.
// docs/protocol.md is the protocol.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "coordinator/tuner.h"

namespace qtune {

// How long a worker may hold one trial. Past it the trial is requeued and the worker told to
// leave (DISCONNECT) and dropped, however faithfully it heartbeats: liveness is per worker, a
// hung evaluation is per trial.
struct TrialDeadline {
  int64_t fixed_ms = 0;  // > 0: this deadline for every trial and the baseline
  // Otherwise `factor` x the longest baseline or trial measured so far (TRIAL sent to RESULT
  // received), at least min_ms; initial_ms until the first measurement.
  int64_t factor = 20;
  int64_t min_ms = int64_t{120} * 1000;
  int64_t initial_ms = int64_t{30} * 60 * 1000;
};

struct SchedulerOptions {
  std::string bind = "tcp://*:5555";
  std::string config_path;  // the tuning YAML workers load (a path they share with us)
  RunHashes hashes;         // sent in CONFIG and with every TRIAL
  ProtocolTiming timing;
  std::function<void(const std::string&)> log;  // worker events; defaults to stderr
  // Polled while a wave waits; false gives up on the wave (e.g. every local worker has exited).
  std::function<bool()> keep_waiting;
  // Files served by hash (FETCH) and listed in CONFIG. With hold_config, READY workers get their
  // CONFIG only once publish_files() has completed the list (e.g. after calibration).
  std::vector<RunFile> files;
  bool hold_config = false;
  // CURVE: the coordinator's Z85 secret key (empty: plain TCP) and the Z85 public keys of the
  // workers a ZAP handler admits; any other key is refused and logged.
  std::string curve_secret;
  std::vector<std::string> curve_allow;
  TrialDeadline deadline;
  // Bytes the coordinator may have queued for sending to all peers together, counted as the
  // last kCoordinatorSendHwm + 1 messages sent to each (an upper bound of what libzmq still
  // holds for it). A CHUNK that would exceed it waits (its FETCH stays pending).
  int64_t max_inflight_bytes = int64_t{64} << 20;
};

struct SchedulerStatus {
  int64_t workers = 0;     // connected now
  int64_t running = 0;     // trials of the current wave on a worker
  int64_t queued = 0;      // trials of the current wave waiting for a worker
  int64_t joined = 0;      // READYs accepted over the run
  int64_t lost = 0;        // workers dropped for silence, leaving or failing
  int64_t requeued = 0;    // trials given to another worker
  int64_t dispatched = 0;  // TRIALs sent
  int64_t dropped = 0;     // frames refused (malformed, wrong version, stale)
  int64_t refused = 0;     // connections refused by the ZAP handler (unknown CURVE key)
  int64_t chunks = 0;      // file CHUNKs sent
  int64_t expired = 0;     // trials taken back from a worker at their deadline
  int64_t throttled = 0;   // FETCHes refused: the peer already had kMaxPendingFetches waiting
  int64_t trial_deadline_ms = 0;  // the deadline in force
  int64_t inflight_bytes = 0;     // the send queues' bound, as the budget counts it
  int64_t peak_inflight_bytes = 0;
};

// Who did what over the run, for the report.
struct SchedulerDistribution {
  std::vector<std::string> workers;             // every worker seen, in join order
  std::map<std::string, int64_t> trials;        // results recorded, by worker
  std::string baseline_worker;                  // who measured the fp32 baseline
};

class Scheduler {
 public:
  static Result<std::unique_ptr<Scheduler>> create(SchedulerOptions opts);
  ~Scheduler();  // finish("done") unless called already
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // The endpoint actually bound ("tcp://0.0.0.0:41234" for "tcp://*:*").
  const std::string& endpoint() const { return endpoint_; }

  void evaluate_wave(const std::vector<TrialRecord>& wave, const WaveControl& control);
  // The fp32 model measured by a worker, like a trial (same threads, same neighbours).
  // kInternal when no worker could do it (keep_waiting gave up).
  Result<TrialMetrics> evaluate_baseline();
  // Completes CONFIG's file list and releases CONFIGs held for it.
  void publish_files(std::vector<RunFile> files);
  SchedulerStatus status() const;
  SchedulerDistribution distribution() const;
  // Sends DISCONNECT to every worker and stops the socket thread. Idempotent.
  void finish(const std::string& reason);

  struct State;

 private:
  Scheduler() = default;
  std::unique_ptr<State> state_;
  std::string endpoint_;
};

}  // namespace qtune
