#include "coordinator/scheduler.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
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

// Frames read per poll, from all peers together: the timers, dispatch and heartbeats run
// between batches however fast peers send. libzmq's ROUTER reads its peers round robin.
constexpr int kMaxFramesPerPoll = 256;
// Frames one peer may have handled per poll; more are dropped unread (a worker sends a few).
constexpr int kMaxFramesPerPeerPerPoll = 16;
// Workers connected at once; identities remembered (expelled, or told to rejoin).
constexpr size_t kMaxWorkers = 4096;
constexpr size_t kMaxRemembered = 4096;
// Dropped frames logged one by one, then summed up at most this often.
constexpr int64_t kLoggedDrops = 20;
constexpr int64_t kDropSummaryMs = 10000;
// A peer whose send queue was full is not offered another CHUNK for this long.
constexpr int64_t kFullBackoffMs = 20;

struct Busy {
  uint64_t wave = 0;  // which wave the trial belongs to; an older wave's result is stale
  size_t pos = 0;     // position in that wave
  int64_t index = 0;  // sequence index, as the worker reports it
  Clock::time_point sent;  // when the TRIAL went out: the deadline counts from here
};

struct WorkerInfo {
  std::string name;
  bool configured = false;  // CONFIG sent (held until the file list is complete)
  int64_t threads = 0;
  Clock::time_point last_seen;
  std::optional<Busy> busy;
  std::deque<FetchMsg> fetches;  // waiting for room in this peer's queue or the byte budget
  Clock::time_point full_at;     // when a send last found this peer's queue full
};

// What libzmq may still hold for one peer. Its queue is FIFO and holds at most
// kCoordinatorSendHwm messages, plus one the I/O thread is writing, so the sizes of the last
// kCoordinatorSendHwm + 1 messages sent bound it without asking libzmq.
struct SendWindow {
  std::deque<int64_t> sizes;
  int64_t bytes = 0;
  Clock::time_point last_send;
};

enum class Sent { kOk, kFull, kGone };

// Remembers up to kMaxRemembered identities; the oldest is forgotten first.
class IdentitySet {
 public:
  bool contains(const std::string& id) const { return set_.count(id) != 0; }
  void insert(const std::string& id) {
    if (!set_.insert(id).second) return;
    order_.push_back(id);
    if (order_.size() > kMaxRemembered) {
      set_.erase(order_.front());
      order_.pop_front();
    }
  }

 private:
  std::set<std::string> set_;
  std::deque<std::string> order_;
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
  int64_t longest_ms = 0;  // the longest baseline or trial measured: the deadline's reference
  std::map<std::string, SendWindow> windows;  // by identity: workers, and who left recently
  int64_t inflight = 0;                       // sum of the windows' bytes
  std::string fetch_cursor;                   // FETCHes are served round robin from here
  IdentitySet expelled;                       // dropped at a deadline: not taken back
  std::map<std::string, Clock::time_point> hinted;  // unknown peers last told to rejoin
  bool backlog = false;                       // the last poll left frames unread
  int64_t drops_logged = 0, drops_unlogged = 0;
  Clock::time_point last_drop_summary;

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
    const Sent r = send_to(id, config_msg());
    if (r == Sent::kOk) w.configured = true;  // kFull: next time round
    if (r == Sent::kGone) drop_worker(id, "is unreachable");
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

  Sent serve_chunk(const std::string& id, const WorkerInfo& w, const FetchMsg& f) {
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
    const Sent r = send_to(id, c);
    if (r == Sent::kOk) {
      ++counters.chunks;
      if (!c.error.empty()) log("cannot send " + w.name + " a chunk: " + c.error);
    }
    return r;
  }

  // A peer may have kMaxPendingFetches FETCHes waiting; they go out as its queue and the byte
  // budget allow, peers taken round robin so that one transfer cannot hold up the others.
  void queue_fetch(WorkerInfo& w, const FetchMsg& f) {
    if (w.fetches.size() >= static_cast<size_t>(kMaxPendingFetches)) {
      ++counters.throttled;
      note_drop("FETCH from " + w.name + ": " + std::to_string(kMaxPendingFetches) + " already waiting");
      return;
    }
    w.fetches.push_back(f);
  }

