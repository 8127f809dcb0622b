#include "tests/integration/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

#include "tests/util/test_util.h"

namespace replfs::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// In the child after fork: only async-signal-safe calls until exec.
[[noreturn]] void ExecChild(const std::vector<char*>& argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  // Undo a blocked-signal mask inherited from the test process.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execvp(argv[0], argv.data());
  const char msg[] = "exec failed\n";
  (void)!write(2, msg, sizeof(msg) - 1);
  _exit(127);
}

}  // namespace

std::string CommandResult::Describe() const {
  std::string s = "exit " + std::to_string(exit_code);
  if (!err.empty()) s += "; stderr: " + err;
  if (!out.empty()) s += "; stdout: " + out.substr(0, 4000);
  return s;
}

CommandResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  CommandResult r;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return r;
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return r;
  }
  std::vector<char*> args = Argv(argv);
  const pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    ExecChild(args);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    r.err = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  const auto deadline = Clock::now() + timeout;
  struct pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  bool killed = false;
  while (open_fds > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      kill(pid, SIGKILL);
      killed = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      char buf[65536];
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  r.exit_code = !killed && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (killed) r.err += "\n[killed after " + std::to_string(timeout.count()) + " ms]";
  return r;
}

CommandResult RunShell(const std::string& script, std::chrono::milliseconds timeout) {
  return RunCommand({"/bin/sh", "-c", script}, timeout);
}

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::Start(std::string* error) {
  if (Running()) {
    *error = name_ + " is already running";
    return false;
  }
  const int log = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    *error = "open " + log_path_ + ": " + std::strerror(errno);
    return false;
  }
  std::vector<char*> args = Argv(argv_);
  const pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDONLY);
    dup2(null, 0);
    dup2(log, 1);
    dup2(log, 2);
    ExecChild(args);
  }
  close(log);
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  pid_ = pid;
  return true;
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) wait_status_ = st;
  pid_ = 0;
  return false;
}

void ChildProcess::Signal(int sig) {
  if (Running()) kill(pid_, sig);
}

bool ChildProcess::WaitExit(std::chrono::milliseconds timeout) {
  return PollUntil([this] { return !Running(); }, timeout, std::chrono::milliseconds(1),
                   std::chrono::milliseconds(50));
}

bool ChildProcess::Stop(std::chrono::milliseconds grace) {
  Signal(SIGTERM);
  if (WaitExit(grace)) return true;
  Kill();
  return false;
}

void ChildProcess::Kill() {
  if (!Running()) return;
  kill(pid_, SIGKILL);
  int st = 0;
  while (waitpid(pid_, &st, 0) < 0 && errno == EINTR) {
  }
  wait_status_ = st;
  pid_ = 0;
}

std::string TailFile(const std::string& path, int lines) {
  std::ifstream f(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(f, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string out;
  for (const std::string& l : last) out += l + "\n";
  return out;
}

}  // namespace replfs::testing
