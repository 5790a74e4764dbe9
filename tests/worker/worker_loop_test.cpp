// The worker loop against a hand-driven coordinator socket: what it sends must fit the
// coordinator's limits (kMaxWorkerMessageBytes), whatever it is asked to do.
#include "worker/worker_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>
#include <zmq.hpp>

namespace qtune {
namespace {

using Clock = std::chrono::steady_clock;

// A trial whose tune_cfg names an op with a 200 KB name (an explicit YAML key) fails with an error quoting it; the
// RESULT still fits the coordinator's frame limit (cut to kMaxErrorChars), so the coordinator
// hears the failure instead of libzmq closing the worker's connection.
TEST(WorkerLoop, LongErrorsAreCutToFitTheCoordinatorsFrameLimit) {
  zmq::context_t ctx(1);
  zmq::socket_t router(ctx, zmq::socket_type::router);
  router.set(zmq::sockopt::linger, 0);
  router.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(kMaxWorkerMessageBytes));
  router.set(zmq::sockopt::rcvtimeo, 200);
  router.bind("tcp://127.0.0.1:*");
  const std::string endpoint = router.get(zmq::sockopt::last_endpoint);
  std::atomic<bool> worker_done{false};
  std::thread worker([&] {
    WorkerOptions w;
    w.connect = endpoint;
    w.simulate_ms = 0;
    w.log = [](const std::string&) {};
    EXPECT_TRUE(run_worker(w).ok());
    worker_done = true;
  });
  auto send = [&](const std::string& id, const Message& m) {
    router.send(zmq::buffer(id), zmq::send_flags::sndmore);
    router.send(zmq::buffer(encode_message(m)), zmq::send_flags::none);
  };
  std::optional<std::string> id;
  std::optional<ResultMsg> result;
  const std::string name(200 * 1000, 'n');
  for (const auto until = Clock::now() + std::chrono::seconds(20); Clock::now() < until && !result;) {
    zmq::message_t from, body;
    if (!router.recv(from)) continue;
    if (!router.recv(body)) continue;
    Result<Message> m = decode_message(body.data(), body.size());
    ASSERT_TRUE(m.ok()) << m.status().message();
    if (std::holds_alternative<ReadyMsg>(*m)) {
      id = from.to_string();
      send(*id, ConfigMsg{"c", "/nonexistent.yaml", 1000, 3, {}});
      send(*id, TrialMsg{0, "h", "ops:\n  ? " + name + "\n  : {precision: int3}\n", "m", "d", "s", false});
    } else if (std::holds_alternative<ResultMsg>(*m)) {
      result = std::get<ResultMsg>(*m);
    } else if (std::holds_alternative<HeartbeatMsg>(*m)) {
      send(from.to_string(), HeartbeatMsg{-1});
    }
  }
  // Ends the worker: DISCONNECT to whichever connection it speaks on (a reconnect, e.g. after
  // libzmq refused an oversize frame, comes under a new identity) until it has returned.
  while (!worker_done) {
    zmq::message_t from, body;
    if (!router.recv(from) || !router.recv(body)) continue;
    send(from.to_string(), DisconnectMsg{"done", false});
  }
  worker.join();
  ASSERT_TRUE(id.has_value()) << "the worker never said READY";
  ASSERT_TRUE(result.has_value()) << "no RESULT arrived";
  EXPECT_FALSE(result->ok);
  EXPECT_EQ(result->code, ResultCode::kTrialFailed);
  EXPECT_LE(result->error.size(), kMaxErrorChars);
  EXPECT_NE(result->error.find("nnnn"), std::string::npos) << result->error.substr(0, 200);
}

}  // namespace
}  // namespace qtune
