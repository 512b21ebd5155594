// SPDX-License-Identifier: GPL-2.0
// A network namespace for one test: created with `ip netns add
// avmtest-<pid>-<n>` and deleted in the destructor (so also when the test
// fails).  run() executes a function on a helper thread that joined the
// namespace, so taps and sockets made there live in it; the test thread's
// own namespace never changes.  Nothing is ever sent outside it.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>

namespace avm::test {

class NetNs {
 public:
  NetNs() {
    static std::atomic<int> n{0};
    name_ = "avmtest-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
    ok_ = sh("ip netns add " + name_);
  }
  ~NetNs() {
    if (ok_) {
      sh("ip netns del " + name_);
    }
  }
  NetNs(const NetNs&) = delete;
  NetNs& operator=(const NetNs&) = delete;

  bool ok() const { return ok_; }
  const std::string& name() const { return name_; }

  // `ip -n <ns> ARGS`; true on success.
  bool ip(const std::string& args) const { return sh("ip -n " + name_ + " " + args); }

  // Runs @f on a thread inside the namespace; false if joining failed.
  bool run(const std::function<void()>& f) const {
    bool joined = false;
    std::thread t([&] {
      const int fd = ::open(("/run/netns/" + name_).c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        return;
      }
      joined = ::setns(fd, CLONE_NEWNET) == 0;
      ::close(fd);
      if (joined) {
        f();
      }
    });
    t.join();
    return joined;
  }

 private:
  static bool sh(const std::string& cmd) {
    return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;  // NOLINT(concurrency-mt-unsafe)
  }
  std::string name_;
  bool ok_ = false;
};

}  // namespace avm::test
