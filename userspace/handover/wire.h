// SPDX-License-Identifier: GPL-2.0
// The hand-over wire protocol: frames on a connected SOCK_SEQPACKET UNIX
// socket (one sendmsg per frame, so the kernel keeps the boundaries and a
// frame's fds arrive with it).  docs/handover.md describes it in full.
//
// Every frame: struct FrameHeader (little-endian), then payload_len bytes,
// then (FDS frames only) nfds fds in one SCM_RIGHTS message.  A package is
//   BEGIN {"state_bytes": N, "fds": M}      JSON payload
//   STATE ... (N bytes of state JSON, in chunks of at most kMaxChunk)
//   FDS ...   (names separated by '\n'; at most kMaxFdsPerFrame fds each)
//   END       (payload: 8-byte FNV-1a of the state bytes)
// Control frames: HELLO {"version": 1, "pid": P}, READY, COMMIT, STARTED,
// ABORT (payload: the reason, text).
//
// The receiver trusts nothing: magic, version, frame order and sequence,
// every length and count against the limits and against what BEGIN
// announced, truncated data or control messages, fds that come without
// being announced (closed at once), names (FdBundle rules) and the JSON.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "handover/fd_bundle.h"
#include "lib/error.h"

namespace avm::handover {

constexpr uint32_t kMagic = 0x484d5641;  // "AVMH"
constexpr uint16_t kWireVersion = 1;
constexpr size_t kMaxChunk = size_t{32} * 1024;
constexpr size_t kMaxFdsPerFrame = 64;

enum class FrameType : uint16_t {
  kHello = 1,
  kBegin = 2,
  kState = 3,
  kFds = 4,
  kEnd = 5,
  kReady = 6,
  kCommit = 7,
  kStarted = 8,
  kAbort = 9,
};
const char* to_string(FrameType t);

struct FrameHeader {
  uint32_t magic;
  uint16_t version;
  uint16_t type;
  uint32_t seq;  // frames sent on this socket so far, from 0
  uint32_t payload_len;
  uint32_t nfds;
  uint32_t reserved;  // 0
};
static_assert(sizeof(FrameHeader) == 24);

struct Limits {
  size_t max_state_bytes = size_t{16} << 20;
  size_t max_fds = 4096;
  int timeout_ms = 10000;  // for each frame to arrive
};

// One received frame with its fds (owned).
struct Frame {
  FrameType type = FrameType::kHello;
  std::string payload;
  std::vector<UniqueFd> fds;
};

// Sends and receives frames, counting sequence numbers each way.
class Channel {
 public:
  explicit Channel(int sock) : sock_(sock) {}

  Status send(FrameType type, std::string_view payload, const std::vector<int>& fds = {});
  // Waits up to @timeout_ms for the next frame; ETIMEDOUT, ECONNRESET on
  // end of file, EPROTO for anything malformed.
  Result<Frame> receive(int timeout_ms);

  // Sends @p as BEGIN, STATE..., FDS..., END.
  Status send_package(const Package& p);
  // Receives a package (after the caller read nothing of it yet).
  Result<Package> receive_package(const Limits& limits);

  // A control frame of @want; ABORT from the peer is ECANCELED with its
  // reason, any other frame EPROTO.
  Status expect(FrameType want, int timeout_ms);

  int fd() const { return sock_; }

 private:
  int sock_;
  uint32_t sent_ = 0;
  uint32_t received_ = 0;
};

// One sendmsg of @h, @payload and @fds (SCM_RIGHTS), as given: Channel's
// sender, and tests that need frames a Channel would never send.
Status send_frame(int sock, const FrameHeader& h, std::string_view payload,
                  const std::vector<int>& fds);

// FNV-1a, 64 bit: END's check that no STATE chunk went missing.
uint64_t fnv1a(std::string_view bytes, uint64_t h = 0xcbf29ce484222325ULL);

}  // namespace avm::handover
