// The command metric: a program named by the tuning config measures the written model and
// prints the metric. It runs without a shell (posix_spawnp, "{model}" replaced inside the
// arguments, never re-split), in its own process group with stdin from /dev/null; its stdout
// is captured up to a cap, and the whole group is killed at the timeout or the cap.
// Used by TrialRunner. Stateless; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"

namespace qtune {

// Output beyond this is not a metric: the program is killed and the trial fails.
constexpr size_t kMaxMetricOutputBytes = size_t{1} << 20;

struct ProcessOutput {
  std::string out;  // stdout, at most the cap
  std::string err;  // the first bytes of stderr, for messages
};

// Runs argv (argv[0] looked up in PATH when it has no '/') until it exits; kInvalidInput
// naming the program when it cannot start, exits non-zero ("exited with status N"), is killed
// by a signal ("killed by signal S"), outlives `timeout_s` ("timed out") or prints more than
// `max_output` bytes. Its process group is killed in every case, so no child outlives it.
Result<ProcessOutput> run_process(const std::vector<std::string>& argv, double timeout_s,
                                  size_t max_output = kMaxMetricOutputBytes);

// `command` with every "{model}" replaced by `model_path` inside its arguments.
std::vector<std::string> metric_command_argv(const std::vector<std::string>& command,
                                             const std::string& model_path);

// The last finite number in `out`; kInvalidInput when there is none.
Result<double> last_number(const std::string& out);

// Writes `model_bytes` to a new uniquely named file in the temporary directory, runs the
// command on it and removes it; the metric is the last number the command printed.
Result<double> run_metric_command(const std::vector<std::string>& command, const std::string& model_bytes,
                                  double timeout_s);

}  // namespace qtune
