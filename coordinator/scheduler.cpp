#include "coordinator/scheduler.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <atomic>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <zmq.hpp>

#include "common/tune_config_yaml.h"
#include "worker/curve.h"

namespace qtune {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

struct Busy {
  uint64_t wave = 0;  // which wave the trial belongs to; an older wave's result is stale
  size_t pos = 0;     // position in that wave
  int64_t index = 0;  // sequence index, as the worker reports it
};

struct WorkerInfo {
  std::string name;
  bool configured = false;  // CONFIG sent (held until the file list is complete)
  int64_t threads = 0;
  Clock::time_point last_seen;
  std::optional<Busy> busy;
};

std::string hex(const std::string& bytes) {
  std::string out;
  char buf[3];
  for (unsigned char c : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", c);
    out += buf;
  }
  return out;
}

}  // namespace

struct Scheduler::State {
  SchedulerOptions opts;
  zmq::context_t ctx{1};
  zmq::socket_t sock;
  // ZAP: admits the CURVE keys of known workers (its own thread, as libzmq asks of a handler).
  zmq::socket_t zap;
  std::thread zap_thread;
  std::atomic<bool> zap_stop{false};
  std::atomic<int64_t> refused{0};
  std::map<std::string, std::string> serve;  // content hash -> file, for FETCH
  bool files_published = true;
  bool baseline_wave = false;  // the current wave is the fp32 baseline
  std::vector<std::string> seen;              // worker names in join order
  std::map<std::string, int64_t> trials_by_worker;
  std::string baseline_worker;
  int wake_fd = -1;  // eventfd: the caller wakes the socket thread's poll
  std::thread thread;

  mutable std::mutex mu;
  std::condition_variable cv;
  bool stopping = false, stopped = false;
  std::string stop_reason;
  uint64_t wave_id = 0;
  std::vector<TrialRecord> wave;
  std::vector<std::string> wave_yaml;
  std::set<size_t> queued;                 // positions, dispatched lowest first
  bool closed = false;                     // the timeout passed: no trial of this wave starts again
  std::map<size_t, TrialRecord> results;   // measured, not yet handed to the caller
  std::map<std::string, WorkerInfo> workers;  // by ROUTER identity
  SchedulerStatus counters;
  Clock::time_point last_heartbeat = Clock::now();
  std::optional<Clock::time_point> starved_since;  // trials queued and no worker connected
  Clock::time_point last_starved_log;

  ~State() {
    if (wake_fd >= 0) close(wake_fd);
  }

