// The command metric runs without a shell: a hostile path is one argument and never executes,
// the timeout and the output cap kill the whole process group, and every way a program can end
// badly is reported as such.
#include "worker/metric_command.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "worker/trial_runner.h"

namespace qtune {
namespace {

namespace fs = std::filesystem;

class MetricCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qtune-metric-command-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(MetricCommandTest, ModelPathIsOneArgumentAndNeverRunsAsShell) {
  const fs::path marker = dir_ / "pwned";
  // A temporary directory whose name a shell would execute.
  const fs::path tmp = dir_ / ("t$(touch " + marker.string() + ")`touch " + marker.string() + "`;touch " +
                               marker.string() + " 'x' \"y\"");
  fs::create_directories(tmp);
  const char* old = std::getenv("TMPDIR");
  const std::string saved = old ? old : "";
  ::setenv("TMPDIR", tmp.c_str(), 1);
  // printf prints its arguments as given: the path comes back whole, then the metric.
  Result<ProcessOutput> echoed = run_process(metric_command_argv({"printf", "%s|%s\\n", "{model}", "x{model}y"},
                                                                 (tmp / "m.onnx").string()),
                                             10);
  Result<double> v = run_metric_command({"sh", "-c", "test -s \"$1\" && echo metric 0.625", "sh", "{model}"},
                                        "model bytes", 10);
  if (old) ::setenv("TMPDIR", saved.c_str(), 1);
  else ::unsetenv("TMPDIR");
  ASSERT_TRUE(echoed.ok()) << echoed.status().message();
  EXPECT_EQ(echoed->out, (tmp / "m.onnx").string() + "|x" + (tmp / "m.onnx").string() + "y\n");
  ASSERT_TRUE(v.ok()) << v.status().message();
  EXPECT_EQ(*v, 0.625);
  EXPECT_FALSE(fs::exists(marker));
  // The temporary model is gone, and it was created under the hostile directory.
  EXPECT_TRUE(fs::is_empty(tmp));
}

TEST_F(MetricCommandTest, TimeoutKillsTheProcessGroup) {
  const fs::path pid_file = dir_ / "child.pid";
  // The shell starts a sleep in the background, records its pid and waits: both must die.
  Result<ProcessOutput> r =
      run_process({"sh", "-c", "sleep 300 & echo $! > \"$0\"; wait", pid_file.string()}, 0.5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().exit_code(), 2);
  EXPECT_NE(r.status().message().find("metric command 'sh' timed out after 0.5"), std::string::npos)
      << r.status().message();
  std::ifstream in(pid_file);
  pid_t child = 0;
  ASSERT_TRUE(in >> child);
  // Killed with the group (SIGKILL is delivered before kill() returns; reaped by init).
  bool gone = false;
  for (int i = 0; i < 200 && !gone; ++i) {
    gone = ::kill(child, 0) != 0 && errno == ESRCH;
    if (!gone) {
      std::ifstream stat("/proc/" + std::to_string(child) + "/stat");
      std::string pid_s, comm, state;
      gone = (stat >> pid_s >> comm >> state) && state == "Z";  // a zombie is dead
    }
    if (!gone) ::usleep(10000);
  }
  EXPECT_TRUE(gone) << "the background sleep " << child << " outlived the metric command";
}

TEST_F(MetricCommandTest, OutputIsCapped) {
  Result<ProcessOutput> r = run_process({"yes", "1"}, 60, 4096);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("metric command 'yes' printed more than 4096 bytes"), std::string::npos)
      << r.status().message();
  Result<ProcessOutput> fits = run_process({"printf", "%4096s", "7"}, 60, 4096);
  ASSERT_TRUE(fits.ok()) << fits.status().message();
  EXPECT_EQ(fits->out.size(), 4096u);
}

TEST_F(MetricCommandTest, ExitStatusIsDecoded) {
  Result<ProcessOutput> code = run_process({"sh", "-c", "echo broken >&2; exit 3"}, 10);
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().message(), "metric command 'sh' exited with status 3: broken");
  Result<ProcessOutput> sig = run_process({"sh", "-c", "kill -SEGV $$"}, 10);
  ASSERT_FALSE(sig.ok());
  EXPECT_EQ(sig.status().message(), "metric command 'sh' killed by signal 11 (SIGSEGV)");
  Result<ProcessOutput> missing = run_process({"/nonexistent/metric-tool", "{model}"}, 10);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "metric command '/nonexistent/metric-tool': cannot run: No such file or directory");
  Result<double> silent = run_metric_command({"true"}, "m", 10);
  ASSERT_FALSE(silent.ok());
  EXPECT_EQ(silent.status().message(), "metric command 'true' printed no number");
}

TEST_F(MetricCommandTest, TheLastFiniteNumberCounts) {
  EXPECT_EQ(last_number("loading 3 files\naccuracy: 0.9125\n").value(), 0.9125);
  EXPECT_EQ(last_number("top1 91.5 nan inf").value(), 91.5);
  EXPECT_EQ(last_number("-1e-3").value(), -1e-3);
  EXPECT_FALSE(last_number("no digits here").ok());
}

// A worker runs the coordinator's command only when its operator allowed it.
TEST_F(MetricCommandTest, WorkersRunCommandsOnlyWhenAllowed) {
  TuningConfig cfg;
  cfg.model = std::string(QTUNE_SOURCE_DIR) + "/models/fashion_mnist/lenet.onnx";
  cfg.calibration_data = cfg.evaluation_data = std::string(QTUNE_SOURCE_DIR) + "/examples/fashion_mnist/test.yaml";
  cfg.metric.name = "command";
  cfg.metric.command = {"touch", (dir_ / "ran").string()};
  RunnerSources remote;
  remote.allow_metric_command = false;
  auto refused = TrialRunner::create(cfg, remote);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message(),
            "metric 'command' runs a program the coordinator's config names (touch); this worker runs it only "
            "when started with --allow-metric-command (QTUNE_ALLOW_METRIC_COMMAND=1)");
  EXPECT_FALSE(fs::exists(dir_ / "ran"));
}

}  // namespace
}  // namespace qtune
