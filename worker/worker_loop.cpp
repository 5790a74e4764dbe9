#include "worker/worker_loop.h"

#include <sys/eventfd.h>
#include <tbb/global_control.h>
#include <tbb/info.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <zmq.hpp>

#include "common/tune_config_yaml.h"
#include "common/tuning_config.h"
#include "adaptors/calibration.h"
#include "kernels/cpu_features.h"
#include "worker/curve.h"
#include "worker/file_cache.h"
#include "worker/trial_runner.h"

namespace qtune {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

// What a worker has loaded: one TrialRunner per config hash, used by one job at a time.
struct Loaded {
  std::string config_hash;
  RunHashes hashes;
  std::unique_ptr<TrialRunner> runner;
};

// Lets the evaluation thread wake the socket thread's poll the moment a trial ends.
class Wakeup {
 public:
  Wakeup() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~Wakeup() {
    if (fd_ >= 0) close(fd_);
  }
  Wakeup(const Wakeup&) = delete;
  Wakeup& operator=(const Wakeup&) = delete;
  int fd() const { return fd_; }
  void signal() const {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(fd_, &one, sizeof one);
  }
  void drain() const {
    uint64_t v;
    [[maybe_unused]] ssize_t n = read(fd_, &v, sizeof v);
  }

 private:
  int fd_;
};

struct Job {
  int64_t session = 0;
  int64_t index = 0;  // -1: loading the config ahead of the first trial
  std::atomic<bool> done{false};
  ResultMsg result;
};

// Where this worker finds the run's files: its cache, and (with --shared-path) the paths the
// coordinator's config names.
struct FileSource {
  FileCache cache{""};
  bool shared = false;
  bool allow_metric_command = false;  // WorkerOptions::allow_metric_command
};

const RunFile* find_role(const ConfigMsg& c, const std::string& role) {
  for (const RunFile& f : c.files) {
    if (f.role == role) return &f;
  }
  return nullptr;
}

// Loads the run's config unless already held, with the coordinator's calibration statistics
// (calibrating only when it sends none); a worker's own failure.
Status ensure_loaded(Loaded& st, const ConfigMsg& config, const FileSource& src) {
  if (st.runner && st.config_hash == config.config_hash) return Status::Ok();
  st = Loaded{};
  std::map<std::string, std::string> local;  // coordinator path -> cached copy
  for (const RunFile& f : config.files) {
    if (f.path.empty()) continue;
    QT_ASSIGN_OR_RETURN(local[std::filesystem::path(f.path).lexically_normal().string()], src.cache.path_of(f.hash));
  }
  RunnerSources sources;
  sources.allow_metric_command = src.allow_metric_command;
  if (!src.shared) {
    sources.local = [local](const std::string& p) {
      auto it = local.find(std::filesystem::path(p).lexically_normal().string());
      return it != local.end() ? it->second : p + " (not sent by the coordinator)";
    };
  }
  const RunFile* cfg_file = find_role(config, "config");
  if (!src.shared && !cfg_file) {
    return Status::InvalidInput("the coordinator sends no files; run this worker with --shared-path");
  }
  std::string cfg_path = config.path;
  if (!src.shared) {
    QT_ASSIGN_OR_RETURN(cfg_path, src.cache.path_of(cfg_file->hash));
  }
  QT_ASSIGN_OR_RETURN(TuningConfig tc, load_tuning_config(cfg_path, config.path));
  TuningConfig here = tc;  // the files as read on this host, for the content hashes
  here.source_path = cfg_path;
  if (sources.local) {
    here.model = sources.local(tc.model);
    here.calibration_data = sources.local(tc.calibration_data);
    here.evaluation_data = sources.local(tc.evaluation_data);
  }
  QT_ASSIGN_OR_RETURN(RunHashes h, run_hashes(here));
  if (h.config != config.config_hash) {
    return Status::InvalidInput(config.path + ": content hash " + h.config +
                                " differs from the coordinator's " + config.config_hash);
  }
  if (const RunFile* stats = find_role(config, "stats")) {
    QT_ASSIGN_OR_RETURN(const std::string stats_path, src.cache.path_of(stats->hash));
    QT_ASSIGN_OR_RETURN(CalibrationStats cs, load_calibration_stats(stats_path));
    sources.stats = std::move(cs);
  }
  QT_ASSIGN_OR_RETURN(st.runner, TrialRunner::create(tc, sources));
  st.config_hash = config.config_hash;
  st.hashes = h;
  return Status::Ok();
}

ResultMsg evaluate_trial(Loaded& st, const ConfigMsg& config, const FileSource& src, const TrialMsg& t,
                         int64_t simulate_ms) {
  const auto t0 = Clock::now();
  ResultMsg r;
  r.index = t.index;
  r.cfg_hash = t.cfg_hash;
  auto finish = [&](ResultCode code, std::string error) {
    r.code = code;
    r.ok = code == ResultCode::kOk;
    r.error = std::move(error);
    // The coordinator refuses frames above kMaxWorkerMessageBytes.
    if (r.error.size() > kMaxErrorChars) r.error = r.error.substr(0, kMaxErrorChars - 3) + "...";
    r.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    return r;
  };
  Result<TuneConfig> cfg = t.baseline ? Result<TuneConfig>(TuneConfig{})
                                      : parse_tune_config(t.tune_cfg, "trial " + std::to_string(t.index));
  if (!cfg.ok()) return finish(ResultCode::kTrialFailed, cfg.status().message());
  if (!t.baseline && cfg->hash() != t.cfg_hash) {
    return finish(ResultCode::kTrialFailed,
                  "tune_cfg hashes to " + cfg->hash() + ", the TRIAL says " + t.cfg_hash);
  }
  if (simulate_ms >= 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(simulate_ms));
    return finish(ResultCode::kOk, "");
  }
  if (Status loaded = ensure_loaded(st, config, src); !loaded.ok()) {
    return finish(ResultCode::kWorkerFailed, loaded.message());
  }
  auto differs = [](const char* what, const std::string& mine, const std::string& theirs) {
    return std::string(what) + " hash " + mine + " differs from the coordinator's " + theirs;
  };
  if (t.model_hash != st.hashes.model) return finish(ResultCode::kWorkerFailed, differs("model", st.hashes.model, t.model_hash));
  if (t.data_hash != st.hashes.data) return finish(ResultCode::kWorkerFailed, differs("data", st.hashes.data, t.data_hash));
  if (t.stats_hash != st.hashes.stats) return finish(ResultCode::kWorkerFailed, differs("calibration", st.hashes.stats, t.stats_hash));
  Result<TrialMetrics> m = [&]() -> Result<TrialMetrics> {
    try {
      return t.baseline ? st.runner->baseline() : st.runner->evaluate(*cfg);
    } catch (const std::exception& e) {
      return Status::Internal(std::string("internal error: ") + e.what());
    }
  }();
  if (!m.ok()) return finish(ResultCode::kTrialFailed, m.status().message());
  r.metric = m->metric;
  r.latency_ms = m->latency_ms;
  r.latency_error_ms = m->latency_error_ms;
  r.fp32_ratio = m->fp32_ratio;
  r.fp32_ratio_error = m->fp32_ratio_error;
  r.model_bytes = m->model_bytes;
  return finish(ResultCode::kOk, "");
}

