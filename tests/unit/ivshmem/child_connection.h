// SPDX-License-Identifier: GPL-2.0
// Test helper for the ivshmem server tests: a connection to the server's
// socket made by a child process, so that SO_PEERCRED names a process
// other than the test's own (as the daemon sees QEMU).
#pragma once

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

namespace avm::ivshmem {

// The child connects, reports the outcome and keeps the connection open
// until this object goes (then it exits and the server sees it leave).
// The child only makes async-signal-safe calls after fork().
class ChildConnection {
 public:
  explicit ChildConnection(const std::string& path) {
    int up[2];    // child -> parent: one byte, 1 if connected
    int down[2];  // parent -> child: closed when the child should exit
    if (::pipe2(up, O_CLOEXEC) < 0 || ::pipe2(down, O_CLOEXEC) < 0) {
      return;
    }
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(up[0]);
      ::close(down[1]);
      const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
      const char ok =
          fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 1 : 0;
      (void)!::write(up[1], &ok, 1);
      char c = 0;
      (void)!::read(down[0], &c, 1);  // EOF: the parent let go
      ::_exit(0);
    }
    ::close(up[1]);
    ::close(down[0]);
    release_ = down[1];
    char ok = 0;
    connected_ = pid_ > 0 && ::read(up[0], &ok, 1) == 1 && ok == 1;
    ::close(up[0]);
  }
  ~ChildConnection() {
    if (release_ >= 0) {
      ::close(release_);
    }
    if (pid_ > 0) {
      int status = 0;
      ::waitpid(pid_, &status, 0);
    }
  }
  ChildConnection(const ChildConnection&) = delete;
  ChildConnection& operator=(const ChildConnection&) = delete;

  pid_t pid() const { return pid_; }
  bool connected() const { return connected_; }

 private:
  pid_t pid_ = -1;
  int release_ = -1;
  bool connected_ = false;
};

}  // namespace avm::ivshmem
