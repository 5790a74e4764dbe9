// qtune: the one binary. Each subcommand parses its arguments, calls into the libraries and maps
// Status to the exit code (0 ok, 1 goal not met, 2 bad input, 3 internal error).
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "common/size_check.h"

namespace {

constexpr const char* kUsage = R"(usage: qtune <command> [options]

commands:
  tune CONFIG.yaml [--out DIR] [--workers N] [--resume [--allow-changed-goal]] [--reuse DIR] [--json]
       [--quiet] [--progress-every SECONDS]
                               find the fastest int8/bf16/fp32 mix that meets the accuracy goal;
                               --workers N evaluates on N local worker processes (0: in-process);
                               --resume continues from the output directory's journal
                               (with none there yet, it starts the run); writes report.json and
                               report.html; a live status line on a terminal, else a progress
                               line every 30 s (--progress-every), none with --quiet
  report OUT_DIR [--json]      rebuild report.html and the summary table from a run's journal
                               (also of a run that was interrupted)
  coordinator CONFIG.yaml --bind tcp://*:5555 [--out DIR] [--resume] [--reuse DIR] [--json]
              [--quiet] [--progress-every SECONDS] [--heartbeat-ms MS]
              [--trial-deadline-s S] [--max-inflight-mb MB]
              [--curve --curve-secret FILE --curve-allow DIR_OR_FILES | --insecure]
                               tune on the workers that connect (`qtune worker`); a bind that
                               is not loopback needs --curve (or --insecure); a trial still
                               running after S seconds (default: 20x the longest measured,
                               at least 120) goes to another worker
  worker --connect tcp://HOST:PORT [--threads N] [--cache DIR | --shared-path]
         [--curve --curve-secret FILE --curve-server-key FILE | --insecure]
         [--simulate-ms MS] [--heartbeat-ms MS]
                               evaluate a coordinator's trials; files come by hash into the
                               cache (default ~/.cache/qtune); --simulate-ms sleeps instead
  health --connect tcp://HOST:PORT [--timeout-ms MS] [--curve --curve-secret FILE
         --curve-server-key FILE | --insecure]
                               container health probe: exit 0 when the coordinator completes a
                               ZeroMQ (CURVE) handshake with these keys within MS (default
                               5000), 1 when not; sends no message, so the run never sees it
  keygen OUT_PREFIX            write a CURVE keypair: OUT_PREFIX.key (secret) and OUT_PREFIX.pub
  eval MODEL.onnx --data DATA.yaml [--adaptor native|onednn | --reference] [--json] [--threads N]
                               top-1 accuracy and images/s of a model on a dataset; QDQ models
                               run on the adaptor's int8 kernels (default native), with
                               --reference as fp32 fake-quant on the reference executor
  run MODEL.onnx --inputs DIR --out DIR [--adaptor A | --reference]
                               run once on DIR/input_<i>.npy, write OUT/output_<i>.npy
  quantize MODEL.onnx --data CALIB.yaml --out OUT.onnx [--adaptor A] [--tune-cfg CFG.yaml]
                               calibrate and write the QDQ model of one tune_cfg
                               (default: every quantizable op int8, minmax)
  caps MODEL.onnx [--adaptor A] [--json]
                               the adaptor's quantization capability for the model
  conformance DIR... [--exclusions FILE]
                               run ONNX backend node tests; last line "N passed, M failed, K skipped"
  ops [--json]                 every operator qtune runs: domain, opset ranges, element types,
                               and which adaptors quantize it
  check MODEL.onnx [--json]    every node of a model qtune cannot run (exit 1 if any)
  bench kernels|peak [--json]  int8/fp32 kernels side by side with oneDNN; instruction peaks
  bench dispatch [--json]      coordinator overhead per trial with 1..256 simulated workers
  bench model MODEL.onnx [--batch N] [--shape NAME=DxD...] [--threads T]
              [--adaptor A | --reference] [--warmup W] [--runs R] [--json]
              [--profile [--by-node]]
                               latency of one batch on random input (median, min, max ms)
                               and the peak RSS, run as eval runs it; --profile: wall and
                               CPU ms per op type (or node) on stderr
  version                      print the version and the CPU features in use