bool send(zmq::socket_t& sock, const Message& m) {
  const std::string bytes = encode_message(m);
  try {
    return sock.send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
  } catch (const zmq::error_t&) {
    return false;
  }
}

// zmq_poll, with a signal's EINTR counted as a timeout.
void poll_for(zmq_pollitem_t* items, int n, int64_t timeout_ms) {
  if (zmq_poll(items, n, static_cast<long>(std::max<int64_t>(0, timeout_ms))) < 0 && zmq_errno() != EINTR) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

std::string default_worker_id() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "worker");
  return std::string(host) + ":" + std::to_string(getpid());
}

Result<WorkerSummary> run_worker(const WorkerOptions& opts) {
  auto log = [&](const std::string& line) {
    if (opts.log) opts.log(line);
    else std::cerr << "worker: " << line << std::endl;
  };
  std::optional<tbb::global_control> threads;
  if (opts.threads > 0) {
    threads.emplace(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(opts.threads));
  }
  const int64_t thread_count = opts.threads > 0 ? opts.threads : tbb::info::default_concurrency();
  const std::string id = default_worker_id();
  const bool curve = !opts.curve_secret.empty();
  std::string curve_public;
  if (curve) {
    QT_ASSIGN_OR_RETURN(curve_public, curve_public_key(opts.curve_secret));
  }
  FileSource files{FileCache(opts.cache_dir.empty() ? default_cache_dir() : opts.cache_dir, opts.cache_max_bytes),
                   opts.shared_path, opts.allow_metric_command};
  if (opts.simulate_ms < 0) QT_RETURN_IF_ERROR(files.cache.init());
  ProtocolTiming timing = opts.timing;
  zmq::context_t ctx(1);
  auto loaded = std::make_shared<Loaded>();
  auto wake = std::make_shared<Wakeup>();
  std::shared_ptr<Job> job;  // the trial on the evaluation thread, until its result is handled
  WorkerSummary summary;
  int64_t backoff = timing.reconnect_min_ms;

  for (int64_t session = 1;; ++session) {
    zmq::socket_t sock(ctx, zmq::socket_type::dealer);
    sock.set(zmq::sockopt::linger, 0);
    sock.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxMessageBytes));
    sock.set(zmq::sockopt::sndhwm, kWorkerSendHwm);
    sock.set(zmq::sockopt::rcvhwm, kWorkerRecvHwm);
    // The handshake outcome: a refused CURVE key is final, not a reason to keep reconnecting.
    zmq::socket_t monitor;
    if (curve) {
      const std::string server = curve_key_bytes(opts.curve_server_key);
      const std::string pub = curve_key_bytes(curve_public), sec = curve_key_bytes(opts.curve_secret);
      if (server.empty() || pub.empty() || sec.empty()) return Status::InvalidInput("malformed CURVE key");
      sock.set(zmq::sockopt::curve_serverkey, zmq::buffer(server));
      sock.set(zmq::sockopt::curve_publickey, zmq::buffer(pub));
      sock.set(zmq::sockopt::curve_secretkey, zmq::buffer(sec));
      const std::string mon = "inproc://qtune-worker-monitor-" + std::to_string(session);
      zmq_socket_monitor(sock.handle(), mon.c_str(),
                         ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL);
      monitor = zmq::socket_t(ctx, zmq::socket_type::pair);
      monitor.connect(mon);
    }
    try {
      sock.connect(opts.connect);
    } catch (const zmq::error_t& e) {
      return Status::InvalidInput("--connect " + opts.connect + ": " + e.what());
    }
    ReadyMsg ready{id.substr(0, 256), kProtocolVersion, thread_count, cpu_features().summary().substr(0, 1024), {}};
    if (!job && loaded->runner) ready.cached = {loaded->config_hash, loaded->hashes.model};
    send(sock, ready);
    if (session == 1) log(id + " connecting to " + opts.connect + (curve ? " (CURVE)" : ""));

    std::optional<ConfigMsg> config;
    std::deque<TrialMsg> queue;
    auto last_heard = Clock::now(), last_sent = Clock::now();
    bool rejoin = false, load_tried = false;
    // File transfer of this session: what is still missing, the file coming in, chunks asked.
    bool files_ready = false;
    std::deque<RunFile> to_fetch;
    std::unique_ptr<FileCache::Download> download;
    int64_t next_offset = 0, received = 0;
    int outstanding = 0;
    auto fetch_failed = [&](const std::string& why) -> Status {
      if (download) download->abandon();
      send(sock, DisconnectMsg{("cannot fetch the run's files: " + why).substr(0, kMaxErrorChars), false});
      return Status::InvalidInput("cannot fetch the run's files: " + why);
    };
    auto end_session = [&] {
      if (download) download->abandon();
      if (monitor) {
        zmq_socket_monitor(sock.handle(), nullptr, 0);
        monitor.close();
      }
      sock.close();
    };
    while (true) {
      // Ask for the next chunks of the file coming in, or start the next file.
      if (config && !files_ready && !download && !to_fetch.empty()) {
        const RunFile f = to_fetch.front();
        to_fetch.pop_front();
        std::vector<std::string> keep;  // the run's other files stay in the cache
        for (const RunFile& g : config->files) keep.push_back(g.hash);
        Result<std::unique_ptr<FileCache::Download>> d = files.cache.start(f.hash, f.size, keep);
        if (!d.ok()) return fetch_failed(f.role + " " + f.path + ": " + d.status().message());
        download = std::move(*d);
        next_offset = received = 0;
        outstanding = 0;
      }
      if (download && download->size() == 0) {
        if (Status s = download->finish(files.cache); !s.ok()) return fetch_failed(s.message());
        download.reset();
      }
      while (download && outstanding < kFetchWindow && next_offset < download->size()) {
        const int64_t len = std::min(kChunkBytes, download->size() - next_offset);
        send(sock, FetchMsg{download->hash(), next_offset, len});
        next_offset += len;
        ++outstanding;
        last_sent = Clock::now();
      }
      if (config && !files_ready && !download && to_fetch.empty()) {
        files_ready = true;
        if (summary.fetched_files > 0) {
          log("fetched " + std::to_string(summary.fetched_files) + " file(s), " +
              std::to_string(summary.fetched_bytes) + " bytes, into " + files.cache.dir());
        }
      }
      if (!job && config && files_ready && queue.empty() && opts.simulate_ms < 0 && !load_tried &&
          loaded->config_hash != config->config_hash) {
        // Load while the coordinator is still preparing its first wave.
        load_tried = true;
        job = std::make_shared<Job>();
        job->session = session;
        job->index = -1;
        std::thread([job = job, loaded = loaded, wake = wake, cfg = *config, files] {
          const auto t0 = Clock::now();
          Status s = ensure_loaded(*loaded, cfg, files);
          job->result.ok = s.ok();
          job->result.error = s.ok() ? "" : s.message();
          job->result.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
          job->done = true;
          wake->signal();
        }).detach();
      }
      if (!job && config && files_ready && !queue.empty()) {
        job = std::make_shared<Job>();
        job->session = session;
        job->index = queue.front().index;
        std::thread([job = job, loaded = loaded, wake = wake, cfg = *config, files, trial = queue.front(),
                     simulate = opts.simulate_ms] {
          job->result = evaluate_trial(*loaded, cfg, files, trial, simulate);
          job->done = true;
          wake->signal();
        }).detach();
        log(queue.front().baseline ? std::string("baseline: started")
                                   : "trial " + std::to_string(queue.front().index) + ": started");
        queue.pop_front();
      }
      zmq_pollitem_t items[] = {{sock.handle(), 0, ZMQ_POLLIN, 0},
                                {nullptr, wake->fd(), ZMQ_POLLIN, 0},
                                {monitor ? monitor.handle() : nullptr, 0, ZMQ_POLLIN, 0}};
      poll_for(items, monitor ? 3 : 2, timing.heartbeat_ms - ms_since(last_sent));
      if (items[1].revents & ZMQ_POLLIN) wake->drain();
      if (monitor && (items[2].revents & ZMQ_POLLIN)) {
        zmq::message_t ev, addr;
        if (monitor.recv(ev, zmq::recv_flags::dontwait) && ev.size() >= 6) {
          if (ev.more()) (void)monitor.recv(addr, zmq::recv_flags::dontwait);
          uint16_t event = 0;
          uint32_t value = 0;
          std::memcpy(&event, ev.data(), 2);
          std::memcpy(&value, static_cast<const char*>(ev.data()) + 2, 4);
          end_session();
          if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            return Status::InvalidInput("the coordinator at " + opts.connect + " refused this worker's CURVE key " +
                                        curve_public + " (ZAP status " + std::to_string(value) +
                                        "); add it to the coordinator's --curve-allow");
          }
          return Status::InvalidInput("CURVE handshake with " + opts.connect +
                                      " failed (wrong --curve-server-key, or the coordinator runs without --curve)");
        }
      }

      zmq::message_t frame;
      while (true) {
        zmq::recv_result_t got;
        try {
          got = sock.recv(frame, zmq::recv_flags::dontwait);
        } catch (const zmq::error_t& e) {
          log(std::string("receive failed: ") + e.what());
          break;
        }
        if (!got) break;
        Result<Message> msg = decode_message(frame.data(), frame.size());
        if (!msg.ok()) {
          log("dropped a frame from the coordinator: " + msg.status().message());
          continue;
        }
        last_heard = Clock::now();
        if (auto* c = std::get_if<ConfigMsg>(&*msg)) {
          if (!config) log("serving " + c->path + " (config " + c->config_hash + ")");
          const bool same = config && config->config_hash == c->config_hash && config->files == c->files;
          config = *c;
          timing.heartbeat_ms = c->heartbeat_ms;
          timing.liveness = c->liveness;
          backoff = timing.reconnect_min_ms;
          if (!same && opts.simulate_ms < 0) {
            if (download) download->abandon();
            download.reset();
            to_fetch.clear();
            files_ready = false;
            for (const RunFile& f : c->files) {
              if ((opts.shared_path && f.role != "stats") || files.cache.has(f.hash, f.size)) continue;
              if (std::find_if(to_fetch.begin(), to_fetch.end(),
                               [&](const RunFile& g) { return g.hash == f.hash; }) == to_fetch.end()) {
                to_fetch.push_back(f);
              }
            }
          } else if (opts.simulate_ms >= 0) {
            files_ready = true;
          }
        } else if (auto* k = std::get_if<ChunkMsg>(&*msg)) {
          if (!download || k->hash != download->hash()) {
            log("dropped a CHUNK of " + k->hash.substr(0, 32) + ": not the file coming in");
            continue;
          }
          if (!k->error.empty()) return fetch_failed(k->hash + ": " + k->error.substr(0, 300));
          if (k->total != download->size() || k->data.empty()) {
            return fetch_failed(k->hash + ": a chunk of " + std::to_string(k->data.size()) + " bytes of " +
                                std::to_string(k->total) + ", expected part of " + std::to_string(download->size()));
          }
          if (Status s = download->write(k->offset, k->data); !s.ok()) return fetch_failed(s.message());
          received += static_cast<int64_t>(k->data.size());
          --outstanding;
          if (received >= download->size()) {
            if (Status s = download->finish(files.cache); !s.ok()) return fetch_failed(s.message());
            ++summary.fetched_files;
            summary.fetched_bytes += download->size();
            download.reset();
          }
        } else if (auto* t = std::get_if<TrialMsg>(&*msg)) {
          if (config) queue.push_back(*t);
          else log("dropped TRIAL " + std::to_string(t->index) + ": no CONFIG yet");
        } else if (auto* d = std::get_if<DisconnectMsg>(&*msg)) {
          if (!d->rejoin) {
            log("coordinator ended the run (" + d->reason + ")");
            summary.job_running = job && !job->done;
            end_session();
            return summary;
          }
          log("coordinator asks to rejoin (" + d->reason + ")");
          rejoin = true;
        } else if (!std::holds_alternative<HeartbeatMsg>(*msg)) {
          log(std::string("dropped an unexpected ") + message_name(*msg) + " from the coordinator");
        }
      }
      if (rejoin) break;

      if (job && job->done && job->index < 0) {
        log(job->result.ok ? "loaded in " + std::to_string(job->result.seconds).substr(0, 5) + " s"
                           : "cannot load the run's config: " + job->result.error);
        job.reset();
        continue;
      }
      if (job && job->done) {
        if (job->session == session) {
          send(sock, job->result);
          last_sent = Clock::now();
          ++summary.trials;
          const ResultMsg& r = job->result;
          log((r.cfg_hash == "baseline" ? std::string("baseline") : "trial " + std::to_string(r.index)) + ": " +
              (r.ok ? "done" : r.code == ResultCode::kWorkerFailed ? "cannot run here: " + r.error
                                                                    : "failed: " + r.error) +
              " (" + std::to_string(r.seconds).substr(0, 5) + " s)");
        } else {
          log("dropped the result of trial " + std::to_string(job->index) + " from an earlier connection");
        }
        job.reset();
        continue;
      }
      if (ms_since(last_sent) >= timing.heartbeat_ms) {
        send(sock, HeartbeatMsg{job && job->session == session && job->index >= 0 ? job->index : -1});
        last_sent = Clock::now();
      }
      if (ms_since(last_heard) > timing.liveness_ms()) {
        log("no word from the coordinator for " + std::to_string(ms_since(last_heard)) +
            " ms; reconnecting in " + std::to_string(backoff) + " ms");
        break;
      }
    }
    end_session();
    ++summary.reconnects;
    if (!rejoin) {
      std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
      backoff = std::min(2 * backoff, timing.reconnect_max_ms);
    }
  }
}

}  // namespace qtune
