// SPDX-License-Identifier: GPL-2.0
// avm::EventFd: a non-blocking, close-on-exec eventfd (doorbells, interrupts,
// wake-ups between the threads and processes of the host).
#pragma once

#include <cstdint>

#include "lib/error.h"
#include "lib/unique_fd.h"

namespace avm {

class EventFd {
 public:
  // A new eventfd, EFD_CLOEXEC | EFD_NONBLOCK, counter 0.
  static Result<EventFd> create();
  // Wraps an eventfd received from elsewhere (e.g. an ivshmem peer vector).
  // It is switched to non-blocking mode; an fd that is not an eventfd is
  // rejected with EINVAL.
  static Result<EventFd> adopt(UniqueFd fd);

  EventFd(EventFd&&) noexcept = default;
  EventFd& operator=(EventFd&&) noexcept = default;
  EventFd(const EventFd&) = delete;
  EventFd& operator=(const EventFd&) = delete;
  ~EventFd() = default;

  int fd() const { return fd_.get(); }
  // Gives up the fd (e.g. to send it with SCM_RIGHTS and close it here).
  UniqueFd release_fd() { return std::move(fd_); }

  // Adds 1 to the counter.  Never blocks: if the counter is saturated the
  // reader has a wake-up pending anyway.  Other failures abort (they mean
  // the fd is not ours any more).
  void signal() const;
  // Reads and resets the counter: the count, or 0 if it was 0.
  uint64_t consume() const;
  // Waits up to @timeout_ms (-1: forever) for the counter to become
  // non-zero; true if it is.  Does not consume.  EINTR counts as "not yet".
  bool wait(int timeout_ms) const;

 private:
  explicit EventFd(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace avm