environment: tune, coordinator, worker and health take every option from a variable too:
  QTUNE_ and the option's name upper-cased, '-' as '_' (QTUNE_BIND, QTUNE_CONNECT, QTUNE_OUT,
  QTUNE_THREADS, QTUNE_CACHE, QTUNE_CURVE_SECRET, QTUNE_CURVE_SERVER_KEY, QTUNE_CURVE_ALLOW,
  QTUNE_HEARTBEAT_MS, ...). A flag is on for 1/true/yes/on, off for 0/false/no/off; an empty
  variable is unset. The command line wins, also over the other side of an exclusive pair
  (--insecure on the command line ignores QTUNE_CURVE*).

size limits: QTUNE_MAX_TENSOR_BYTES bounds one tensor (and one data file; default: this host's
  memory), QTUNE_MAX_MODEL_BYTES one ONNX file (default 2 GiB); larger inputs are refused (exit 2)

exit codes: 0 success, 1 goal not met, 2 bad input, 3 internal error
)";

// An installed tree (cmake --install) keeps the capability YAMLs in share/qtune/capabilities,
// beside bin/; the adaptors' lookup knows the source layout and $QTUNE_CAPABILITIES_DIR.
void use_installed_capabilities() {
  if (const char* env = std::getenv("QTUNE_CAPABILITIES_DIR"); env && *env) return;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return;
  const std::filesystem::path dir = exe.parent_path() / ".." / "share" / "qtune" / "capabilities";
  if (std::filesystem::is_directory(dir, ec)) {
    setenv("QTUNE_CAPABILITIES_DIR", dir.lexically_normal().c_str(), 1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  use_installed_capabilities();
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "help") {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  if (qtune::Status limits = qtune::set_size_limits_from_environment(); !limits.ok()) {
    std::cerr << "qtune " << cmd << ": " << limits.message() << "\n";
    return limits.exit_code();
  }
  try {
    if (cmd == "eval") return qtune::cli::cmd_eval(argc, argv);
    if (cmd == "conformance") return qtune::cli::cmd_conformance(argc, argv);
    if (cmd == "caps") return qtune::cli::cmd_caps(argc, argv);
    if (cmd == "ops") return qtune::cli::cmd_ops(argc, argv);
    if (cmd == "run") return qtune::cli::cmd_run(argc, argv);
    if (cmd == "check") return qtune::cli::cmd_check(argc, argv);
    if (cmd == "tune") return qtune::cli::cmd_tune(argc, argv);
    if (cmd == "report") return qtune::cli::cmd_report(argc, argv);
    if (cmd == "worker") return qtune::cli::cmd_worker(argc, argv);
    if (cmd == "coordinator") return qtune::cli::cmd_coordinator(argc, argv);
    if (cmd == "send-frame") return qtune::cli::cmd_send_frame(argc, argv);
    if (cmd == "keygen") return qtune::cli::cmd_keygen(argc, argv);
    if (cmd == "health") return qtune::cli::cmd_health(argc, argv);
    if (cmd == "quantize") return qtune::cli::cmd_quantize(argc, argv);
    if (cmd == "bench" && argc > 2 && std::string(argv[2]) == "dispatch") {
      return qtune::cli::cmd_bench_dispatch(argc, argv);
    }
    if (cmd == "bench" && argc > 2 && std::string(argv[2]) == "model") {
      return qtune::cli::cmd_bench_model(argc, argv);
    }
    if (cmd == "bench") return qtune::cli::cmd_bench(argc, argv);
    if (cmd == "version" || cmd == "--version") return qtune::cli::cmd_version(argc, argv);
  } catch (const qtune::SizeError& e) {
    std::cerr << "qtune " << cmd << ": " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "qtune " << cmd << ": internal error: " << e.what() << "\n";
    return 3;
  }
  std::cerr << "qtune: unknown command '" << cmd << "'\n" << kUsage;
  return 2;
}
