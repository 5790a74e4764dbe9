#include "worker/metric_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/file_writer.h"

extern char** environ;

namespace qtune {
namespace {

using Clock = std::chrono::steady_clock;

// The first bytes of stderr kept for messages.
constexpr size_t kMaxErrBytes = 2048;

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
}

// The leader has exited when waitid sees it; WNOWAIT keeps it a zombie so its pid (the group's
// id) cannot be reused before the group is killed.
bool leader_exited(pid_t pid) {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

}  // namespace

Result<ProcessOutput> run_process(const std::vector<std::string>& argv, double timeout_s, size_t max_output) {
  if (argv.empty() || argv[0].empty()) return Status::InvalidInput("metric command: no program to run");
  const std::string name = "metric command '" + argv[0] + "'";
  int out_p[2], err_p[2];
  if (::pipe2(out_p, O_CLOEXEC) != 0) return Status::Internal(name + ": pipe: " + std::strerror(errno));
  Fd out_r(out_p[0]), out_w(out_p[1]);
  if (::pipe2(err_p, O_CLOEXEC) != 0) return Status::Internal(name + ": pipe: " + std::strerror(errno));
  Fd err_r(err_p[0]), err_w(err_p[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_w.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_w.get(), STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);  // nothing of this process leaks in
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group, so the timeout reaches whatever it starts; default signal handling
  // and an empty mask whatever this process has set.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  out_w.reset();
  err_w.reset();
  if (spawned != 0) return Status::InvalidInput(name + ": cannot run: " + std::strerror(spawned));

  ProcessOutput result;
  bool timed_out = false, overflow = false, group_killed = false;
  bool out_open = true, err_open = true;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(std::max(timeout_s, 0.0)));
  auto kill_group = [&] {
    if (!group_killed) ::kill(-pid, SIGKILL);
    group_killed = true;
  };
  while (out_open || err_open) {
    // Once the leader is gone, whatever it left behind goes too: the pipes then reach EOF.
    if (!group_killed && leader_exited(pid)) kill_group();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      // A process that left the group (setsid) may still hold the pipes: stop reading anyway.
      if (group_killed) break;
      timed_out = true;
      kill_group();
    }
    const int wait_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 50));
    pollfd fds[2] = {{out_open ? out_r.get() : -1, POLLIN, 0}, {err_open ? err_r.get() : -1, POLLIN, 0}};
    if (::poll(fds, 2, wait_ms) < 0 && errno != EINTR) {
      kill_group();
      break;
    }
    char buf[1 << 16];
    for (int k = 0; k < 2; ++k) {
      if (!(fds[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(fds[k].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        (k == 0 ? out_open : err_open) = false;
        continue;
      }
      std::string& into = k == 0 ? result.out : result.err;
      const size_t cap = k == 0 ? max_output + 1 : kMaxErrBytes;
      into.append(buf, std::min(static_cast<size_t>(n), cap - std::min(cap, into.size())));
      if (k == 0 && result.out.size() > max_output) {
        overflow = true;
        kill_group();
      }
    }
  }
  // Both pipes are closed, but the program may still be on its way out (stdout is often closed
  // by an exit handler): let it finish within the deadline, then clear out its group.
  while (!group_killed) {
    if (leader_exited(pid)) {
      kill_group();
    } else if (Clock::now() >= deadline) {
      timed_out = true;
      kill_group();
    } else {
      ::usleep(1000);
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string why;
  if (timed_out) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", timeout_s);
    why = std::string("timed out after ") + secs + " s (metric.timeout_s); its process group was killed";
  } else if (overflow) {
    why = "printed more than " + std::to_string(max_output) + " bytes; its process group was killed";
  } else if (WIFSIGNALED(status)) {
    why = "killed by signal " + signal_text(WTERMSIG(status));
  } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    why = "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  if (!why.empty()) {
    std::string err = result.err.substr(0, 500);
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    return Status::InvalidInput(name + " " + why + (err.empty() ? "" : ": " + err));
  }
  result.out.resize(std::min(result.out.size(), max_output));
  return result;
}

std::vector<std::string> metric_command_argv(const std::vector<std::string>& command,
                                             const std::string& model_path) {
  std::vector<std::string> out = command;
  for (std::string& a : out) {
    for (size_t p = 0; (p = a.find("{model}", p)) != std::string::npos; p += model_path.size()) {
      a.replace(p, 7, model_path);
    }
  }
  return out;
}

Result<double> last_number(const std::string& out) {
  double value = 0;
  bool found = false;
  const char* s = out.c_str();
  for (size_t i = 0; i < out.size();) {
    char* end = nullptr;
    const double v = std::strtod(s + i, &end);
    if (end != s + i && std::isfinite(v)) {
      value = v;
      found = true;
      i = static_cast<size_t>(end - s);
    } else {
      ++i;
    }
  }
  if (!found) return Status::InvalidInput("printed no number");
  return value;
}

Result<double> run_metric_command(const std::vector<std::string>& command, const std::string& model_bytes,
                                  double timeout_s) {
  std::error_code ec;
  const std::filesystem::path tmp = std::filesystem::temp_directory_path(ec);
  if (ec) return Status::InvalidInput("no temporary directory for the metric command's model: " + ec.message());
  QT_ASSIGN_OR_RETURN(UniqueFile model, create_unique_file(tmp.string(), "qtune-metric-", ".onnx"));
  Status written = write_fully(model.fd, model_bytes.data(), model_bytes.size(), model.path);
  file_ops().close(model.fd);
  Result<ProcessOutput> out = written.ok() ? run_process(metric_command_argv(command, model.path), timeout_s)
                                           : Result<ProcessOutput>(written);
  ::unlink(model.path.c_str());
  if (!out.ok()) return out.status();
  Result<double> v = last_number(out->out);
  if (!v.ok()) return Status::InvalidInput("metric command '" + command[0] + "' printed no number");
  return v;
}

}  // namespace qtune