  // ZAP requests (RFC 27): version, request id, domain, address, identity, mechanism, then the
  // client's 32-byte public key. Replies 200 for a listed key, 400 otherwise.
  void zap_loop(std::set<std::string> allowed) {
    while (!zap_stop) {
      zmq_pollitem_t item{zap.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq_poll(&item, 1, 100) <= 0) continue;
      std::vector<std::string> frames;
      try {
        for (bool more = true; more;) {
          zmq::message_t m;
          if (!zap.recv(m, zmq::recv_flags::dontwait)) break;
          more = m.more();
          frames.push_back(m.to_string());
        }
      } catch (const zmq::error_t&) {
        continue;
      }
      if (frames.size() < 6) continue;
      const std::string& address = frames[3];
      const std::string& mechanism = frames[5];
      const std::string key = frames.size() >= 7 ? frames[6] : "";
      const bool ok = mechanism == "CURVE" && allowed.count(key);
      if (!ok) {
        ++refused;
        log("refused a connection from " + address.substr(0, 64) + ": " +
            (mechanism == "CURVE" ? "CURVE key " + curve_key_z85(key) + " is not in --curve-allow"
                                  : "mechanism " + mechanism.substr(0, 16) + ", CURVE required"));
      }
      const std::vector<std::string> reply = {frames[0], frames[1], ok ? "200" : "400",
                                              ok ? "OK" : "unknown key", ok ? curve_key_z85(key) : "", ""};
      try {
        for (size_t i = 0; i < reply.size(); ++i) {
          zap.send(zmq::buffer(reply[i]), i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
        }
      } catch (const zmq::error_t&) {
      }
    }
    zap.close();
  }

  ConfigMsg config_msg() const {
    return ConfigMsg{opts.hashes.config, opts.config_path, opts.timing.heartbeat_ms, opts.timing.liveness,
                     opts.files};
  }
  // CONFIG now, or once the file list is complete.
  void configure(const std::string& id, WorkerInfo& w) {
    if (!files_published || w.configured) return;
    w.configured = true;
    if (!send_to(id, config_msg())) drop_worker(id, "is unreachable");
  }

  void configure_waiting() {
    if (!files_published) return;
    std::vector<std::string> ids;
    for (const auto& [id, w] : workers) {
      if (!w.configured) ids.push_back(id);
    }
    for (const auto& id : ids) {
      auto it = workers.find(id);
      if (it != workers.end()) configure(id, it->second);
    }
  }

  void serve_chunk(const std::string& id, const WorkerInfo& w, const FetchMsg& f) {
    ChunkMsg c;
    c.hash = f.hash;
    c.offset = f.offset;
    auto it = serve.find(f.hash);
    if (it == serve.end()) {
      c.error = "no file with hash " + f.hash.substr(0, 32) + " is served here";
    } else {
      std::ifstream in(it->second, std::ios::binary);
      in.seekg(0, std::ios::end);
      const int64_t total = in ? static_cast<int64_t>(in.tellg()) : -1;
      if (total < 0) {
        c.error = it->second + ": cannot read";
      } else if (f.offset >= total && !(f.offset == 0 && total == 0)) {
        c.error = "offset " + std::to_string(f.offset) + " is past the end (" + std::to_string(total) + " bytes)";
      } else {
        c.total = total;
        c.data.resize(static_cast<size_t>(std::min(f.length, total - f.offset)));
        in.seekg(f.offset);
        in.read(c.data.data(), static_cast<std::streamsize>(c.data.size()));
        if (!in) {
          c = ChunkMsg{f.hash, f.offset, 0, "", it->second + ": read failed"};
        }
      }
    }
    if (!c.error.empty()) log("cannot send " + w.name + " a chunk: " + c.error);
    if (send_to(id, c)) ++counters.chunks;
  }

  void log(const std::string& line) const {
    if (opts.log) opts.log(line);
    else std::cerr << "coordinator: " << line << std::endl;
  }
  void wake() const {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd, &one, sizeof one);
  }
  std::string peer(const std::string& id) const {
    auto it = workers.find(id);
    return it != workers.end() ? it->second.name : "peer " + hex(id);
  }
  int64_t running() const {
    int64_t n = 0;
    for (const auto& [id, w] : workers) n += w.busy && w.busy->wave == wave_id;
    return n;
  }

