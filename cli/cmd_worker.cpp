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
#include "worker/curve.h"
#include "worker/worker_loop.h"

namespace qtune::cli {
namespace {

constexpr const char* kWorkerUsage =
    "usage: qtune worker --connect tcp://HOST:PORT [--threads N] [--cache DIR | --shared-path]\n"
    "                    [--curve --curve-secret FILE --curve-server-key FILE | --insecure]\n"
    "                    [--simulate-ms MS] [--heartbeat-ms MS]";

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
  if (args.has("--cache") && args.has("--shared-path")) {
    return Status::InvalidInput("--cache and --shared-path exclude each other");
  }
  opts.cache_dir = args.get("--cache", "");
  opts.shared_path = args.has("--shared-path");
  QT_RETURN_IF_ERROR(curve_client_options(args, &opts));
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

Result<int> run_keygen(const Args& args) {
  if (args.positional.size() != 1) return Status::InvalidInput("usage: qtune keygen OUT_PREFIX");
  const std::string prefix = args.positional[0];
  QT_ASSIGN_OR_RETURN(CurveKeypair k, generate_curve_keypair());
  QT_RETURN_IF_ERROR(write_curve_keypair(k, prefix));
  std::cout << "wrote " << prefix << ".key (secret, mode 0600) and " << prefix << ".pub (public: "
            << k.public_z85 << ")\n";
  return 0;
}

}  // namespace

bool is_loopback_endpoint(const std::string& endpoint) {
  if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
  if (endpoint.rfind("tcp://", 0) != 0) return false;
  std::string host = endpoint.substr(6);
  if (const size_t semi = host.find(';'); semi != std::string::npos) host = host.substr(semi + 1);
  if (!host.empty() && host[0] == '[') {
    return host.rfind("[::1]", 0) == 0;
  }
  host = host.substr(0, host.rfind(':'));
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "lo";
}

int cmd_keygen(int argc, char** argv) {
  auto args = parse_args(argc, argv, 2, {}, {});
  Result<int> rc = args.ok() ? run_keygen(args.value()) : Result<int>(args.status());
  if (!rc.ok()) {
    std::cerr << "qtune keygen: " << rc.status().message() << "\n";
    return rc.status().exit_code();
  }
  return rc.value();
}

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
  auto args = parse_args(argc, argv, 2,
                         {"--connect", "--threads", "--simulate-ms", "--heartbeat-ms", "--cache",
                          "--curve-secret", "--curve-server-key"},
                         {"--shared-path", "--curve", "--insecure"});
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
