// SPDX-License-Identifier: GPL-2.0
#include "ivshmem/protocol.h"

#include <endian.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace avm::ivshmem {

MessageBytes encode_message(int64_t value) {
  const uint64_t le = htole64(static_cast<uint64_t>(value));
  MessageBytes bytes{};
  std::memcpy(bytes.data(), &le, sizeof le);
  return bytes;
}

int64_t decode_message(std::span<const uint8_t, kMessageSize> bytes) {
  uint64_t le = 0;
  std::memcpy(&le, bytes.data(), sizeof le);
  return static_cast<int64_t>(le64toh(le));
}

ssize_t send_message_bytes(int sock, std::span<const uint8_t> bytes, int fd) {
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};  // NOLINT: sendmsg reads only
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    cmsghdr* cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(cmsg), &fd, sizeof fd);
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      return n;
    }
    if (errno != EINTR) {
      return -errno;
    }
  }
}

namespace {

// Waits for @sock to become readable; ETIMEDOUT if it does not in time.
Status wait_readable(int sock, int timeout_ms) {
  pollfd pfd{sock, POLLIN, 0};
  for (;;) {
    const int n = ::poll(&pfd, 1, timeout_ms);
    if (n > 0) {
      return {};
    }
    if (n == 0) {
      return make_error(ETIMEDOUT, "ivshmem: timed out waiting for the server");
    }
    if (errno != EINTR) {
      return errno_error("ivshmem: poll");
    }
  }
}

// Takes the fds out of a received control buffer; EPROTO unless there is
// at most one.
Status take_fds(msghdr& msg, UniqueFd& out) {
  Status status;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      continue;
    }
    const size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      UniqueFd owned(fd);
      if (out.valid()) {
        status = make_error(EPROTO, "ivshmem: more than one fd in a message");
      } else {
        out = std::move(owned);
      }
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) != 0) {
    status = make_error(EPROTO, "ivshmem: control data truncated");
  }
  return status;
}

}  // namespace

Result<Message> recv_message(int sock, int timeout_ms) {
  MessageBytes bytes{};
  size_t got = 0;
  Message out;
  while (got < bytes.size()) {
    if (auto ready = wait_readable(sock, timeout_ms); !ready) {
      return tl::unexpected(ready.error());
    }
    iovec iov{bytes.data() + got, bytes.size() - got};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)] = {};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return errno_error("ivshmem: recvmsg");
    }
    if (auto fds = take_fds(msg, out.fd); !fds) {
      return tl::unexpected(fds.error());
    }
    if (n == 0) {
      return make_error(ECONNRESET, got == 0 ? "ivshmem: server closed the connection"
                                             : "ivshmem: server closed mid-message");
    }
    got += static_cast<size_t>(n);
  }
  out.value = decode_message(bytes);
  return out;
}

}  // namespace avm::ivshmem
