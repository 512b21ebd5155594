// SPDX-License-Identifier: GPL-2.0
#include "handover/wire.h"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace avm::handover {
namespace {

constexpr size_t kMaxPayload = kMaxChunk;
constexpr size_t kMaxFrame = sizeof(FrameHeader) + kMaxPayload;

tl::unexpected<Error> proto(const std::string& what) {
  return make_error(EPROTO, "hand-over: " + what);
}

}  // namespace

const char* to_string(FrameType t) {
  switch (t) {
    case FrameType::kHello:
      return "HELLO";
    case FrameType::kBegin:
      return "BEGIN";
    case FrameType::kState:
      return "STATE";
    case FrameType::kFds:
      return "FDS";
    case FrameType::kEnd:
      return "END";
    case FrameType::kReady:
      return "READY";
    case FrameType::kCommit:
      return "COMMIT";
    case FrameType::kStarted:
      return "STARTED";
    case FrameType::kAbort:
      return "ABORT";
  }
  return "?";
}

uint64_t fnv1a(std::string_view bytes, uint64_t h) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

Status send_frame(int sock, const FrameHeader& h, std::string_view payload,
                  const std::vector<int>& fds) {
  AVM_CHECK(fds.size() <= kMaxFdsPerFrame);
  std::string buf(sizeof h + payload.size(), '\0');
  std::memcpy(buf.data(), &h, sizeof h);
  std::memcpy(buf.data() + sizeof h, payload.data(), payload.size());
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::array<char, CMSG_SPACE(sizeof(int) * kMaxFdsPerFrame)> control{};
  if (!fds.empty()) {
    msg.msg_control = control.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    if (::sendmsg(sock, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(buf.size())) {
      return {};
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno == EAGAIN) {
      pollfd p{sock, POLLOUT, 0};
      if (::poll(&p, 1, 10000) <= 0) {
        return make_error(ETIMEDOUT, "hand-over: peer does not read");
      }
      continue;
    }
    return errno_error("hand-over: sendmsg");
  }
}

Status Channel::send(FrameType type, std::string_view payload, const std::vector<int>& fds) {
  AVM_CHECK(payload.size() <= kMaxPayload);
  FrameHeader h{};
  h.magic = kMagic;
  h.version = kWireVersion;
  h.type = static_cast<uint16_t>(type);
  h.seq = sent_;
  h.payload_len = static_cast<uint32_t>(payload.size());
  h.nfds = static_cast<uint32_t>(fds.size());
  if (auto ok = send_frame(sock_, h, payload, fds); !ok) {
    return make_error(ok.error().code, std::string(to_string(type)) + ": " + ok.error().message);
  }
  sent_++;
  return {};
}

Result<Frame> Channel::receive(int timeout_ms) {
  pollfd p{sock_, POLLIN, 0};
  int n = 0;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return errno_error("hand-over: poll");
  }
  if (n == 0) {
    return make_error(ETIMEDOUT,
                      "hand-over: peer silent for " + std::to_string(timeout_ms) + " ms");
  }
  std::vector<char> buf(kMaxFrame + 1);
  iovec iov{buf.data(), buf.size()};
  std::array<char, CMSG_SPACE(sizeof(int) * kMaxFdsPerFrame)> control{};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.data();
  msg.msg_controllen = control.size();
  ssize_t got = 0;
  do {
    got = ::recvmsg(sock_, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    return errno == ECONNRESET ? make_error(ECONNRESET, "hand-over: peer closed the connection")
                               : errno_error("hand-over: recvmsg");
  }
  // Take ownership of every fd that came, whatever else is wrong.
  Frame f;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; i++) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        f.fds.emplace_back(fd);
      }
    }
  }
  if (got == 0) {
    return make_error(ECONNRESET, "hand-over: peer closed the connection");
  }
  if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    return proto("frame or its fds truncated (too large)");
  }
  if (static_cast<size_t>(got) < sizeof(FrameHeader)) {
    return proto("frame shorter than its header");
  }
  FrameHeader h{};
  std::memcpy(&h, buf.data(), sizeof h);
  if (h.magic != kMagic || h.version != kWireVersion || h.reserved != 0) {
    return proto("bad magic, version or reserved field");
  }
  if (h.seq != received_) {
    return proto("frame " + std::to_string(h.seq) + " out of order (expected " +
                 std::to_string(received_) + ")");
  }
  if (h.payload_len != static_cast<size_t>(got) - sizeof h) {
    return proto("payload length does not match the frame");
  }
  if (h.nfds != f.fds.size()) {
    return proto("frame announces " + std::to_string(h.nfds) + " fds, carries " +
                 std::to_string(f.fds.size()));
  }
  if (h.type < static_cast<uint16_t>(FrameType::kHello) ||
      h.type > static_cast<uint16_t>(FrameType::kAbort)) {
    return proto("unknown frame type " + std::to_string(h.type));
  }
  f.type = static_cast<FrameType>(h.type);
  if (f.type != FrameType::kFds && !f.fds.empty()) {
    return proto(std::string(to_string(f.type)) + " frame with fds");
  }
  f.payload.assign(buf.data() + sizeof h, h.payload_len);
  received_++;
  return f;
}

