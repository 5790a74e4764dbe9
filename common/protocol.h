// The coordinator <-> worker wire protocol: every message, the protocol version and the timing
// constants, defined once. Transport: ZeroMQ ROUTER (coordinator) / DEALER (worker); one frame
// per message (after the ROUTER's identity frame) holding a MessagePack map with string keys.
// docs/protocol.md is the one-page spec. Value types and pure functions; thread-safe.
//
// Every message carries "v" (kProtocolVersion) and "type". decode_message() rejects anything
// else with kInvalidInput: callers log it and drop the frame, so a stray or hostile peer can
// never bring a process down.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "common/status.h"
#include "common/tuning_config.h"

namespace qtune {

// Bumped on any change a peer of the previous version would misread.
constexpr uint32_t kProtocolVersion = 2;
// Frames above this are refused by libzmq (ZMQ_MAXMSGSIZE) and by decode_message().
constexpr size_t kMaxMessageBytes = size_t{16} << 20;
// A READY lists at most this many cached hashes; a longer list is malformed.
constexpr size_t kMaxCachedHashes = 1024;
// A worker names itself in at most this many bytes.
constexpr size_t kMaxWorkerIdBytes = 256;
// A CONFIG names at most this many files.
constexpr size_t kMaxRunFiles = 64;
// File transfer: a CHUNK carries at most this many bytes, far below kMaxMessageBytes so a
// transfer never competes with heartbeats for long.
constexpr int64_t kChunkBytes = int64_t{1} << 20;

// What one peer can make the other buffer (docs/protocol.md, "Flow limits").
// The largest frame a worker sends (READY, RESULT with its error cut to kMaxErrorChars, FETCH,
// HEARTBEAT, DISCONNECT). It is the coordinator's ZMQ_MAXMSGSIZE: libzmq reads a larger
// frame's size header and closes that connection without buffering the frame.
constexpr size_t kMaxWorkerMessageBytes = size_t{64} << 10;
constexpr size_t kMaxErrorChars = 4096;
// High-water marks in messages, per connection (libzmq keeps one queue per peer). The
// coordinator's send HWM is small because CHUNKs are large: a peer that stops reading holds at
// most kCoordinatorSendHwm messages in the coordinator (ROUTER_MANDATORY makes the next send
// fail with EAGAIN instead of queueing it).
constexpr int kCoordinatorSendHwm = 8;
constexpr int kCoordinatorRecvHwm = 64;
constexpr int kWorkerSendHwm = 64;
constexpr int kWorkerRecvHwm = 32;
// FETCHes a worker keeps in flight; the coordinator holds at most kMaxPendingFetches of one
// peer unanswered (while that peer's queue or the byte budget is full) and drops any beyond.
constexpr int kFetchWindow = 4;
constexpr int kMaxPendingFetches = 2 * kFetchWindow;
// The heartbeat intervals --heartbeat-ms and CONFIG accept: below 10 ms heartbeats would crowd
// out the work, above a minute a lost peer goes unnoticed for minutes.
constexpr int64_t kMinHeartbeatMs = 10;
constexpr int64_t kMaxHeartbeatMs = 60 * 1000;

// How often peers prove they are alive and how long silence is tolerated. The coordinator
// announces its values in CONFIG so both sides agree.
struct ProtocolTiming {
  int64_t heartbeat_ms = 1000;     // each side sends HEARTBEAT this often
  int64_t liveness = 3;            // heartbeat intervals of silence before a peer counts as gone
  int64_t reconnect_min_ms = 250;  // a worker's first reconnect delay; doubles per failure
  int64_t reconnect_max_ms = 8000;

  int64_t liveness_ms() const { return heartbeat_ms * liveness; }
};

// Worker -> coordinator, first thing after connecting (and after every reconnect).
struct ReadyMsg {
  std::string worker_id;  // host:pid, for logs
  uint32_t version = kProtocolVersion;
  int64_t threads = 0;                  // threads this worker evaluates with
  std::string isa;                      // CPU features in use (cpu_features().summary())
  std::vector<std::string> cached;      // content hashes the worker already holds loaded
};

// One file of a run, as the coordinator serves it: what it is for, where it lives on the
// coordinator (the key the tuning and data YAMLs use), its content hash and size.
// Roles: "config", "model", "calib_data", "eval_data" (YAMLs), "eval_input" (one per model
// input the evaluation set names), "eval_labels",
// "stats" (calibration statistics, adaptors/calibration.h).
struct RunFile {
  std::string role;
  std::string path;
  std::string hash;  // SHA-256 of the bytes (common/content_hash.h); decoding refuses any other form
  int64_t size = 0;
  // Coordinator only, never sent: the file it serves for this entry when that is not `path`
  // (an image folder goes out packed into one file).
  std::string source;

