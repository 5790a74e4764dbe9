// `qtune worker --connect tcp://HOST:PORT`: serve a coordinator's trials until it ends the run.
// `qtune health --connect tcp://HOST:PORT`: the container health probe, a ZeroMQ handshake with
// the coordinator using a worker's keys. Also the hidden `qtune send-frame`, which sends bad
// frames (or a flood of them) to a coordinator for tests.
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <msgpack.hpp>
#include <thread>
#include <zmq.hpp>

#include "cli/args.h"
#include "cli/commands.h"
#include "common/endpoint.h"
#include "cli/help.h"
#include "worker/curve.h"
#include "worker/worker_loop.h"

namespace qtune::cli {
namespace {

Result<int64_t> non_negative_int(const std::string& flag, const std::string& s) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0) {
    return Status::InvalidInput(flag + " expects a non-negative integer, got '" + s + "'");
  }
  return v;
}

// --curve needs both key files; without it, a link that leaves this host needs --insecure.
Status curve_client_options(const Args& args, WorkerOptions* opts) {
  const bool curve = args.has("--curve");
  if (!curve && (args.has("--curve-secret") || args.has("--curve-server-key"))) {
    return Status::InvalidInput("--curve-secret and --curve-server-key need --curve");
  }
  if (curve) {
    if (args.has("--insecure")) return Status::InvalidInput("--curve and --insecure exclude each other");
    if (!args.has("--curve-secret") || !args.has("--curve-server-key")) {
      return Status::InvalidInput("--curve needs --curve-secret FILE (this worker's key, from qtune keygen) and "
                                  "--curve-server-key FILE (the coordinator's .pub)");
    }
    QT_ASSIGN_OR_RETURN(opts->curve_secret, read_curve_key(args.get("--curve-secret", "")));
    QT_ASSIGN_OR_RETURN(opts->curve_server_key, read_curve_key(args.get("--curve-server-key", "")));
    return Status::Ok();
  }
  if (!is_loopback_endpoint(opts->connect) && !args.has("--insecure")) {
    return Status::InvalidInput("--connect " + opts->connect +
                                " leaves this host: use --curve (qtune keygen) so only known workers join and "
                                "trials travel encrypted, or --insecure for plain TCP on a trusted network");
  }
  return Status::Ok();
}

Result<int> run_worker_command(const Args& args) {
  if (!args.positional.empty()) return usage_error("worker", "takes no operand");
  if (!args.has("--connect")) return usage_error("worker", "needs --connect ENDPOINT");
  WorkerOptions opts;
  opts.connect = args.get("--connect", "");
  if (args.has("--threads")) {
    QT_ASSIGN_OR_RETURN(opts.threads, positive_int("--threads", args.get("--threads", "")));
  }
  if (args.has("--simulate-ms")) {
    QT_ASSIGN_OR_RETURN(opts.simulate_ms, non_negative_int("--simulate-ms", args.get("--simulate-ms", "")));
  }
  if (args.has("--heartbeat-ms")) {
    QT_ASSIGN_OR_RETURN(opts.timing.heartbeat_ms, heartbeat_ms(args.get("--heartbeat-ms", "")));
  }
  if (args.has("--cache") && args.has("--shared-path")) {
    return Status::InvalidInput("--cache and --shared-path exclude each other");
  }
  opts.cache_dir = args.get("--cache", "");
  opts.shared_path = args.has("--shared-path");
  if (args.has("--cache-max-bytes")) {
    QT_ASSIGN_OR_RETURN(opts.cache_max_bytes, positive_int("--cache-max-bytes", args.get("--cache-max-bytes", "")));
  }
  opts.allow_metric_command = args.has("--allow-metric-command");
  QT_RETURN_IF_ERROR(curve_client_options(args, &opts));
  QT_ASSIGN_OR_RETURN(WorkerSummary s, run_worker(opts));
  std::cerr << "worker: " << s.trials << " trial(s) served, " << s.reconnects << " reconnect(s)\n";
  return 0;
}