  bool send_to(const std::string& id, const Message& m) {
    const std::string bytes = encode_message(m);
    try {
      if (!sock.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return false;
      return sock.send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t&) {
      return false;  // EHOSTUNREACH: the peer is gone (ROUTER_MANDATORY)
    }
  }

  // Puts a worker's trial back in the queue when it still matters.
  void requeue(WorkerInfo& w) {
    if (w.busy && w.busy->wave == wave_id && !closed && !results.count(w.busy->pos)) {
      queued.insert(w.busy->pos);
      ++counters.requeued;
    }
    w.busy.reset();
  }
  std::string trial_note(const WorkerInfo& w) const {
    return w.busy && w.busy->wave == wave_id ? "; trial " + std::to_string(w.busy->index) + " requeued" : "";
  }
  void drop_worker(const std::string& id, const std::string& why) {
    auto it = workers.find(id);
    if (it == workers.end()) return;
    log("worker " + it->second.name + " " + why + trial_note(it->second) + "; " +
        std::to_string(workers.size() - 1) + " connected");
    requeue(it->second);
    workers.erase(it);
    ++counters.lost;
  }

  void handle(const std::string& id, const zmq::message_t& body) {
    Result<Message> msg = decode_message(body.data(), body.size());
    if (!msg.ok()) {
      ++counters.dropped;
      log("dropped a frame from " + peer(id) + ": " + msg.status().message());
      return;
    }
    auto it = workers.find(id);
    if (const auto* r = std::get_if<ReadyMsg>(&*msg)) {
      if (it != workers.end()) {
        requeue(it->second);
        workers.erase(it);
      }
      WorkerInfo w;
      w.name = r->worker_id.empty() ? "peer " + hex(id) : r->worker_id.substr(0, 128);
      w.threads = r->threads;
      w.last_seen = Clock::now();
      WorkerInfo& added = workers[id] = w;
      ++counters.joined;
      if (std::find(seen.begin(), seen.end(), w.name) == seen.end()) seen.push_back(w.name);
      log("worker " + w.name + " joined (" + std::to_string(r->threads) + " threads, " +
          (r->isa.empty() ? "no ISA extensions" : r->isa.substr(0, 200)) + "); " +
          std::to_string(workers.size()) + " connected");
      configure(id, added);
      return;
    }
    if (it == workers.end()) {
      ++counters.dropped;
      log(std::string("dropped ") + message_name(*msg) + " from unknown " + peer(id) + "; asked it to rejoin");
      send_to(id, DisconnectMsg{"unknown worker: send READY", true});
      return;
    }
    WorkerInfo& w = it->second;
    w.last_seen = Clock::now();
    if (const auto* r = std::get_if<ResultMsg>(&*msg)) {
      handle_result(id, w, *r);
    } else if (const auto* f = std::get_if<FetchMsg>(&*msg)) {
      serve_chunk(id, w, *f);
    } else if (const auto* d = std::get_if<DisconnectMsg>(&*msg)) {
      drop_worker(id, "left (" + d->reason.substr(0, 200) + ")");
    } else if (!std::holds_alternative<HeartbeatMsg>(*msg)) {
      ++counters.dropped;
      log(std::string("dropped an unexpected ") + message_name(*msg) + " from " + w.name);
    }
  }

  void handle_result(const std::string& id, WorkerInfo& w, const ResultMsg& r) {
    if (!w.busy || w.busy->index != r.index) {
      ++counters.dropped;
      log("dropped RESULT of trial " + std::to_string(r.index) + " from " + w.name + ": not its trial");
      return;
    }
    const Busy busy = *w.busy;
    w.busy.reset();
    if (busy.wave != wave_id) return;  // the run moved on; the result cannot change anything
    const TrialRecord& expect = wave[busy.pos];
    if (r.cfg_hash != expect.hash) {
      ++counters.dropped;
      log("dropped RESULT of trial " + std::to_string(r.index) + " from " + w.name + ": config hash " +
          r.cfg_hash.substr(0, 32) + ", expected " + expect.hash);
      if (!closed) {
        queued.insert(busy.pos);
        ++counters.requeued;
      }
      return;
    }
    if (r.code == ResultCode::kWorkerFailed) {
      w.busy = busy;  // so drop_worker requeues it
      send_to(id, DisconnectMsg{"cannot run trials here: " + r.error, false});
      drop_worker(id, "cannot run trials (" + r.error.substr(0, 300) + "); dropped");
      return;
    }
    TrialRecord t = expect;
    t.ok = r.ok;
    t.error = r.ok ? "" : r.error;
    t.metric = r.metric;
    t.latency_ms = r.latency_ms;
    t.model_bytes = r.model_bytes;
    t.seconds = r.seconds;
    if (baseline_wave) baseline_worker = w.name;
    else ++trials_by_worker[w.name];
    results[busy.pos] = std::move(t);
    cv.notify_all();
  }

  void receive_all() {
    while (true) {
      zmq::message_t id, body;
      try {
        if (!sock.recv(id, zmq::recv_flags::dontwait)) return;
        if (!id.more()) {
          ++counters.dropped;
          continue;
        }
        if (!sock.recv(body, zmq::recv_flags::dontwait)) return;
        const bool extra = body.more();
        for (bool more = extra; more;) {
          zmq::message_t rest;
          if (!sock.recv(rest, zmq::recv_flags::dontwait)) break;
          more = rest.more();
        }
        if (extra) {
          ++counters.dropped;
          log("dropped a multi-frame message from " + peer(id.to_string()));
          continue;
        }
      } catch (const zmq::error_t& e) {
        log(std::string("receive failed: ") + e.what());
        return;
      }
      handle(id.to_string(), body);
    }
  }

  void check_liveness() {
    std::vector<std::string> silent;
    for (const auto& [id, w] : workers) {
      if (ms_since(w.last_seen) > opts.timing.liveness_ms()) silent.push_back(id);
    }
    for (const auto& id : silent) {
      drop_worker(id, "lost (silent for " + std::to_string(ms_since(workers[id].last_seen)) + " ms)");
    }
  }

  void dispatch() {
    std::vector<std::string> unreachable;
    for (auto& [id, w] : workers) {
      if (queued.empty()) break;
      if (w.busy || !w.configured) continue;
      const size_t pos = *queued.begin();
      const TrialRecord& t = wave[pos];
      TrialMsg m{t.index, t.hash, wave_yaml[pos], opts.hashes.model, opts.hashes.data, opts.hashes.stats,
                 baseline_wave};
      if (!send_to(id, m)) {
        unreachable.push_back(id);
        continue;
      }
      queued.erase(queued.begin());
      w.busy = Busy{wave_id, pos, t.index};
      ++counters.dispatched;
    }
    for (const auto& id : unreachable) drop_worker(id, "is unreachable");
  }

  void heartbeat() {
    if (ms_since(last_heartbeat) < opts.timing.heartbeat_ms) return;
    last_heartbeat = Clock::now();
    for (const auto& [id, w] : workers) send_to(id, HeartbeatMsg{-1});
  }

  void report_starvation() {
    if (queued.empty() || !workers.empty()) {
      starved_since.reset();
      return;
    }
    if (!starved_since) {
      starved_since = Clock::now();
      last_starved_log = Clock::now() - std::chrono::hours(1);
    }
    if (ms_since(*starved_since) >= 2000 && ms_since(last_starved_log) >= 10000) {
      last_starved_log = Clock::now();
      log("waiting for workers on " + sock.get(zmq::sockopt::last_endpoint) + ": " +
          std::to_string(queued.size()) + " trial(s) queued");
    }
  }

  void loop() {
    while (true) {
      const int64_t timeout =
          std::clamp<int64_t>(opts.timing.heartbeat_ms - ms_since(last_heartbeat), 0, 1000);
      zmq_pollitem_t items[] = {{sock.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd, ZMQ_POLLIN, 0}};
      if (zmq_poll(items, 2, static_cast<long>(timeout)) < 0 && zmq_errno() != EINTR) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      if (items[1].revents & ZMQ_POLLIN) {
        uint64_t v;
        [[maybe_unused]] ssize_t n = read(wake_fd, &v, sizeof v);
      }
      std::lock_guard<std::mutex> lk(mu);
      if (stopping) break;
      receive_all();
      check_liveness();
      configure_waiting();
      dispatch();
      heartbeat();
      report_starvation();
    }
    std::lock_guard<std::mutex> lk(mu);
    for (const auto& [id, w] : workers) send_to(id, DisconnectMsg{stop_reason, false});
    workers.clear();
    sock.set(zmq::sockopt::linger, 1000);  // let the DISCONNECTs out
    sock.close();
    zap_stop = true;
    stopped = true;
    cv.notify_all();
  }
};

Result<std::unique_ptr<Scheduler>> Scheduler::create(SchedulerOptions opts) {
  std::unique_ptr<Scheduler> s(new Scheduler());
  s->state_ = std::make_unique<State>();
  State& st = *s->state_;
  st.opts = std::move(opts);
  st.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (st.wake_fd < 0) return Status::Internal("eventfd failed");
  for (const RunFile& f : st.opts.files) st.serve[f.hash] = f.source.empty() ? f.path : f.source;
  st.files_published = !st.opts.hold_config;
  try {
    if (!st.opts.curve_secret.empty()) {
      std::set<std::string> allowed;
      for (const std::string& k : st.opts.curve_allow) {
        const std::string raw = curve_key_bytes(k);
        if (raw.empty()) return Status::InvalidInput("--curve-allow: malformed key " + k.substr(0, 40));
        allowed.insert(raw);
      }
      // The handler must be bound before the ROUTER accepts its first CURVE handshake.
      st.zap = zmq::socket_t(st.ctx, zmq::socket_type::rep);
      st.zap.set(zmq::sockopt::linger, 0);
      st.zap.bind("inproc://zeromq.zap.01");
      st.zap_thread = std::thread([&st, allowed] { st.zap_loop(allowed); });
    }
    st.sock = zmq::socket_t(st.ctx, zmq::socket_type::router);
    st.sock.set(zmq::sockopt::linger, 0);
    if (!st.opts.curve_secret.empty()) {
      const std::string sec = curve_key_bytes(st.opts.curve_secret);
      if (sec.empty()) return Status::InvalidInput("--curve-secret: malformed key");
      st.sock.set(zmq::sockopt::curve_server, 1);
      st.sock.set(zmq::sockopt::curve_secretkey, zmq::buffer(sec));
      st.sock.set(zmq::sockopt::zap_domain, "qtune");
    }
    st.sock.set(zmq::sockopt::router_mandatory, 1);
    st.sock.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxMessageBytes));
    st.sock.bind(st.opts.bind);
    s->endpoint_ = st.sock.get(zmq::sockopt::last_endpoint);
  } catch (const zmq::error_t& e) {
    return Status::InvalidInput("--bind " + st.opts.bind + ": " + e.what());
  }
  st.thread = std::thread([&st] { st.loop(); });
  return s;
}

