// SPDX-License-Identifier: GPL-2.0
#include "ivshmem/out_queue.h"

#include <fcntl.h>

#include <cerrno>

namespace avm::ivshmem {

namespace {
constexpr OutQueue::Outcome kOk{};
}  // namespace

// kOk with error EAGAIN: the socket is full, @p is (partly) unsent.
OutQueue::Outcome OutQueue::send_one(int sock, Pending& p, int fd) {
  while (p.sent < p.bytes.size()) {
    const std::span<const uint8_t> rest(p.bytes.data() + p.sent, p.bytes.size() - p.sent);
    const ssize_t n = send_message_bytes(sock, rest, p.sent == 0 ? fd : -1);
    if (n == -EAGAIN) {
      return {State::kOk, EAGAIN};
    }
    if (n < 0) {
      return {State::kGone, static_cast<int>(-n)};
    }
    if (n == 0) {
      return {State::kGone, EPIPE};
    }
    p.sent += static_cast<size_t>(n);
    p.fd.reset();  // on the wire now
  }
  return kOk;
}

OutQueue::Outcome OutQueue::push(int sock, int64_t value, int fd, bool bounded) {
  Pending p;
  p.bytes = encode_message(value);
  if (queue_.empty()) {
    const Outcome o = send_one(sock, p, fd);
    if (o.state != State::kOk || o.error != EAGAIN) {
      return o;
    }
    // Partly sent (the fd is already on its way) or not at all: wait.
  }
  if (bounded && bounded_queued_ >= limit_) {
    return {State::kOverflow, 0};
  }
  if (fd >= 0 && p.sent == 0) {
    // The caller's fd may be closed before the message leaves: keep a copy.
    p.fd.reset(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (!p.fd) {
      return {State::kNoFd, errno};
    }
  }
  p.bounded = bounded;
  bounded_queued_ += bounded ? 1 : 0;
  queue_.push_back(std::move(p));
  delayed_++;
  return kOk;
}

OutQueue::Outcome OutQueue::flush(int sock) {
  while (!queue_.empty()) {
    Pending& p = queue_.front();
    const Outcome o = send_one(sock, p, p.fd.get());
    if (o.state != State::kOk) {
      return o;
    }
    if (o.error == EAGAIN) {
      return kOk;
    }
    bounded_queued_ -= p.bounded ? 1 : 0;
    queue_.pop_front();
  }
  return kOk;
}

}  // namespace avm::ivshmem