// A handshake is what a probe can ask without joining the run: the coordinator's socket (and,
// with CURVE, its ZAP thread) must answer, while no message reaches the scheduler, so probes
// never show up in its counters or the report.
Result<int> run_health(const Args& args) {
  if (!args.positional.empty()) return usage_error("health", "takes no operand");
  if (!args.has("--connect")) return usage_error("health", "needs --connect ENDPOINT");
  WorkerOptions opts;
  opts.connect = args.get("--connect", "");
  int64_t timeout_ms = 5000;
  if (args.has("--timeout-ms")) {
    QT_ASSIGN_OR_RETURN(timeout_ms, positive_int("--timeout-ms", args.get("--timeout-ms", "")));
  }
  QT_RETURN_IF_ERROR(curve_client_options(args, &opts));
  const bool curve = !opts.curve_secret.empty();
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 0);
  if (curve) {
    QT_ASSIGN_OR_RETURN(std::string pub, curve_public_key(opts.curve_secret));
    sock.set(zmq::sockopt::curve_serverkey, zmq::buffer(curve_key_bytes(opts.curve_server_key)));
    sock.set(zmq::sockopt::curve_publickey, zmq::buffer(curve_key_bytes(pub)));
    sock.set(zmq::sockopt::curve_secretkey, zmq::buffer(curve_key_bytes(opts.curve_secret)));
  }
  const char* mon = "inproc://qtune-health-monitor";
  zmq_socket_monitor(sock.handle(), mon,
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                         ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL);
  zmq::socket_t monitor(ctx, zmq::socket_type::pair);
  monitor.connect(mon);
  try {
    sock.connect(opts.connect);
  } catch (const zmq::error_t& e) {
    return Status::InvalidInput("--connect " + opts.connect + ": " + e.what());
  }
  const auto t0 = std::chrono::steady_clock::now();
  const auto deadline = t0 + std::chrono::milliseconds(timeout_ms);
  const std::string what = opts.connect + (curve ? " (CURVE)" : "");
  int rc = -1;
  std::string verdict;
  while (rc < 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      rc = 1;
      verdict = "unhealthy: no ZeroMQ handshake with " + what + " within " + std::to_string(timeout_ms) +
                " ms (nothing listening there, or --curve-server-key is not the coordinator's key)";
      break;
    }
    zmq_pollitem_t item{monitor.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, static_cast<long>(left.count())) <= 0) continue;
    zmq::message_t ev, addr;
    if (!monitor.recv(ev, zmq::recv_flags::none) || ev.size() < 6) continue;
    if (ev.more()) (void)monitor.recv(addr, zmq::recv_flags::none);
    uint16_t event = 0;
    std::memcpy(&event, ev.data(), sizeof event);
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
      rc = 0;
      verdict = "healthy: " + what + " completed the handshake in " + fixed(ms, 1) + " ms";
    } else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
      rc = 1;
      verdict = "unhealthy: " + what + " refused this CURVE key (not in its --curve-allow)";
    } else {
      rc = 1;
      verdict = "unhealthy: the handshake with " + what +
                " failed (wrong --curve-server-key, CURVE on one side only, or not a qtune coordinator)";
    }
  }
  zmq_socket_monitor(sock.handle(), nullptr, 0);
  (rc == 0 ? std::cout : std::cerr) << verdict << "\n";
  return rc;
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
  // Larger than any worker message, within the protocol's general limit.
  if (kind == "large") return std::string(kMaxMessageBytes - 1, 'x');
  // Well-formed, from a peer that never said READY.
  if (kind == "heartbeat") return encode_message(HeartbeatMsg{-1});
  return Status::InvalidInput("--kind: garbage, truncated, wrong-version, oversize, large, heartbeat or "
                              "flood-fetch, not '" + kind + "'");
}

// flood-fetch: join as a worker, then ask for the first file of CONFIG `count` times and never
// read an answer, as a peer that wants the coordinator to buffer chunks for it.
Status flood_fetch(zmq::socket_t& sock, int64_t count) {
  sock.send(zmq::buffer(encode_message(ReadyMsg{"fetch-flood", kProtocolVersion, 1, "", {}})), zmq::send_flags::none);
  sock.set(zmq::sockopt::rcvtimeo, 20000);
  std::string hash;
  while (hash.empty()) {
    zmq::message_t f;
    if (!sock.recv(f)) return Status::InvalidInput("no CONFIG from the coordinator");
    Result<Message> m = decode_message(f.data(), f.size());
    if (!m.ok() || !std::holds_alternative<ConfigMsg>(*m)) continue;
    const ConfigMsg& c = std::get<ConfigMsg>(*m);
    if (c.files.empty()) return Status::InvalidInput("the coordinator serves no files");
    hash = c.files[0].hash;
  }
  const std::string fetch = encode_message(FetchMsg{hash, 0, kChunkBytes});
  for (int64_t i = 0; i < count; ++i) sock.send(zmq::buffer(fetch), zmq::send_flags::none);
  return Status::Ok();
}

