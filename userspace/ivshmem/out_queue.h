// SPDX-License-Identifier: GPL-2.0
// The server's per-client output: protocol messages go straight to the
// socket while it has room, and wait here (with a duplicate of their fd, so
// the original may be closed meanwhile) when it is full.  Order is kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

#include "ivshmem/protocol.h"
#include "lib/unique_fd.h"

namespace avm::ivshmem {

class OutQueue {
 public:
  enum class State {
    kOk,        // sent or queued
    kGone,      // the client's socket is broken (EPIPE, ECONNRESET, ...)
    kOverflow,  // more than the limit of messages would be queued
    kNoFd,      // an fd could not be duplicated for queueing (EMFILE, ...)
  };
  struct Outcome {
    State state = State::kOk;
    int error = 0;  // errno for kGone / kNoFd
  };

  explicit OutQueue(size_t limit) : limit_(limit) {}

  // Sends (value, fd) now if nothing is queued and the socket has room,
  // otherwise queues it.  @fd < 0: no fd.  @fd is borrowed.  A @bounded
  // message is refused (kOverflow) when the limit of bounded messages is
  // queued already; an unbounded one (a handshake: finite by
  // construction) is never refused and does not count.
  Outcome push(int sock, int64_t value, int fd, bool bounded = true);
  // Sends as much of the queue as the socket takes.
  Outcome flush(int sock);

  bool empty() const { return queue_.empty(); }
  size_t size() const { return queue_.size(); }
  // Messages that had to wait, ever (for statistics).
  uint64_t delayed() const { return delayed_; }

 private:
  struct Pending {
    MessageBytes bytes{};
    size_t sent = 0;  // bytes already on the wire (the fd went with the first)
    UniqueFd fd;
    bool bounded = true;
  };
  // Sends what is left of @p (with @fd if nothing of it went yet).  kOk
  // with error EAGAIN means the socket is full and @p is not (all) sent.
  static Outcome send_one(int sock, Pending& p, int fd);

  size_t limit_;
  std::deque<Pending> queue_;
  size_t bounded_queued_ = 0;  // bounded messages in queue_
  uint64_t delayed_ = 0;
};

}  // namespace avm::ivshmem
