// The help table of the qtune subcommands and its renderings (see help.h).
#include "cli/help.h"

#include <iostream>
#include <sstream>

namespace qtune::cli {
namespace {

constexpr size_t kWidth = 100;  // terminal help is wrapped to this many columns

const char* kAdaptorText = "the adaptor whose kernels and capability to use: native or onednn";

const std::vector<CommandHelp>& table() {
  static const std::vector<CommandHelp> commands = {
      {"tune", "CONFIG.yaml",
       "find the fastest int8/bf16/fp32 mix that meets the accuracy goal",
       "Calibrates the model the tuning YAML names (examples/fashion_mnist/*.tune.yaml; every key "
       "is described in common/tuning_config.h), then evaluates the configs its "
       "strategy proposes until one meets the accuracy goal or, with a timeout, until the search "
       "ends. Writes model.int8.onnx, best_tune_cfg.yaml, report.json, report.html and the "
       "journal to the output directory. Progress goes to stderr: a live status line on a "
       "terminal, else a progress line every 30 s.\n\n"
       "Exit 0 when the goal is met, 1 when it is not (the best effort is still written), 2 on "
       "bad input.",
       {{"--out", "DIR", "output directory (default: the config's `output`, else qtune-out)"},
        {"--workers", "N", "evaluate trials on N local worker processes (default 0: in this process)"},
        {"--trial-deadline-s", "S", "with --workers: a trial still running after S seconds goes to "
                                    "another worker (default: 20x the longest trial measured, at "
                                    "least 120; at most 604800)"},
        {"--resume", "", "continue from the output directory's journal; with no journal there yet, "
                         "start the run"},
        {"--allow-changed-goal", "", "with --resume: accept a new accuracy goal or exit policy and "
                                     "judge the recorded trials by it"},
        {"--reuse", "DIR", "take the results of identical trials from another run's output directory "
                           "(same model, data and tuning space; goal and strategy may differ)"},
        {"--json", "", "print report.json instead of the summary; logs go to stderr"},
        {"--quiet", "", "no progress on stderr (errors still)"},
        {"--progress-every", "SECONDS", "the period of the progress line when stderr is not a "
                                        "terminal (default 30)"}},
       {"qtune tune examples/fashion_mnist/lenet.tune.yaml",
        "qtune tune examples/fashion_mnist/resnet.tune.yaml --out out/resnet --workers 2",
        "qtune tune examples/fashion_mnist/resnet.tune.yaml --out out/resnet --resume"},
       true},
      {"report", "OUT_DIR",
       "rebuild report.html and the summary from a tuning run's journal",
       "Reads the journal in a `qtune tune` or `qtune coordinator` output directory and writes "
       "report.html there again, then prints the summary table. Works for a run that was "
       "interrupted (its best trial so far is shown as such) or ran elsewhere; a finished run's "
       "report.html comes out as the run wrote it.",
       {{"--json", "", "print report.json instead of the summary"}},
       {"qtune report out/resnet", "qtune report out/resnet --json"},
       false},
      {"diagnose", "CONFIG.yaml",
       "per-op int8 error against fp32 (SQNR, cosine, max error), worst first",
       "Calibrates the model CONFIG.yaml names, quantizes every op the adaptor can quantize to "
       "int8 (or as --tune-cfg says), and compares each int8 op's output with the same tensor of "
       "the fp32 model over calibration samples, two ways: in the quantized model as it runs "
       "(accumulated: the error of every op upstream arrives too) and with the op alone fed the "
       "fp32 model's inputs (isolated: its own weight and input quantization only). Also the SQNR "
       "of each op's weight and of its activation input after quantization, which tells a bad "
       "weight range from a bad activation range.\n\n"
       "Prints the ops worst first as a table, or as JSON with --json, and writes diagnose.json "
       "and diagnose.html (both SQNRs as bar charts and the table, in one self-contained file) "
       "with every op to the output "
       "directory. SQNR is 10 log10(sum f^2 / sum (q - f)^2) in dB, clamped to +-144.49 dB (f32 "
       "rounding itself, shown as exact); an op worth a look is one far below the others, which "
       "diagnose.html marks when it is 10 dB below the median op.",
       {{"--top", "N", "show the N worst ops (default: all)"},
        {"--rank-by", "WHICH", "isolated (default: the op's own error, which localises a culprit) "
                               "or accumulated (the error as the quantized model runs, which "
                               "mostly grows with depth)"},
        {"--samples", "N", "calibration samples to compare on (default: the config's "
                           "calibration_sampling_size)"},
        {"--tune-cfg", "FILE", "diagnose this tune_cfg (e.g. a run's best_tune_cfg.yaml) instead of "
                               "all ops int8; only its int8 ops are compared"},
        {"--out", "DIR", "where diagnose.html and diagnose.json go (default: the config's `output`, "
                         "else qtune-out)"},
        {"--json", "", "print the comparison as JSON instead of the table"}},
       {"qtune diagnose examples/fashion_mnist/resnet.tune.yaml --top 10",
        "qtune diagnose examples/fashion_mnist/vit.tune.yaml --rank-by accumulated --json",
        "qtune diagnose examples/fashion_mnist/lenet.tune.yaml --tune-cfg out/lenet/best_tune_cfg.yaml"},
       false},
      {"coordinator", "CONFIG.yaml",
       "tune on the workers that connect (qtune worker)",
       "`qtune tune` with the trials evaluated by `qtune worker` processes that connect to --bind, "
       "from this machine or others (docs/cluster.md). Workers receive the config, model, data and "
       "calibration statistics by content hash and may join or leave at any time. A --bind that "
       "accepts connections from other hosts needs --curve (or --insecure). Exit codes as tune.",
       {{"--bind", "ENDPOINT", "where workers connect, e.g. tcp://*:5555", true},
        {"--out", "DIR", "output directory (default: the config's `output`, else qtune-out)"},
        {"--resume", "", "continue from the output directory's journal; with none yet, start the run"},
        {"--allow-changed-goal", "", "with --resume: accept a new accuracy goal or exit policy"},
        {"--reuse", "DIR", "take the results of identical trials from another run's output directory"},
        {"--json", "", "print report.json instead of the summary"},
        {"--quiet", "", "no progress on stderr (errors still)"},
        {"--progress-every", "SECONDS", "the period of the progress line when stderr is not a "
                                        "terminal (default 30)"},
        {"--heartbeat-ms", "MS", "heartbeat interval, 10 to 60000; a worker silent for 3 intervals "
                                 "is lost and its trial requeued (default 1000)"},
        {"--trial-deadline-s", "S", "a trial still running after S seconds goes to another worker "
                                    "(default: 20x the longest trial measured, at least 120; at "
                                    "most 604800)"},
        {"--max-inflight-mb", "MB", "the file bytes queued for all workers together; a chunk that "
                                    "would pass it waits (default 64)"},
        {"--curve", "", "encrypt and authenticate with CURVE; needs --curve-secret and --curve-allow"},
        {"--curve-secret", "FILE", "this coordinator's secret key (from qtune keygen)"},
        {"--curve-allow", "DIR_OR_FILES", "the workers' public keys: a folder of *.pub or "
                                          "comma-separated .pub files"},
        {"--insecure", "", "plain TCP on a non-loopback --bind (a trusted network only)"}},
       {"qtune coordinator examples/fashion_mnist/resnet.tune.yaml --bind tcp://127.0.0.1:5555",
        "qtune coordinator run.tune.yaml --bind tcp://*:5555 --out /var/lib/qtune/run --resume "
        "--curve --curve-secret keys/coordinator.key --curve-allow keys/"},
       true},
      {"worker", "",
       "evaluate a coordinator's trials",
       "Connects to a coordinator and evaluates the trials it sends until the run ends. Files "
       "arrive by content hash into the cache; a link that leaves the host needs --curve (or "
       "--insecure).",
       {{"--connect", "ENDPOINT", "the coordinator, e.g. tcp://HOST:5555", true},
        {"--threads", "N", "evaluation threads (default: every core)"},
        {"--cache", "DIR", "where fetched files are kept (default ~/.cache/qtune); excludes "
                           "--shared-path"},
        {"--cache-max-bytes", "N", "the cache's size; the least recently used files go first "
                                   "(default 10 GiB)"},
        {"--shared-path", "", "read the files at the coordinator's own paths (a shared file system) "
                              "instead of fetching them"},
        {"--curve", "", "encrypt and authenticate with CURVE; needs --curve-secret and "
                        "--curve-server-key"},
        {"--curve-secret", "FILE", "this worker's secret key (from qtune keygen)"},
        {"--curve-server-key", "FILE", "the coordinator's public key (.pub)"},
        {"--insecure", "", "plain TCP to a coordinator on another host (a trusted network only)"},
        {"--allow-metric-command", "", "run the program a tuning YAML names as its metric "
                                       "(`metric: {name: command}`); without it such a run is "
                                       "refused"},
        {"--simulate-ms", "MS", "sleep MS per trial instead of evaluating (benchmarks of the "
                                "coordinator)"},
        {"--heartbeat-ms", "MS", "heartbeat interval, 10 to 60000 (default 1000)"}},
       {"qtune worker --connect tcp://127.0.0.1:5555",
        "qtune worker --connect tcp://coordinator:5555 --curve --curve-secret keys/worker.key "
        "--curve-server-key keys/coordinator.pub"},
       true},
      {"health", "",
       "container probe: is the coordinator reachable with these keys",
       "Completes a ZeroMQ (CURVE) handshake with the coordinator within the timeout and exits 0, "
       "or exits 1 saying why (nothing listening, key refused, wrong server key). Sends no "
       "message, so the run never sees it.",
       {{"--connect", "ENDPOINT", "the coordinator", true},
        {"--timeout-ms", "MS", "how long to wait for the handshake (default 5000)"},
        {"--curve", "", "handshake with CURVE; needs --curve-secret and --curve-server-key"},
        {"--curve-secret", "FILE", "a worker's secret key"},
        {"--curve-server-key", "FILE", "the coordinator's public key (.pub)"},
        {"--insecure", "", "plain TCP to a coordinator on another host"}},
       {"qtune health --connect tcp://127.0.0.1:5555 --timeout-ms 2000"},
       true},
      {"keygen", "OUT_PREFIX",
       "write a CURVE keypair",
       "Writes OUT_PREFIX.key (the secret, mode 0600) and OUT_PREFIX.pub (the public key), Z85 "
       "text as ZeroMQ prints them. Refuses to overwrite either.",
       {},
       {"qtune keygen keys/coordinator", "qtune keygen keys/worker"},
       false},
      {"eval", "MODEL.onnx",
       "top-1 accuracy and images/s of a model on a dataset",
       "Runs the model on every sample of the data YAML (docs/data.md describes the format; "
       "examples/fashion_mnist/test.yaml is one) and prints top-1 accuracy and throughput. QDQ models run on an adaptor's int8 kernels (native unless --adaptor "
       "says otherwise); --reference runs them as fp32 fake-quant on the reference executor.",
       {{"--data", "DATA.yaml", "the dataset and its preprocessing", true},
        {"--adaptor", "NAME", kAdaptorText + std::string(" (default native)")},
        {"--reference", "", "the reference executor instead of an adaptor's kernels"},
        {"--threads", "N", "threads (default: every core)"},
        {"--limit", "N", "only the first N samples"},
        {"--profile", "", "time per op type, slowest first, on stderr"},
        {"--json", "", "print the result as JSON"}},
       {"qtune eval models/fashion_mnist/lenet.onnx --data examples/fashion_mnist/test.yaml",
        "qtune eval out/lenet/model.int8.onnx --data examples/fashion_mnist/test.yaml --adaptor "
        "native --json"},
       false},
      {"run", "MODEL.onnx",
       "run a model on .npy inputs or a dataset and write .npy outputs",
       "With --inputs, reads DIR/input_0.npy, input_1.npy, ... in the order of the graph's inputs "
       "(or DIR/NAME.npy by input name) and runs the model once. With --data, runs it on every "
       "sample of the data YAML (docs/data.md: preprocessed, fed by name, in batches) and also "
       "writes the inputs it fed as OUT/input_0.npy, ... Every graph output goes to "
       "OUT/output_0.npy, ... For comparing qtune with another runtime on exactly the same data. "
       "One of --inputs and --data is needed.",
       {{"--inputs", "DIR", "where input_<i>.npy (or NAME.npy) are; excludes --data"},
        {"--data", "DATA.yaml", "run on this dataset instead of --inputs"},
        {"--limit", "N", "with --data: only the first N samples"},
        {"--out", "DIR", "where output_<i>.npy go", true},
        {"--adaptor", "NAME", kAdaptorText + std::string(" (default native; QDQ models run in int8)")},
        {"--reference", "", "the reference executor instead of an adaptor's kernels"}},
       {"qtune run models/fashion_mnist/lenet.onnx --inputs in/ --out out/",
        "qtune run models/fashion_mnist/lenet.onnx --data examples/fashion_mnist/test.yaml "
        "--limit 16 --out out/"},
       false},
      {"quantize", "MODEL.onnx",
       "calibrate and write the QDQ model of one tune_cfg",
       "Calibrates on the data YAML and writes the standard QDQ ONNX model of the tune_cfg (by "
       "default every quantizable op int8 with minmax calibration).",
       {{"--data", "CALIB.yaml", "the calibration set", true},
        {"--out", "OUT.onnx", "the QDQ model to write", true},
        {"--adaptor", "NAME", kAdaptorText},
        {"--tune-cfg", "FILE", "which precision and recipe each op gets (a best_tune_cfg.yaml)"},
        {"--threads", "N", "threads (default: every core)"}},
       {"qtune quantize models/fashion_mnist/lenet.onnx --data examples/fashion_mnist/calib.yaml "
        "--out lenet.int8.onnx"},
       false},
      {"caps", "MODEL.onnx",
       "the adaptor's quantization capability for a model",
       "Lists, per op of the model, every quantization config the adaptor's capability YAML "
       "(capabilities/) allows, and the same per op type.",
       {{"--adaptor", "NAME", kAdaptorText}, {"--json", "", "print as JSON"}},
       {"qtune caps models/fashion_mnist/resnet.onnx --adaptor onednn"},
       false},
      {"check", "MODEL.onnx",
       "every node of a model qtune cannot run",
       "Loads the model, runs the ONNX checker and lists the nodes whose op (at the model's opset) "
       "qtune has no kernel for. Exit 0 when every node runs, 1 when some cannot.",
       {{"--json", "", "print as JSON"}},
       {"qtune check models/fashion_mnist/vit.onnx"},
       false},
      {"ops", "",
       "every operator qtune runs",
       "Every operator of the runtime: domain, opset ranges and which adaptors quantize it.",
       {{"--json", "", "print as JSON"}},
       {"qtune ops --json"},
       false},
      {"conformance", "DIR...",
       "run ONNX backend node tests",
       "Runs the ONNX backend test cases in each DIR (test_*/model.onnx with test_data_set_*) and "
       "prints one line per case, then \"N passed, M failed, K skipped\". Exit 1 when any failed.",
       {{"--exclusions", "FILE", "cases to skip, one name per line with the reason"}},
       {"qtune conformance /usr/share/libonnx-testdata/data/node --exclusions "
        "tests/conformance/node_exclusions.txt"},
       false},
      {"bench", "kernels|peak",
       "int8/fp32 kernels side by side with oneDNN; instruction peaks",
       "kernels: GOPS of qtune's int8 and f32 GEMM/conv kernels and oneDNN's on the same shapes "
       "(fixed sizes and the bundled models' layers), as ratios measured in one run. peak: the "
       "instruction throughput of each ISA the CPU has.",
       {{"--seconds", "S", "time per measurement (default 0.3 for kernels, 0.5 for peak)"},
        {"--threads", "N", "kernels: only this thread count (default: 1 and every core)"},
        {"--only", "SUBSTR", "kernels: only shapes whose label contains SUBSTR"},
        {"--models", "DIR", "kernels: where lenet/resnet/vit.onnx are (default models/fashion_mnist)"},
        {"--json", "", "print as JSON"}},
       {"qtune bench kernels --threads 1 --only resnet", "qtune bench peak --json"},
       false},
      {"bench model", "MODEL.onnx",
       "latency and peak memory of one batch of a model, run as eval runs it",
       "Runs the model (fp32, or a QDQ model on the adaptor's int8 kernels) on random input of its "
       "declared shape after warm-up runs and prints the median, fastest and slowest ms per batch, "
       "the CPU ms per batch (all threads) and the process's peak resident memory.",
       {{"--batch", "N", "the inputs' first dimension when it is symbolic (default 1)"},
        {"--shape", "NAME=DxD...", "an input's whole shape (comma-separated for several inputs)"},
        {"--threads", "T", "threads (default: every core)"},
        {"--adaptor", "A", "native (default) or onednn"},
        {"--reference", "", "run on the reference executor (QDQ as fp32 fake-quant)"},
        {"--warmup", "W", "untimed runs first (default 3)"},
        {"--runs", "R", "timed runs (default 20)"},
        {"--profile", "", "wall and CPU ms per op type on stderr"},
        {"--by-node", "", "with --profile: per node instead of per op type"},
        {"--json", "", "print as JSON (median_ms, min_ms, max_ms, ...)"}},
       {"qtune bench model models/fashion_mnist/resnet.onnx --batch 100 --threads 2",
        "qtune bench model out/model_int8.onnx --batch 1 --json"},
       false},
      {"bench dispatch", "",
       "coordinator overhead per trial with 1..256 simulated workers",
       "A real coordinator on loopback serves W simulated workers (each sleeps instead of "
       "evaluating); one wave is timed once all have joined. Prints trials/s, the overhead per trial "
       "and the dispatch efficiency (busy time / (W x wall time)).",
       {{"--workers", "LIST", "comma-separated worker counts (default 1,2,4,8,64,256)"},
        {"--simulate-ms", "MS", "work per trial (default 0)"},
        {"--efficiency-workers", "N", "workers of the efficiency row (default 256)"},
        {"--efficiency-ms", "MS", "work per trial of the efficiency row (default 1000)"},
        {"--json", "", "print as JSON"}},
       {"qtune bench dispatch --workers 1,8,64 --json"},
       false},
      {"version", "", "the version and the CPU features in use", "", {}, {"qtune version"}, false},
      {"help", "[COMMAND]",
       "this list, or a command's usage, options and examples",
       "`qtune help COMMAND` and `qtune COMMAND --help` print the same. --markdown prints every "
       "command's help as the Markdown page docs/cli.md.",
       {{"--markdown", "", "all of it as Markdown (docs/cli.md)"}},
       {"qtune help tune", "qtune diagnose --help", "qtune help --markdown > docs/cli.md"},
       false},
  };
  return commands;
}

constexpr const char* kEnvironmentText =
    "tune, coordinator, worker and health take every option from an environment variable too: "
    "QTUNE_ and the option's name upper-cased, '-' as '_' (QTUNE_BIND, QTUNE_CONNECT, QTUNE_OUT, "
    "QTUNE_CURVE_SECRET, ...). A flag is on for 1/true/yes/on, off for 0/false/no/off; an empty "
    "variable is unset. The command line wins, also over the other side of an exclusive pair "
    "(--insecure on the command line ignores QTUNE_CURVE*).";

constexpr const char* kSizeLimitsText =
    "every command: QTUNE_MAX_TENSOR_BYTES bounds one tensor (and one data file; default: this "
    "host's memory), QTUNE_MAX_MODEL_BYTES one ONNX file (default 2 GiB); larger inputs are "
    "refused (exit 2).";

constexpr const char* kExitCodesText =
    "0 success, 1 goal not met (tune, coordinator) or a negative answer (check, health, "
    "conformance), 2 bad input (a file, a flag or a value; the message names the file and the "
    "place), 3 internal error";

// `tokens` joined by spaces and wrapped to kWidth columns: the first line starts with `first`,
// the others with `indent`.
std::string wrap_tokens(const std::vector<std::string>& tokens, const std::string& indent,
                        const std::string& first) {
  std::string out, line = first;
  bool empty = true;  // no token on `line` yet
  for (const std::string& t : tokens) {
    if (!empty && line.size() + 1 + t.size() > kWidth) {
      out += line + "\n";
      line = indent;
      empty = true;
    }
    line += (empty ? "" : " ") + t;
    empty = false;
  }
  return out + line + "\n";
}

// `text` wrapped word by word; blank lines ("\n\n") separate paragraphs.
std::string wrap(const std::string& text, const std::string& indent, const std::string& first = "") {
  std::string out;
  size_t pos = 0;
  while (true) {
    const size_t end = text.find("\n\n", pos);
    std::istringstream in(text.substr(pos, end == std::string::npos ? std::string::npos : end - pos));
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    out += wrap_tokens(words, indent, pos == 0 && !first.empty() ? first : indent);
    if (end == std::string::npos) return out;
    out += "\n";
    pos = end + 2;
  }
}

std::string option_synopsis(const OptionHelp& o) {
  return o.value.empty() ? o.flag : o.flag + " " + o.value;
}

}  // namespace

const std::vector<CommandHelp>& command_help() { return table(); }

const CommandHelp* find_command_help(const std::string& name) {
  for (const CommandHelp& c : table()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::string usage_line(const CommandHelp& c) {
  std::string s = "usage: qtune " + c.name + (c.operands.empty() ? "" : " " + c.operands);
  for (const OptionHelp& o : c.options) {
    s += o.required ? " " + option_synopsis(o) : " [" + option_synopsis(o) + "]";
  }
  return s;
}

std::string help_text(const CommandHelp& c) {
  std::vector<std::string> synopsis = {"usage: qtune " + c.name + (c.operands.empty() ? "" : " " + c.operands)};
  for (const OptionHelp& o : c.options) {
    synopsis.push_back(o.required ? option_synopsis(o) : "[" + option_synopsis(o) + "]");
  }
  std::string out = wrap_tokens(synopsis, std::string(13 + c.name.size() + 1, ' '), "");
  if (!c.description.empty()) out += "\n" + wrap(c.description, "");
  if (!c.options.empty()) {
    out += "\noptions:\n";
    size_t w = 0;
    for (const OptionHelp& o : c.options) w = std::max(w, option_synopsis(o).size());
    for (const OptionHelp& o : c.options) {
      std::string head = "  " + option_synopsis(o);
      head.resize(w + 4, ' ');
      out += wrap(o.text + (o.required ? " (required)" : ""), std::string(w + 4, ' '), head);
    }
  }
  if (c.environment) out += "\n" + wrap(kEnvironmentText, "");
  if (!c.examples.empty()) {
    out += "\nexamples:\n";
    for (const std::string& e : c.examples) {
      // A long command line continues with a backslash, as a shell takes it.
      std::istringstream in(e);
      std::string line = "  ";
      for (std::string w; in >> w;) {
        if (line.size() > 2 && line.size() + 1 + w.size() + 2 > kWidth) {
          out += line + " \\\n";
          line = "      ";
        }
        line += (line.size() == 2 || line == "      " ? "" : " ") + w;
      }
      out += line + "\n";
    }
  }
  return out;
}

std::string overview_text() {
  std::string out = "usage: qtune COMMAND [options]    (qtune help COMMAND: its options and examples)\n\ncommands:\n";
  size_t w = 0;
  for (const CommandHelp& c : table()) w = std::max(w, c.name.size());
  for (const CommandHelp& c : table()) {
    std::string head = "  " + c.name;
    head.resize(w + 4, ' ');
    out += wrap(c.summary, std::string(w + 4, ' '), head);
  }
  out += "\nenvironment:\n" + wrap(kEnvironmentText, "  ");
  out += "\nsize limits:\n" + wrap(kSizeLimitsText, "  ");
  out += "\nexit codes:\n" + wrap(kExitCodesText, "  ");
  return out;
}

std::string help_markdown() {
  std::ostringstream o;
  o << "# The qtune command line\n\n"
    << "Generated from the binary's own help by `qtune help --markdown > docs/cli.md`; the ctest "
       "`cli.docs_match_help` fails when the two differ. `qtune help COMMAND` and "
       "`qtune COMMAND --help` print the same for one command.\n\n"
    << "| command | what it does |\n|---|---|\n";
  for (const CommandHelp& c : table()) {
    std::string anchor = c.name;
    for (char& ch : anchor) ch = ch == ' ' ? '-' : ch;
    o << "| [`" << c.name << "`](#qtune-" << anchor << ") | " << c.summary << " |\n";
  }
  o << "\n**Environment.** " << kEnvironmentText << "\n\n**Size limits.** " << kSizeLimitsText
    << "\n\n**Exit codes.** " << kExitCodesText << ".\n";
  for (const CommandHelp& c : table()) {
    o << "\n## qtune " << c.name << "\n\n```\n" << usage_line(c).substr(7) << "\n```\n\n";
    if (!c.description.empty()) o << c.description << "\n\n";
    if (!c.options.empty()) {
      o << "| option | |\n|---|---|\n";
      for (const OptionHelp& opt : c.options) {
        std::string text = opt.text;
        for (size_t p; (p = text.find('|')) != std::string::npos;) text.replace(p, 1, "\\|");
        o << "| `" << option_synopsis(opt) << "` | " << text << (opt.required ? " (required)" : "")
          << " |\n";
      }
      o << "\n";
    }
    if (c.environment) o << "Every option also from the environment (`QTUNE_...`, see above).\n\n";
    if (!c.examples.empty()) {
      o << "```sh\n";
      for (const std::string& e : c.examples) o << e << "\n";
      o << "```\n";
    }
  }
  return o.str();
}

OptionSpec option_spec(const std::string& command) {
  OptionSpec spec;
  const CommandHelp* c = find_command_help(command);
  if (!c) return spec;
  for (const OptionHelp& o : c->options) (o.value.empty() ? spec.flags : spec.valued).insert(o.flag);
  return spec;
}

std::string usage_of(const std::string& command) {
  const CommandHelp* c = find_command_help(command);
  return c ? usage_line(*c) : "usage: qtune " + command;
}

Status usage_error(const std::string& command, const std::string& what) {
  return Status::InvalidInput(what + "\n" + usage_of(command));
}

int cmd_help(int argc, char** argv) {
  std::string topic;
  bool markdown = false;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--markdown") {
      markdown = true;
    } else if (a == "--help" || a == "-h") {
      topic = "help";
    } else if (a.rfind("--", 0) == 0) {
      std::cerr << "qtune help: unknown option " << a << "\n" << usage_of("help") << "\n";
      return 2;
    } else {
      topic += (topic.empty() ? "" : " ") + a;
    }
  }
  if (markdown && !topic.empty()) {
    std::cerr << "qtune help: --markdown prints every command; give no COMMAND with it\n";
    return 2;
  }
  if (markdown) {
    std::cout << help_markdown();
    return 0;
  }
  if (topic.empty()) {
    std::cout << overview_text();
    return 0;
  }
  const CommandHelp* c = find_command_help(topic);
  if (!c) {
    std::string names;
    for (const CommandHelp& h : table()) names += (names.empty() ? "" : ", ") + h.name;
    std::cerr << "qtune help: no command '" << topic << "' (commands: " << names << ")\n";
    return 2;
  }
  std::cout << help_text(*c);
  return 0;
}

}  // namespace qtune::cli