Result<int> run_send_frame(const Args& args) {
  if (!args.has("--connect") || !args.has("--kind")) {
    return Status::InvalidInput(
        "usage: qtune send-frame --connect ENDPOINT --kind KIND [--count N [--hold-ms MS]]");
  }
  const std::string kind = args.get("--kind", "");
  int64_t count = 1, hold_ms = 200;
  if (args.has("--count")) {
    QT_ASSIGN_OR_RETURN(count, positive_int("--count", args.get("--count", "")));
  }
  if (args.has("--hold-ms")) {
    QT_ASSIGN_OR_RETURN(hold_ms, non_negative_int("--hold-ms", args.get("--hold-ms", "")));
  }
  zmq::context_t ctx(1);
  zmq::socket_t sock(ctx, zmq::socket_type::dealer);
  sock.set(zmq::sockopt::linger, 2000);
  sock.set(zmq::sockopt::sndhwm, 0);  // queue the whole flood; let the receiver refuse it
  try {
    sock.connect(args.get("--connect", ""));
    if (kind == "flood-fetch") {
      QT_RETURN_IF_ERROR(flood_fetch(sock, count));
    } else {
      QT_ASSIGN_OR_RETURN(std::string frame, bad_frame(kind));
      for (int64_t i = 0; i < count; ++i) sock.send(zmq::buffer(frame), zmq::send_flags::none);
    }
  } catch (const zmq::error_t& e) {
    return Status::InvalidInput(std::string("--connect: ") + e.what());
  }
  // Stay connected a while (the receiver answers, if at all, with DISCONNECT{rejoin}; a flood's
  // frames may still be queued).
  std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
  return 0;
}

Result<int> run_keygen(const Args& args) {
  if (args.positional.size() != 1) return usage_error("keygen", "expects one OUT_PREFIX");
  const std::string prefix = args.positional[0];
  QT_ASSIGN_OR_RETURN(CurveKeypair k, generate_curve_keypair());
  QT_RETURN_IF_ERROR(write_curve_keypair(k, prefix));
  std::cout << "wrote " << prefix << ".key (secret, mode 0600) and " << prefix << ".pub (public: "
            << k.public_z85 << ")\n";
  return 0;
}

}  // namespace

int cmd_keygen(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, option_spec("keygen"));
  Result<int> rc = args.ok() ? run_keygen(args.value()) : Result<int>(args.status());
  if (!rc.ok()) {
    std::cerr << "qtune keygen: " << rc.status().message() << "\n";
    return rc.status().exit_code();
  }
  return rc.value();
}

int cmd_send_frame(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {"--connect", "--kind", "--count", "--hold-ms"}, {});
  Result<int> rc = args.ok() ? run_send_frame(args.value()) : Result<int>(args.status());
  if (!rc.ok()) {
    std::cerr << "qtune send-frame: " << rc.status().message() << "\n";
    return rc.status().exit_code();
  }
  return rc.value();
}

const OptionSpec& worker_option_spec() {
  static const OptionSpec spec = [] {
    OptionSpec s = option_spec("worker");
    s.exclusive = {{{"--insecure"}, {"--curve", "--curve-secret", "--curve-server-key"}},
                   {{"--cache", "--cache-max-bytes"}, {"--shared-path"}}};
    return s;
  }();
  return spec;
}

int cmd_health(int argc, char** argv) {
  static const OptionSpec spec = [] {
    OptionSpec s = option_spec("health");
    s.exclusive = {{{"--insecure"}, {"--curve", "--curve-secret", "--curve-server-key"}}};
    return s;
  }();
  auto args = parse_args_env(argc, argv, 2, spec, process_environment());
  Result<int> rc = args.ok() ? run_health(args.value()) : Result<int>(args.status());
  if (!rc.ok()) {
    std::cerr << "qtune health: " << rc.status().message() << "\n";
    if (args.ok() && !args->from_env.empty()) std::cerr << env_note(*args) << "\n";
    if (!args.ok()) std::cerr << usage_of("health") << "\n";
    return rc.status().exit_code();
  }
  return rc.value();
}

int cmd_worker(int argc, char** argv) {
  auto args = parse_args_env(argc, argv, 2, worker_option_spec(), process_environment());
  Result<int> rc = args.ok() ? run_worker_command(args.value()) : Result<int>(args.status());
  if (!rc.ok()) {
    std::cerr << "qtune worker: " << rc.status().message() << "\n";
    if (args.ok() && !args->from_env.empty()) std::cerr << env_note(*args) << "\n";
    if (!args.ok()) std::cerr << usage_of("worker") << "\n";
    return rc.status().exit_code();
  }
  // An abandoned trial may still be running on the evaluation thread: leave without joining it.
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(rc.value());
}

}  // namespace qtune::cli
