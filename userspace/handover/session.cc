// SPDX-License-Identifier: GPL-2.0
#include "handover/session.h"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>

#include "lib/listen_socket.h"

namespace avm::handover {
namespace {

constexpr uint32_t kSessionVersion = 1;

void try_abort(Channel& ch, const std::string& why) {
  // Best effort: the peer may be gone already.
  (void)ch.send(FrameType::kAbort, why.substr(0, kMaxChunk));
}

// Reads (and drops) frames until end of file or @timeout_ms.
bool wait_eof(Channel& ch, int timeout_ms) {
  for (;;) {
    auto f = ch.receive(timeout_ms);
    if (!f) {
      return f.error().code == ECONNRESET;
    }
  }
}

// A SOCK_SEQPACKET socket and the address of @path.
struct Endpoint {
  UniqueFd sock;
  sockaddr_un addr{};
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&addr); }  // NOLINT
};

Result<Endpoint> endpoint(const std::string& path) {
  Endpoint e;
  sockaddr_un& a = e.addr;
  a.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof a.sun_path) {
    return make_error(ENAMETOOLONG, "hand-over socket path must have 1.." +
                                        std::to_string(sizeof a.sun_path - 1) + " bytes");
  }
  std::memcpy(a.sun_path, path.c_str(), path.size() + 1);
  e.sock.reset(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!e.sock) {
    return errno_error("socket");
  }
  return e;
}

}  // namespace

pid_t peer_pid(int sock) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    return 0;
  }
  return cred.pid;
}

GiveResult give(int sock, const GiveHooks& hooks, const Limits& limits) {
  Channel ch(sock);
  GiveResult r;
  r.taker = peer_pid(sock);
  auto resumed = [&](std::string why) {
    r.outcome = GiveOutcome::kResumed;
    r.why = std::move(why);
    spdlog::warn("hand-over to pid {} failed, serving on: {}", r.taker, r.why);
    hooks.resume();
    return r;
  };

  auto hello = ch.receive(limits.timeout_ms);
  if (!hello || hello->type != FrameType::kHello) {
    r.why = hello ? "expected HELLO" : hello.error().message;
    try_abort(ch, r.why);
    spdlog::warn("hand-over to pid {} refused: {}", r.taker, r.why);
    return r;  // nothing quiesced yet: nothing to resume
  }
  const auto h = nlohmann::json::parse(hello->payload, nullptr, false);
  if (auto v = get_u32(h, "version"); !v || *v != kSessionVersion) {
    r.why = "taker speaks another hand-over version";
    try_abort(ch, r.why);
    spdlog::warn("hand-over to pid {} refused: {}", r.taker, r.why);
    return r;
  }
  spdlog::info("hand-over: pid {} takes over; quiescing", r.taker);

  {
    auto pkg = hooks.quiesce_and_export();
    if (!pkg) {
      try_abort(ch, pkg.error().message);
      return resumed("export: " + pkg.error().message);
    }
    if (auto ok = ch.send_package(*pkg); !ok) {
      return resumed(ok.error().message);
    }
    // Our duplicates close here; the originals stay with the objects.
  }
  if (auto ok = ch.expect(FrameType::kReady, limits.timeout_ms); !ok) {
    try_abort(ch, ok.error().message);
    return resumed("waiting for READY: " + ok.error().message);
  }
  if (auto ok = ch.send(FrameType::kCommit, ""); !ok) {
    return resumed("COMMIT: " + ok.error().message);
  }
  auto started = ch.expect(FrameType::kStarted, limits.timeout_ms);
  if (started) {
    hooks.abandon();
    r.outcome = GiveOutcome::kHandedOver;
    spdlog::info("hand-over: pid {} serves now", r.taker);
    return r;
  }
  const int code = started.error().code;
  if (code != ECONNRESET && code != ECANCELED) {
    // Alive but not saying it serves (silent, or talking nonsense): make
    // sure it does not, before we serve again.
    spdlog::error("hand-over: pid {} after COMMIT: {}; killing it", r.taker,
                  started.error().message);
    // Never ourselves (a socketpair reports its creator) or init.
    if (r.taker > 1 && r.taker != ::getpid()) {
      ::kill(r.taker, SIGKILL);
    }
    if (!wait_eof(ch, limits.timeout_ms)) {
      // Cannot happen for a killed process; resuming would risk two
      // servers, so stay out (the guest sees a dead host, as after a crash).
      r.why = "taker neither serves nor dies";
      spdlog::critical("hand-over: pid {}: {}; not resuming", r.taker, r.why);
      hooks.abandon();
      r.outcome = GiveOutcome::kHandedOver;
      return r;
    }
  }
  return resumed("after COMMIT: " + started.error().message);
}

Status take(int sock, const TakeHooks& hooks, const Limits& limits) {
  Channel ch(sock);
  nlohmann::json hello = {{"version", kSessionVersion}, {"pid", ::getpid()}};
  if (auto ok = ch.send(FrameType::kHello, hello.dump()); !ok) {
    return ok;
  }
  auto pkg = ch.receive_package(limits);
  if (!pkg) {
    try_abort(ch, pkg.error().message);
    return tl::unexpected(pkg.error());
  }
  if (auto ok = hooks.adopt(*pkg); !ok) {
    try_abort(ch, ok.error().message);
    hooks.discard();
    return make_error(ok.error().code, "adopt: " + ok.error().message);
  }
  if (auto ok = ch.send(FrameType::kReady, ""); !ok) {
    hooks.discard();
    return ok;
  }
  if (auto ok = ch.expect(FrameType::kCommit, limits.timeout_ms); !ok) {
    hooks.discard();
    return make_error(ok.error().code, "waiting for COMMIT: " + ok.error().message);
  }
  if (auto ok = hooks.start(); !ok) {
    hooks.discard();
    try_abort(ch, ok.error().message);
    return make_error(ok.error().code, "start: " + ok.error().message);
  }
  if (auto ok = ch.send(FrameType::kStarted, ""); !ok) {
    // We serve; the giver is gone or will find out from end of file.
    spdlog::warn("hand-over: STARTED not delivered: {}", ok.error().message);
  }
  return {};
}

Result<UniqueFd> listen_socket(const std::string& path) {
  auto ls = ListenSocket::create(path, 0600, 4, {.type = SOCK_SEQPACKET, .replace_live = true});
  if (!ls) {
    return tl::unexpected(ls.error());
  }
  return ls->release();  // the caller removes the file
}

Result<UniqueFd> accept_peer(int listen_fd, int timeout_ms) {
  pollfd p{listen_fd, POLLIN, 0};
  int n = 0;
  do {
    n = ::poll(&p, 1, timeout_ms);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) {
    return make_error(ETIMEDOUT, "hand-over: nobody connected");
  }
  UniqueFd c(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
  if (!c) {
    return errno_error("accept");
  }
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(c.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    return errno_error("SO_PEERCRED");
  }
  if (cred.uid != 0 && cred.uid != ::geteuid()) {
    return make_error(EPERM, "hand-over: refusing uid " + std::to_string(cred.uid));
  }
  return c;
}

Result<UniqueFd> connect_socket(const std::string& path) {
  auto e = endpoint(path);
  if (!e) {
    return tl::unexpected(e.error());
  }
  if (::connect(e->sock.get(), e->sa(), sizeof e->addr) < 0) {
    return errno_error("connect " + path);
  }
  return std::move(e->sock);
}

}  // namespace avm::handover