Status Channel::send_package(const Package& p) {
  const std::string state = p.state.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  nlohmann::json begin = {{"state_bytes", state.size()}, {"fds", p.fds.size()}};
  if (auto ok = send(FrameType::kBegin, begin.dump()); !ok) {
    return ok;
  }
  for (size_t off = 0; off < state.size(); off += kMaxChunk) {
    const std::string_view chunk = std::string_view(state).substr(off, kMaxChunk);
    if (auto ok = send(FrameType::kState, chunk); !ok) {
      return ok;
    }
  }
  const auto& entries = p.fds.entries();
  for (size_t i = 0; i < entries.size();) {
    std::string names;
    std::vector<int> fds;
    while (i < entries.size() && fds.size() < kMaxFdsPerFrame &&
           names.size() + entries[i].first.size() + 1 <= kMaxChunk) {
      names += entries[i].first;
      names += '\n';
      fds.push_back(entries[i].second.get());
      i++;
    }
    if (auto ok = send(FrameType::kFds, names, fds); !ok) {
      return ok;
    }
  }
  const uint64_t sum = fnv1a(state);
  std::string end(sizeof sum, '\0');
  std::memcpy(end.data(), &sum, sizeof sum);
  return send(FrameType::kEnd, end);
}

Result<Package> Channel::receive_package(const Limits& limits) {
  auto begin = receive(limits.timeout_ms);
  if (!begin) {
    return tl::unexpected(begin.error());
  }
  if (begin->type == FrameType::kAbort) {
    return make_error(ECANCELED, "hand-over: the other side aborted: " + begin->payload);
  }
  if (begin->type != FrameType::kBegin) {
    return proto(std::string("expected BEGIN, got ") + to_string(begin->type));
  }
  const auto announce = nlohmann::json::parse(begin->payload, nullptr, false);
  auto state_bytes = get_u64(announce, "state_bytes", limits.max_state_bytes);
  auto nfds = get_u64(announce, "fds", limits.max_fds);
  if (!state_bytes || !nfds) {
    return proto("BEGIN: " + (!state_bytes ? state_bytes.error() : nfds.error()).message);
  }
  std::string state;
  Package p;
  for (;;) {
    auto f = receive(limits.timeout_ms);
    if (!f) {
      return tl::unexpected(f.error());
    }
    switch (f->type) {
      case FrameType::kState:
        if (!p.fds.empty() || f->payload.size() > *state_bytes - state.size()) {
          return proto("STATE out of place or beyond the announced size");
        }
        state += f->payload;
        break;
      case FrameType::kFds: {
        if (state.size() != *state_bytes) {
          return proto("FDS before the whole state");
        }
        if (f->fds.size() > *nfds - p.fds.size()) {
          return proto("more fds than announced");
        }
        std::vector<std::string> names;
        size_t start = 0;
        for (size_t nl = f->payload.find('\n'); nl != std::string::npos;
             nl = f->payload.find('\n', start)) {
          names.push_back(f->payload.substr(start, nl - start));
          start = nl + 1;
        }
        if (start != f->payload.size() || names.size() != f->fds.size()) {
          return proto("FDS: names do not match the fds");
        }
        for (size_t i = 0; i < names.size(); i++) {
          if (auto ok = p.fds.add(names[i], std::move(f->fds[i])); !ok) {
            return proto("FDS: " + ok.error().message);
          }
        }
        break;
      }
      case FrameType::kEnd: {
        uint64_t sum = 0;
        if (state.size() != *state_bytes || p.fds.size() != *nfds ||
            f->payload.size() != sizeof sum) {
          return proto("END before everything announced arrived");
        }
        std::memcpy(&sum, f->payload.data(), sizeof sum);
        if (sum != fnv1a(state)) {
          return proto("state checksum mismatch");
        }
        p.state = nlohmann::json::parse(state, nullptr, false);
        if (p.state.is_discarded() || !p.state.is_object()) {
          return proto("state is not a JSON object");
        }
        return p;
      }
      case FrameType::kAbort:
        return make_error(ECANCELED, "hand-over: the other side aborted: " + f->payload);
      default:
        return proto(std::string("unexpected ") + to_string(f->type) + " inside a package");
    }
  }
}

Status Channel::expect(FrameType want, int timeout_ms) {
  auto f = receive(timeout_ms);
  if (!f) {
    return tl::unexpected(f.error());
  }
  if (f->type == want) {
    return {};
  }
  if (f->type == FrameType::kAbort) {
    return make_error(ECANCELED, "hand-over: the other side aborted: " + f->payload);
  }
  return proto(std::string("expected ") + to_string(want) + ", got " + to_string(f->type));
}

}  // namespace avm::handover
