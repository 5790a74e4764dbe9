// The scheduler with real sockets on loopback and simulated workers (run_worker threads that
// sleep instead of evaluating): dispatch in parallel, index-order recording, late joiners, and
// the requeue of a trial whose worker goes silent.
#include "coordinator/scheduler.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>
#include <zmq.hpp>

#include "worker/curve.h"
#include "worker/worker_loop.h"

namespace qtune {
namespace {

using Clock = std::chrono::steady_clock;

// Waves of `wave` trials until `total`; configs differ by calibration size, so hashes differ.
class WaveStrategy : public Strategy {
 public:
  WaveStrategy(int64_t total, int64_t wave) : total_(total), wave_(wave) {}
  std::string name() const override { return "waves"; }
  std::vector<TrialProposal> next(const StrategyContext&, const TuningHistory& h) const override {
    std::vector<TrialProposal> out;
    for (int64_t i = static_cast<int64_t>(h.trials.size()); i < total_ && static_cast<int64_t>(out.size()) < wave_; ++i) {
      TuneConfig c;
      c.calib_sampling_size = i + 1;
      out.push_back({c, "wave"});
    }
    return out;
  }
  bool stops_at_first_pass() const override { return false; }

 private:
  int64_t total_, wave_;
};

SchedulerOptions options(int64_t heartbeat_ms = 200) {
  SchedulerOptions o;
  o.bind = "tcp://127.0.0.1:*";
  o.config_path = "/nonexistent/simulated.yaml";
  o.hashes = {"c", "m", "d", "s"};
  o.timing.heartbeat_ms = heartbeat_ms;
  o.log = [](const std::string&) {};
  return o;
}

std::thread simulated_worker(const std::string& endpoint, int64_t ms, int64_t heartbeat_ms = 200) {
  return std::thread([=] {
    WorkerOptions w;
    w.connect = endpoint;
    w.simulate_ms = ms;
    w.timing.heartbeat_ms = heartbeat_ms;
    w.log = [](const std::string&) {};
    Result<WorkerSummary> r = run_worker(w);
    EXPECT_TRUE(r.ok()) << r.status().message();
  });
}

TuneOutcome tune(Scheduler& s, const Strategy& strategy, int64_t max_trials = 1000) {
  TuneRunOptions opts;
  opts.objective = "accuracy";
  opts.exit_policy.max_trials = max_trials;
  TuningHistory h;
  h.baseline_metric = 1.0;
  return run_tuning_waves(TuningSpace{}, strategy, opts, h,
                          [&](const std::vector<TrialRecord>& wave, const WaveControl& c) {
                            s.evaluate_wave(wave, c);
                          });
}

TEST(Scheduler, ParallelWorkersRecordInIndexOrder) {
  auto s = Scheduler::create(options());
  ASSERT_TRUE(s.ok()) << s.status().message();
  constexpr int64_t kTrials = 80, kMs = 20, kWorkers = 4;
  std::vector<std::thread> workers;
  for (int k = 0; k < kWorkers; ++k) workers.push_back(simulated_worker((*s)->endpoint(), kMs));
  const WaveStrategy strategy(kTrials, 40);
  const auto t0 = Clock::now();
  const TuneOutcome out = tune(**s, strategy);
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const SchedulerStatus st = (*s)->status();
  (*s)->finish("done");
  for (auto& w : workers) w.join();

  ASSERT_EQ(out.history.trials.size(), static_cast<size_t>(kTrials));
  for (int64_t i = 0; i < kTrials; ++i) {
    EXPECT_EQ(out.history.trials[i].index, i);
    EXPECT_EQ(out.history.trials[i].cfg.calib_sampling_size, i + 1);
    EXPECT_TRUE(out.history.trials[i].ok) << out.history.trials[i].error;
  }
  EXPECT_EQ(st.dispatched, kTrials);
  EXPECT_EQ(st.joined, kWorkers);
  // No bound on the time: a loaded machine starts worker threads late; the figure is for the log.
  const double serial = kTrials * kMs / 1000.0;
  std::printf("[ info ] %lld simulated %lld ms trials on %lld workers: %.2f s, %.0f trials/s (serial %.2f s)\n",
              static_cast<long long>(kTrials), static_cast<long long>(kMs), static_cast<long long>(kWorkers),
              seconds, kTrials / seconds, serial);
}

TEST(Scheduler, WaitsForALateWorker) {
  auto s = Scheduler::create(options());
  ASSERT_TRUE(s.ok());
  std::thread late([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    simulated_worker((*s)->endpoint(), 0).join();
  });
  const WaveStrategy strategy(5, 5);
  const TuneOutcome out = tune(**s, strategy);
  (*s)->finish("done");
  late.join();
  EXPECT_EQ(out.history.trials.size(), 5u);
}

// A peer that says READY, takes a TRIAL and then falls silent loses it to a real worker.
TEST(Scheduler, SilentWorkerTrialIsRequeued) {
  auto s = Scheduler::create(options(100));
  ASSERT_TRUE(s.ok());
  zmq::context_t ctx(1);
  zmq::socket_t mute(ctx, zmq::socket_type::dealer);
  mute.set(zmq::sockopt::linger, 0);
  mute.connect((*s)->endpoint());
  const std::string ready = encode_message(ReadyMsg{"mute", kProtocolVersion, 1, "", {}});
  mute.send(zmq::buffer(ready));
  // Let the mute peer be the only worker when the wave starts, so it takes trial 0.
  while ((*s)->status().workers == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::thread real;
  std::thread driver([&] {
    while ((*s)->status().running == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    real = simulated_worker((*s)->endpoint(), 0, 100);
  });
  const WaveStrategy strategy(3, 3);
  const TuneOutcome out = tune(**s, strategy);
  const SchedulerStatus st = (*s)->status();
  (*s)->finish("done");
  driver.join();
  real.join();
  ASSERT_EQ(out.history.trials.size(), 3u);
  EXPECT_EQ(st.lost, 1);
  EXPECT_GE(st.requeued, 1);
}

TEST(Scheduler, BadFramesAreDropped) {
  auto s = Scheduler::create(options());
  ASSERT_TRUE(s.ok());
  zmq::context_t ctx(1);
  zmq::socket_t peer(ctx, zmq::socket_type::dealer);
  peer.set(zmq::sockopt::linger, 0);
  peer.connect((*s)->endpoint());
  peer.send(zmq::buffer(std::string("\xc1garbage")));
  peer.send(zmq::buffer(encode_message(HeartbeatMsg{-1}).substr(0, 5)));
  // Multi-part: never sent by a DEALER worker.
  peer.send(zmq::buffer(encode_message(HeartbeatMsg{-1})), zmq::send_flags::sndmore);
  peer.send(zmq::buffer(std::string("x")));
  // A well-formed message from a peer that never said READY: asked to rejoin.
  peer.send(zmq::buffer(encode_message(HeartbeatMsg{-1})));
  zmq::message_t reply;
  peer.set(zmq::sockopt::rcvtimeo, 5000);
  ASSERT_TRUE(peer.recv(reply));
  Result<Message> m = decode_message(reply.data(), reply.size());
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(std::holds_alternative<DisconnectMsg>(*m));
  EXPECT_TRUE(std::get<DisconnectMsg>(*m).rejoin);
  EXPECT_EQ((*s)->status().dropped, 4);
  // Still serving.
  std::thread w = simulated_worker((*s)->endpoint(), 0);
  const WaveStrategy strategy(2, 2);
  EXPECT_EQ(tune(**s, strategy).history.trials.size(), 2u);
  (*s)->finish("done");
  w.join();
}

}  // namespace
}  // namespace qtune

namespace qtune {
namespace {

// CURVE: a worker whose key is listed serves trials; one with another key is refused by the
// ZAP handler, logged, and told so (run_worker returns an error instead of retrying forever).
TEST(Scheduler, CurveAdmitsOnlyListedWorkerKeys) {
  Result<CurveKeypair> server = generate_curve_keypair(), good = generate_curve_keypair(),
                       bad = generate_curve_keypair();
  ASSERT_TRUE(server.ok() && good.ok() && bad.ok()) << server.status().message();
  SchedulerOptions o = options();
  o.curve_secret = server->secret_z85;
  o.curve_allow = {good->public_z85};
  std::mutex mu;
  std::vector<std::string> lines;
  o.log = [&](const std::string& l) {
    std::lock_guard<std::mutex> lk(mu);
    lines.push_back(l);
  };
  auto s = Scheduler::create(o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  auto curve_worker = [&](const CurveKeypair& k, Status* out) {
    return std::thread([&, k, out] {
      WorkerOptions w;
      w.connect = (*s)->endpoint();
      w.simulate_ms = 0;
      w.timing.heartbeat_ms = 200;
      w.curve_secret = k.secret_z85;
      w.curve_server_key = server->public_z85;
      w.log = [](const std::string&) {};
      Result<WorkerSummary> r = run_worker(w);
      *out = r.status();
    });
  };
  Status bad_status = Status::Ok(), good_status = Status::Ok();
  std::thread refused = curve_worker(*bad, &bad_status);
  refused.join();  // returns once the handshake is refused
  EXPECT_FALSE(bad_status.ok());
  EXPECT_NE(bad_status.message().find("refused"), std::string::npos) << bad_status.message();
  std::thread admitted = curve_worker(*good, &good_status);
  const WaveStrategy strategy(6, 3);
  const TuneOutcome out = tune(**s, strategy);
  const SchedulerStatus st = (*s)->status();
  (*s)->finish("done");
  admitted.join();
  EXPECT_TRUE(good_status.ok()) << good_status.message();
  EXPECT_EQ(out.history.trials.size(), 6u);
  EXPECT_GE(st.refused, 1);
  EXPECT_EQ(st.joined, 1);
  std::lock_guard<std::mutex> lk(mu);
  bool logged = false;
  for (const auto& l : lines) logged |= l.find(bad->public_z85) != std::string::npos;
  EXPECT_TRUE(logged) << "the refused key is not in the coordinator's log";
}

// The baseline is a trial like any other: a worker measures it and it is reported by name.
TEST(Scheduler, BaselineIsMeasuredByAWorker) {
  auto s = Scheduler::create(options());
  ASSERT_TRUE(s.ok());
  std::thread w = simulated_worker((*s)->endpoint(), 5);
  Result<TrialMetrics> base = (*s)->evaluate_baseline();
  ASSERT_TRUE(base.ok()) << base.status().message();
  const SchedulerDistribution d = (*s)->distribution();
  (*s)->finish("done");
  w.join();
  EXPECT_FALSE(d.baseline_worker.empty());
  EXPECT_TRUE(d.trials.empty());  // the baseline is not counted as a trial
}

// FETCH answers: chunks of a served file, an error for an unknown hash; CONFIG is held until
// publish_files().
TEST(Scheduler, ServesFilesByHashInChunksAfterPublishing) {
  const std::string path = ::testing::TempDir() + "/qtune_sched_file.bin";
  std::string content(3 * 1000 * 1000 + 17, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + (i >> 9));
  {
    std::ofstream f(path, std::ios::binary);
    f << content;
  }
  const RunFile file{"model", path, file_hash(path).value(), static_cast<int64_t>(content.size())};
  SchedulerOptions o = options();
  o.hold_config = true;
  auto s = Scheduler::create(o);
  ASSERT_TRUE(s.ok());
  zmq::context_t ctx(1);
  zmq::socket_t d(ctx, zmq::socket_type::dealer);
  d.set(zmq::sockopt::rcvtimeo, 100);
  d.connect((*s)->endpoint());
  auto send = [&](const Message& m) { d.send(zmq::buffer(encode_message(m)), zmq::send_flags::none); };
  // Skips heartbeats; nullopt after `ms` without another message.
  auto next = [&](int ms = 3000) -> std::optional<Message> {
    for (const auto until = Clock::now() + std::chrono::milliseconds(ms); Clock::now() < until;) {
      zmq::message_t f;
      if (!d.recv(f)) continue;
      Result<Message> m = decode_message(f.data(), f.size());
      if (m.ok() && !std::holds_alternative<HeartbeatMsg>(*m)) return *m;
    }
    return std::nullopt;
  };
  send(ReadyMsg{"fetcher", kProtocolVersion, 1, "", {}});
  EXPECT_FALSE(next(300).has_value()) << "CONFIG sent before the file list was complete";
  (*s)->publish_files({file});
  std::optional<Message> cfg = next();
  ASSERT_TRUE(cfg && std::holds_alternative<ConfigMsg>(*cfg)) << (cfg ? message_name(*cfg) : "timeout");
  ASSERT_EQ(std::get<ConfigMsg>(*cfg).files.size(), 1u);
  EXPECT_EQ(std::get<ConfigMsg>(*cfg).files[0], file);
  std::string got;
  while (static_cast<int64_t>(got.size()) < file.size) {
    send(FetchMsg{file.hash, static_cast<int64_t>(got.size()), kChunkBytes});
    std::optional<Message> m = next();
    ASSERT_TRUE(m && std::holds_alternative<ChunkMsg>(*m));
    const ChunkMsg& c = std::get<ChunkMsg>(*m);
    ASSERT_TRUE(c.error.empty()) << c.error;
    ASSERT_EQ(c.offset, static_cast<int64_t>(got.size()));
    ASSERT_LE(static_cast<int64_t>(c.data.size()), kChunkBytes);
    ASSERT_EQ(c.total, file.size);
    got += c.data;
  }
  EXPECT_EQ(got, content);
  send(FetchMsg{"0123456789abcdef", 0, 10});
  std::optional<Message> m = next();
  ASSERT_TRUE(m && std::holds_alternative<ChunkMsg>(*m));
  EXPECT_FALSE(std::get<ChunkMsg>(*m).error.empty());
  (*s)->finish("done");
}

}  // namespace
}  // namespace qtune
