// SPDX-License-Identifier: GPL-2.0
#include "lib/eventfd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace avm {

Result<EventFd> EventFd::create() {
  const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) {
    return errno_error("eventfd");
  }
  return EventFd(UniqueFd(fd));
}

Result<EventFd> EventFd::adopt(UniqueFd fd) {
  if (!fd.valid()) {
    return make_error(EBADF, "eventfd adopt: no file descriptor");
  }
  // An eventfd reads as "anon_inode:[eventfd]" in /proc/self/fd.
  char path[64];
  char link[64] = {};
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd.get());  // NOLINT(cert-err33-c)
  const ssize_t n = ::readlink(path, link, sizeof link - 1);
  if (n < 0) {
    return errno_error("eventfd adopt: readlink");
  }
  if (std::strcmp(link, "anon_inode:[eventfd]") != 0) {
    return make_error(EINVAL, std::string("eventfd adopt: not an eventfd: ") + link);
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags | O_NONBLOCK) < 0) {
    return errno_error("eventfd adopt: fcntl");
  }
  if (::fcntl(fd.get(), F_SETFD, FD_CLOEXEC) < 0) {
    return errno_error("eventfd adopt: fcntl");
  }
  return EventFd(std::move(fd));
}

void EventFd::signal() const {
  const uint64_t one = 1;
  for (;;) {
    const ssize_t n = ::write(fd_.get(), &one, sizeof one);
    if (n == sizeof one) {
      return;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    // EAGAIN: the counter is at its maximum, the reader will wake anyway.
    AVM_CHECK(n < 0 && errno == EAGAIN);
    return;
  }
}

uint64_t EventFd::consume() const {
  uint64_t count = 0;
  for (;;) {
    const ssize_t n = ::read(fd_.get(), &count, sizeof count);
    if (n == sizeof count) {
      return count;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    AVM_CHECK(n < 0 && errno == EAGAIN);
    return 0;
  }
}

bool EventFd::wait(int timeout_ms) const {
  pollfd pfd{fd_.get(), POLLIN, 0};
  const int n = ::poll(&pfd, 1, timeout_ms);
  if (n < 0) {
    AVM_CHECK(errno == EINTR);
    return false;
  }
  return n > 0 && (pfd.revents & POLLIN) != 0;
}

}  // namespace avm