  bool operator==(const RunFile&) const = default;
};

// Coordinator -> worker, in answer to READY: which tuning run to serve. A worker on a shared
// file system loads the tuning YAML from `path`; any other fetches `files` by hash (FETCH) into
// its cache. Either way the calibration statistics come by hash: workers never calibrate.
struct ConfigMsg {
  std::string config_hash;
  std::string path;
  int64_t heartbeat_ms = 1000;
  int64_t liveness = 3;
  std::vector<RunFile> files;
};

// Coordinator -> worker: evaluate one tune_cfg. The hashes let a worker prove it measures the
// same model, data and calibration as the coordinator.
struct TrialMsg {
  int64_t index = 0;        // the trial's sequence index
  std::string cfg_hash;     // TuneConfig::hash() of tune_cfg
  std::string tune_cfg;     // YAML text (common/tune_config_yaml.h)
  std::string model_hash, data_hash, stats_hash;
  // Measure the fp32 model instead (tune_cfg is empty, cfg_hash "baseline"), so the baseline
  // latency is taken under the same conditions as the trials'.
  bool baseline = false;
};

// Why a RESULT carries no metric. kTrialFailed is a property of the config (recorded like any
// trial); kWorkerFailed is a property of the worker (the trial goes to another worker).
enum class ResultCode : int32_t { kOk = 0, kTrialFailed = 1, kWorkerFailed = 2 };

// Worker -> coordinator: one trial's measurement.
struct ResultMsg {
  int64_t index = 0;
  std::string cfg_hash;
  bool ok = false;
  double metric = 0;
  double latency_ms = 0;  // median of the timed runs
  int64_t model_bytes = 0;
  double seconds = 0;  // the worker's wall time for the trial
  ResultCode code = ResultCode::kOk;
  std::string error;
  // Optional on the wire (0 when absent): the median's standard error, and
  // TrialMetrics::fp32_ratio with its standard error.
  double latency_error_ms = 0;
  double fp32_ratio = 0;
  double fp32_ratio_error = 0;
};

// Both ways. `busy_index` is the trial a worker is running (-1: idle); the coordinator sends -1.
struct HeartbeatMsg {
  int64_t busy_index = -1;
};

// Either way: the sender is leaving. From the coordinator, `rejoin` asks the worker to send
// READY again (it was not known, e.g. after a coordinator restart); otherwise the run is over.
struct DisconnectMsg {
  std::string reason;
  bool rejoin = false;
};

// Worker -> coordinator: send `length` bytes of the file with content hash `hash` from `offset`.
struct FetchMsg {
  std::string hash;
  int64_t offset = 0;
  int64_t length = kChunkBytes;  // 1..kChunkBytes
};

// Coordinator -> worker: a FETCH's answer. `total` is the file's size; `error` non-empty (and
// `data` empty) when the coordinator does not serve that hash or cannot read it.
struct ChunkMsg {
  std::string hash;
  int64_t offset = 0;
  int64_t total = 0;
  std::string data;  // MessagePack bin
  std::string error;
};

using Message = std::variant<ReadyMsg, ConfigMsg, TrialMsg, ResultMsg, HeartbeatMsg, DisconnectMsg,
                             FetchMsg, ChunkMsg>;

// "READY", "CONFIG", "TRIAL", "RESULT", "HEARTBEAT", "DISCONNECT", "FETCH", "CHUNK".
const char* message_name(const Message& m);

std::string encode_message(const Message& m);
// kInvalidInput on anything but one well-formed message of this version: oversize, truncated,
// trailing bytes, not a map, duplicate or missing keys, wrong value types, unknown type, a file
// hash that is not a content hash, a worker id over kMaxWorkerIdBytes. Control characters in
// the free text a peer sends (worker_id, error, reason) come out as '?', so no peer can forge
// log lines. Keys a message does not define are ignored.
Result<Message> decode_message(const void* data, size_t size);

// Content hashes of a tuning run, as a coordinator sends them and a worker checks them.
struct RunHashes {
  std::string config;  // the tuning YAML's bytes
  std::string model;   // the ONNX file's bytes
  std::string data;    // the calibration and evaluation data YAMLs' bytes
  std::string stats;   // what calibration depends on: model, calibration data, adaptor, size
};
Result<RunHashes> run_hashes(const TuningConfig& cfg);
// SHA-256 of a file's bytes (common/content_hash.h); kInvalidInput naming the file when it
// cannot be read.
Result<std::string> file_hash(const std::string& path);

}  // namespace qtune