Scheduler::~Scheduler() {
  if (state_) finish("done");
  if (state_ && state_->zap_thread.joinable()) {
    state_->zap_stop = true;
    state_->zap_thread.join();
  }
}

void Scheduler::finish(const std::string& reason) {
  State& s = *state_;
  {
    std::lock_guard<std::mutex> lk(s.mu);
    if (s.stopping) return;
    s.stopping = true;
    s.stop_reason = reason;
  }
  s.wake();
  if (s.thread.joinable()) s.thread.join();
  s.zap_stop = true;
  if (s.zap_thread.joinable()) s.zap_thread.join();
}

void Scheduler::publish_files(std::vector<RunFile> files) {
  State& s = *state_;
  {
    std::lock_guard<std::mutex> lk(s.mu);
    s.opts.files = std::move(files);
    for (const RunFile& f : s.opts.files) s.serve[f.hash] = f.source.empty() ? f.path : f.source;
    s.files_published = true;  // the socket thread sends the held CONFIGs
  }
  s.wake();
}

SchedulerDistribution Scheduler::distribution() const {
  const State& s = *state_;
  std::lock_guard<std::mutex> lk(s.mu);
  return SchedulerDistribution{s.seen, s.trials_by_worker, s.baseline_worker};
}

Result<TrialMetrics> Scheduler::evaluate_baseline() {
  State& s = *state_;
  TrialRecord t;
  t.index = 0;
  t.stage = "baseline";
  t.hash = "baseline";
  std::optional<TrialRecord> got;
  WaveControl control;
  control.out_of_time = [] { return false; };
  control.record = [&](const TrialRecord& r) {
    got = r;
    return true;
  };
  {
    std::lock_guard<std::mutex> lk(s.mu);
    s.baseline_wave = true;
  }
  evaluate_wave({t}, control);
  {
    std::lock_guard<std::mutex> lk(s.mu);
    s.baseline_wave = false;
  }
  if (!got) return Status::Internal("no worker measured the fp32 baseline");
  if (!got->ok) return Status::InvalidInput("fp32 baseline on a worker: " + got->error);
  TrialMetrics m;
  m.metric = got->metric;
  m.latency_ms = got->latency_ms;
  m.model_bytes = got->model_bytes;
  return m;
}

