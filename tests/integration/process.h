// Child processes for integration tests: run a command to completion with
// captured output, or keep a daemon running with its output in a log file.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace replfs::testing {

struct CommandResult {
  int exit_code = -1;  // -1 if it could not run or was killed
  std::string out;
  std::string err;
  std::string Describe() const;  // "exit 1; stderr: ..." for failure messages
};

// Runs argv[0] (a path, or a name looked up in PATH) without a shell; kills it
// if it runs longer than `timeout`.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         std::chrono::milliseconds timeout = std::chrono::seconds(120));

// Runs `script` with /bin/sh -c (for pipelines like `cp -a` / `diff -r`).
CommandResult RunShell(const std::string& script,
                       std::chrono::milliseconds timeout = std::chrono::seconds(600));

// A long-running child: stdin from /dev/null, stdout and stderr appended to
// `log_path`. It receives SIGKILL if the test process dies first.
class ChildProcess {
 public:
  ChildProcess(std::string name, std::vector<std::string> argv, std::string log_path)
      : name_(std::move(name)), argv_(std::move(argv)), log_path_(std::move(log_path)) {}
  ~ChildProcess();  // SIGKILLs and reaps the child if still running
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts the child; false (with the reason in *error) if fork/exec failed.
  bool Start(std::string* error);
  // Reaps the child if it exited; true while it runs.
  bool Running();
  // Sends `sig`; no-op when not running.
  void Signal(int sig);
  // Waits up to `timeout` for the child to exit; true if it did.
  bool WaitExit(std::chrono::milliseconds timeout);
  // SIGTERM, wait `grace`, then SIGKILL and reap. True if it exited in grace.
  bool Stop(std::chrono::milliseconds grace);
  // SIGKILL and reap.
  void Kill();

  const std::string& name() const { return name_; }
  std::vector<std::string>& argv() { return argv_; }
  const std::string& log_path() const { return log_path_; }
  pid_t pid() const { return pid_; }
  // Raw wait status of the last exit (valid after Running() turned false).
  int wait_status() const { return wait_status_; }

 private:
  const std::string name_;
  std::vector<std::string> argv_;
  const std::string log_path_;
  pid_t pid_ = 0;
  int wait_status_ = 0;
};

// The last `lines` lines of a file ("" if it cannot be read).
std::string TailFile(const std::string& path, int lines = 40);

}  // namespace replfs::testing
