// `qtune worker --connect tcp://HOST:PORT`: serve a coordinator's trials until it ends the run.
// Also the hidden `qtune send-frame`, which sends one bad frame to a coordinator for tests.
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <msgpack.hpp>
#include <thread>
#include <zmq.hpp>

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

// One frame a well-behaved peer would never send.
Result<std::string> bad_frame(const std::string& kind) {
  if (kind == "garbage") return std::string("\xc1\xff garbage, not MessagePack \x00\x01", 30);
  if (kind == "truncated") {
    const std::string ready = encode_message(ReadyMsg{"probe", kProtocolVersion, 1, "", {}});
    return ready.substr(0, ready.size() / 2);
  }
  if (kind == "wrong-version") {
    msgpack::sbuffer buf;
    msgpack::packer<msgpack::sbuffer> p(buf);
    p.pack_map(6);
    p.pack("v"); p.pack(kProtocolVersion + 1000);
    p.pack("type"); p.pack("READY");
    p.pack("worker_id"); p.pack("probe");
    p.pack("threads"); p.pack(1);
    p.pack("isa"); p.pack("");
    p.pack("cached"); p.pack(std::vector<std::string>{});
    return std::string(buf.data(), buf.size());
  }
  if (kind == "oversize") return std::string(kMaxMessageBytes + 1, 'x');
  return Status::InvalidInput("--kind: garbage, truncated, wrong-version or oversize, not '" + kind + "'");
}

Result<int> run_send_frame(const Args& args) {
  if (!args.has("--connect") || !args.has("--kind")) {
    return Status::InvalidInput("usage: qtune send-frame --connect ENDPOINT --kind KIND");
  }
  QT_ASSIGN_OR_RETURN(std::string frame, bad_frame(args.get("--kind", "")));
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 2000);
  try {
    sock.connect(args.get("--connect", ""));
    sock.send(zmq::buffer(frame), zmq::send_flags::none);
  } catch (const zmq::error_t& e) {
    return Status::InvalidInput(std::string("--connect: ") + e.what());
  }
  // Give the peer a moment to answer (it should not, or with DISCONNECT{rejoin}).
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  return 0;
}

}  // namespace

int cmd_send_frame(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--connect", "--kind"}, {});
  Result<int> rc = args.ok() ? run_send_frame(args.value()) : Result<int>(args.status());
  if (!rc.ok()) {
    std::cerr << "qtune send-frame: " << rc.status().message() << "\n";
    return rc.status().exit_code();
  }
  return rc.value();
}

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
