// SPDX-License-Identifier: GPL-2.0
// The wire format of QEMU's ivshmem-doorbell server protocol (QEMU 7.2,
// docs/specs/ivshmem-spec.txt), used by both our server and our test client.
//
// The server talks, the client only listens.  Every message is one
// little-endian int64 sent with one sendmsg(); a file descriptor, if the
// message has one, rides in a single SCM_RIGHTS control message.
//
//   on connect:  kProtocolVersion                    (no fd)
//                the client's own peer id            (no fd)
//                kShmMessage                         (fd: the shared memory)
//                for every other peer P, N times: P  (fd: P's vector 0..N-1)
//                N times the client's own id         (fd: its vector 0..N-1)
//   later:       N times a new peer's id             (fd: its vectors)
//                a departed peer's id                (no fd)
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <span>

#include "lib/error.h"
#include "lib/unique_fd.h"

namespace avm::ivshmem {

// Peer ids are 16 bits: the doorbell register carries them in bits 16..31.
using PeerId = uint16_t;

inline constexpr int64_t kProtocolVersion = 0;
inline constexpr int64_t kShmMessage = -1;
// The host (alacrityvmd) is always peer 0; clients get 1, 2, ...
inline constexpr PeerId kHostPeerId = 0;
inline constexpr int64_t kMaxPeerId = UINT16_MAX;
// QEMU 7.2 decodes 8 vector bits of the doorbell register.
inline constexpr unsigned kMaxVectors = 256;
inline constexpr size_t kMessageSize = sizeof(int64_t);

using MessageBytes = std::array<uint8_t, kMessageSize>;

MessageBytes encode_message(int64_t value);
int64_t decode_message(std::span<const uint8_t, kMessageSize> bytes);

// One sendmsg(MSG_NOSIGNAL | MSG_DONTWAIT) of @bytes with @fd attached
// (none if @fd < 0).  Returns the bytes sent (possibly fewer than asked; the
// fd always travels with the first byte) or -errno (EAGAIN: socket full).
ssize_t send_message_bytes(int sock, std::span<const uint8_t> bytes, int fd);

// A received message: its value and the fd that came with it, if any.
struct Message {
  int64_t value = 0;
  UniqueFd fd;
};

// Reads exactly one message from @sock, waiting at most @timeout_ms for
// each part (-1: forever).  ECONNRESET when the peer closed the socket,
// ETIMEDOUT on timeout, EPROTO for a malformed message (more than one fd,
// truncated control data).
Result<Message> recv_message(int sock, int timeout_ms);

}  // namespace avm::ivshmem