SchedulerStatus Scheduler::status() const {
  const State& s = *state_;
  std::lock_guard<std::mutex> lk(s.mu);
  SchedulerStatus out = s.counters;
  out.workers = static_cast<int64_t>(s.workers.size());
  out.running = s.running();
  out.queued = static_cast<int64_t>(s.queued.size());
  out.refused = s.refused;
  return out;
}

void Scheduler::evaluate_wave(const std::vector<TrialRecord>& wave, const WaveControl& control) {
  State& s = *state_;
  if (wave.empty() || control.out_of_time()) return;
  std::vector<std::string> yaml;
  yaml.reserve(wave.size());
  for (const TrialRecord& t : wave) yaml.push_back(t.hash == "baseline" ? "" : tune_config_to_yaml(t.cfg));

  std::unique_lock<std::mutex> lk(s.mu);
  if (s.stopping) return;
  ++s.wave_id;
  s.wave = wave;
  s.wave_yaml = std::move(yaml);
  s.results.clear();
  s.queued.clear();
  s.closed = false;
  for (size_t i = 0; i < wave.size(); ++i) s.queued.insert(i);
  s.wake();
  // Running trials of a finished or abandoned wave keep their workers until they report; their
  // results are then dropped as stale.
  auto end_wave = [&] {
    ++s.wave_id;
    s.wave.clear();
    s.wave_yaml.clear();
    s.queued.clear();
    s.results.clear();
  };
  size_t next = 0;
  bool timed_out = false;
  while (true) {
    s.cv.wait_for(lk, std::chrono::milliseconds(100),
                  [&] { return s.results.count(next) || s.stopping; });
    for (auto it = s.results.find(next); it != s.results.end(); it = s.results.find(next)) {
      TrialRecord t = std::move(it->second);
      s.results.erase(it);
      ++next;
      lk.unlock();
      const bool go = control.record(t);
      lk.lock();
      if (!go) return end_wave();
    }
    if (next == wave.size() || s.stopping) return end_wave();
    lk.unlock();
    const bool out = !timed_out && control.out_of_time();
    const bool give_up = s.opts.keep_waiting && !s.opts.keep_waiting();
    lk.lock();
    if (give_up) {
      s.log("giving up on the wave: " + std::to_string(wave.size() - next) + " trial(s) unfinished");
      return end_wave();
    }
    if (out) {
      timed_out = true;
      s.closed = true;
      s.queued.clear();  // start nothing new; let the running trials report
    }
    if (timed_out && s.running() == 0 && !s.results.count(next)) return end_wave();
  }
}

}  // namespace qtune