  bool fetches_waiting() const {
    for (const auto& [id, w] : workers) {
      if (!w.fetches.empty()) return true;
    }
    return false;
  }

  void serve_fetches() {
    if (workers.empty()) return;
    std::vector<std::string> order;
    for (auto it = workers.upper_bound(fetch_cursor); it != workers.end(); ++it) order.push_back(it->first);
    for (auto it = workers.begin(); it != workers.end() && it->first <= fetch_cursor; ++it) order.push_back(it->first);
    std::vector<std::string> gone;
    for (const std::string& id : order) {
      WorkerInfo& w = workers.at(id);
      if (w.fetches.empty() || ms_since(w.full_at) < kFullBackoffMs) continue;
      while (!w.fetches.empty()) {
        if (inflight > 0 && inflight + w.fetches.front().length > opts.max_inflight_bytes) return;
        const Sent r = serve_chunk(id, w, w.fetches.front());
        if (r == Sent::kFull) {
          w.full_at = Clock::now();
          break;
        }
        w.fetches.pop_front();
        fetch_cursor = id;
        if (r == Sent::kGone) {
          gone.push_back(id);
          break;
        }
      }
    }
    for (const auto& id : gone) drop_worker(id, "is unreachable");
  }

  // Counts a refused frame; logs the first kLoggedDrops, then a sum every kDropSummaryMs, so
  // a flood cannot flood the log too.
  void note_drop(const std::string& what) {
    ++counters.dropped;
    if (drops_logged < kLoggedDrops) {
      ++drops_logged;
      log("dropped " + what);
      last_drop_summary = Clock::now();
      return;
    }
    ++drops_unlogged;
    summarize_drops();
  }
  void summarize_drops() {
    if (drops_unlogged == 0 || ms_since(last_drop_summary) < kDropSummaryMs) return;
    log("dropped " + std::to_string(drops_unlogged) + " more frame(s) in the last " +
        std::to_string(ms_since(last_drop_summary) / 1000) + " s (malformed, from unknown peers, or over a limit)");
    drops_unlogged = 0;
    last_drop_summary = Clock::now();
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

  // kFull: the peer's queue is at kCoordinatorSendHwm (ROUTER_MANDATORY answers EAGAIN);
  // kGone: EHOSTUNREACH, the peer has disconnected.
  Sent send_to(const std::string& id, const Message& m) {
    const std::string bytes = encode_message(m);
    try {
      if (!sock.send(zmq::buffer(id), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) return Sent::kFull;
      if (!sock.send(zmq::buffer(bytes), zmq::send_flags::dontwait)) return Sent::kFull;
    } catch (const zmq::error_t&) {
      return Sent::kGone;
    }
    record_send(id, static_cast<int64_t>(bytes.size() + id.size()));
    return Sent::kOk;
  }

  void record_send(const std::string& id, int64_t n) {
    auto it = windows.find(id);
    if (it == windows.end()) {
      if (!workers.count(id)) return;  // rejoin hints to unknown peers: tiny, one per liveness
      it = windows.emplace(id, SendWindow{}).first;
    }
    SendWindow& w = it->second;
    w.sizes.push_back(n);
    w.bytes += n;
    inflight += n;
    while (w.sizes.size() > static_cast<size_t>(kCoordinatorSendHwm) + 1) {
      w.bytes -= w.sizes.front();
      inflight -= w.sizes.front();
      w.sizes.pop_front();
    }
    w.last_send = Clock::now();
    counters.peak_inflight_bytes = std::max(counters.peak_inflight_bytes, inflight);
  }

  // The window of a peer that left is kept until libzmq has surely let go of its queue: the
  // connection's ZMTP heartbeat (ZMQ_HEARTBEAT_TIMEOUT) closes a peer that stops reading.
  void expire_windows() {
    for (auto it = windows.begin(); it != windows.end();) {
      if (!workers.count(it->first) && ms_since(it->second.last_send) > 3 * opts.timing.liveness_ms()) {
        inflight -= it->second.bytes;
        it = windows.erase(it);
      } else {
        ++it;
      }
    }
  }

  int64_t deadline_ms() const {
    const TrialDeadline& d = opts.deadline;
    if (d.fixed_ms > 0) return d.fixed_ms;
    if (longest_ms == 0) return d.initial_ms;
    return std::max(d.min_ms, d.factor * longest_ms);
  }

  void check_deadlines() {
    const int64_t limit = deadline_ms();
    std::vector<std::string> late;
    for (const auto& [id, w] : workers) {
      if (w.busy && ms_since(w.busy->sent) > limit) late.push_back(id);
    }
    for (const auto& id : late) {
      const int64_t index = workers.at(id).busy->index;
      ++counters.expired;
      send_to(id, DisconnectMsg{"trial " + std::to_string(index) + " ran past its deadline of " +
                                    std::to_string(limit) + " ms",
                                false});
      expelled.insert(id);
      drop_worker(id, "held trial " + std::to_string(index) + " past its deadline of " + std::to_string(limit) +
                          " ms; told to leave");
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
    // A peer told to leave at its deadline is not heard again on that connection.
    if (expelled.contains(id)) {
      note_drop("a frame from " + peer(id) + ": told to leave");
      return;
    }
    Result<Message> msg = decode_message(body.data(), body.size());
    if (!msg.ok()) {
      note_drop("a frame from " + peer(id) + ": " + msg.status().message());
      return;
    }
    auto it = workers.find(id);
    if (const auto* r = std::get_if<ReadyMsg>(&*msg)) {
      if (it != workers.end()) {
        note_drop("READY from " + it->second.name + ": joined already");
        return;
      }
      if (workers.size() >= kMaxWorkers) {
        note_drop("READY from " + peer(id) + ": " + std::to_string(kMaxWorkers) + " workers connected");
        send_to(id, DisconnectMsg{"the coordinator has " + std::to_string(kMaxWorkers) + " workers", false});
        return;
      }
      WorkerInfo w;
      w.name = r->worker_id.empty() ? "peer " + hex(id) : r->worker_id.substr(0, 128);
      w.threads = r->threads;
      w.last_seen = Clock::now();
      WorkerInfo& added = workers[id] = w;
      ++counters.joined;
      if (seen.size() < kMaxRemembered && std::find(seen.begin(), seen.end(), w.name) == seen.end()) {
        seen.push_back(w.name);
      }
      log("worker " + w.name + " joined (" + std::to_string(r->threads) + " threads, " +
          (r->isa.empty() ? "no ISA extensions" : r->isa.substr(0, 200)) + "); " +
          std::to_string(workers.size()) + " connected");
      configure(id, added);
      return;
    }
    if (it == workers.end()) {
      // Asked to rejoin once per liveness interval, however much it sends.
      auto h = hinted.find(id);
      const bool hint = h == hinted.end() || ms_since(h->second) > opts.timing.liveness_ms();
      note_drop(std::string(message_name(*msg)) + " from unknown " + peer(id) + (hint ? "; asked it to rejoin" : ""));
      if (hint) {
        if (hinted.size() >= kMaxRemembered) hinted.clear();
        hinted[id] = Clock::now();
        send_to(id, DisconnectMsg{"unknown worker: send READY", true});
      }
      return;
    }
    WorkerInfo& w = it->second;
    w.last_seen = Clock::now();
    if (const auto* r = std::get_if<ResultMsg>(&*msg)) {
      handle_result(id, w, *r);
    } else if (const auto* f = std::get_if<FetchMsg>(&*msg)) {
      queue_fetch(w, *f);
    } else if (const auto* d = std::get_if<DisconnectMsg>(&*msg)) {
      drop_worker(id, "left (" + d->reason.substr(0, 200) + ")");
    } else if (!std::holds_alternative<HeartbeatMsg>(*msg)) {
      note_drop(std::string("an unexpected ") + message_name(*msg) + " from " + w.name);
    }
  }

  void handle_result(const std::string& id, WorkerInfo& w, const ResultMsg& r) {
    if (!w.busy || w.busy->index != r.index) {
      note_drop("RESULT of trial " + std::to_string(r.index) + " from " + w.name + ": not its trial");
      return;
    }
    const Busy busy = *w.busy;
    w.busy.reset();
    if (busy.wave != wave_id) return;  // the run moved on; the result cannot change anything
    const TrialRecord& expect = wave[busy.pos];
    if (r.cfg_hash != expect.hash) {
      note_drop("RESULT of trial " + std::to_string(r.index) + " from " + w.name + ": config hash " +
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
    longest_ms = std::max(longest_ms, ms_since(busy.sent));
    TrialRecord t = expect;
    t.ok = r.ok;
    t.error = r.ok ? "" : r.error;
    t.metric = r.metric;
    t.latency_ms = r.latency_ms;
    t.latency_error_ms = r.latency_error_ms;
    t.fp32_ratio = r.fp32_ratio;
    t.fp32_ratio_error = r.fp32_ratio_error;
    t.model_bytes = r.model_bytes;
    t.seconds = r.seconds;
    if (baseline_wave) baseline_worker = w.name;
    else ++trials_by_worker[w.name];
    results[busy.pos] = std::move(t);
    cv.notify_all();
  }

  // At most kMaxFramesPerPoll frames, and kMaxFramesPerPeerPerPoll per peer; the rest waits in
  // libzmq (bounded by kCoordinatorRecvHwm per peer) for the next round.
  void receive_some() {
    backlog = false;
    std::map<std::string, int> taken;
    for (int n = 0; n < kMaxFramesPerPoll; ++n) {
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
          note_drop("a multi-frame message from " + peer(id.to_string()));
          continue;
        }
      } catch (const zmq::error_t& e) {
        log(std::string("receive failed: ") + e.what());
        return;
      }
      const std::string who = id.to_string();
      if (++taken[who] > kMaxFramesPerPeerPerPoll) {
        note_drop("a frame from " + peer(who) + ": more than " + std::to_string(kMaxFramesPerPeerPerPoll) +
                  " in one poll");
        continue;
      }
      handle(who, body);
    }
    backlog = true;
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
      const Sent r = send_to(id, m);
      if (r == Sent::kGone) unreachable.push_back(id);
      if (r != Sent::kOk) continue;
      queued.erase(queued.begin());
      w.busy = Busy{wave_id, pos, t.index, Clock::now()};
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
      int64_t timeout = std::clamp<int64_t>(opts.timing.heartbeat_ms - ms_since(last_heartbeat), 0, 1000);
      if (backlog) timeout = 0;
      else if (fetches_waiting()) timeout = std::min<int64_t>(timeout, kFullBackoffMs);
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
      receive_some();
      check_liveness();
      check_deadlines();
      configure_waiting();
      serve_fetches();
      dispatch();
      heartbeat();
      expire_windows();
      summarize_drops();
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
    st.sock.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxWorkerMessageBytes));
    st.sock.set(zmq::sockopt::sndhwm, kCoordinatorSendHwm);
    st.sock.set(zmq::sockopt::rcvhwm, kCoordinatorRecvHwm);
    // libzmq closes a connection whose peer stops answering ZMTP pings (e.g. stopped reading),
    // which frees its queues; more lenient than the message-level liveness.
    const int ivl = static_cast<int>(std::min<int64_t>(st.opts.timing.heartbeat_ms, 1 << 30));
    st.sock.set(zmq::sockopt::heartbeat_ivl, ivl);
    st.sock.set(zmq::sockopt::heartbeat_timeout,
                static_cast<int>(std::min<int64_t>(2 * st.opts.timing.liveness_ms(), 1 << 30)));
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
  m.latency_error_ms = got->latency_error_ms;
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
  out.trial_deadline_ms = s.deadline_ms();
  out.inflight_bytes = s.inflight;
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
