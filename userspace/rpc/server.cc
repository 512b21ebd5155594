// SPDX-License-Identifier: GPL-2.0
#include "rpc/server.h"

#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <tuple>
#include <vector>

namespace avm::rpc {

namespace {

// The kernel's limit (net.core.somaxconn): a burst of connections waits
// for its turn instead of failing a non-blocking connect() with EAGAIN.
constexpr int kBacklog = SOMAXCONN;
constexpr size_t kReadChunk = 16384;
constexpr uint32_t kIn = EPOLLIN | EPOLLRDHUP;
constexpr uint32_t kOut = EPOLLOUT;

// Bytes waiting in @sock's receive queue (0 if it cannot tell).
size_t queued_input(int sock) {
  int n = 0;
  return ::ioctl(sock, FIONREAD, &n) == 0 && n > 0 ? static_cast<size_t>(n) : 0;
}

}  // namespace

std::optional<gid_t> lookup_group(const std::string& name) {
  std::vector<char> buf(4096);
  group gr{};
  group* found = nullptr;
  while (::getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &found) == ERANGE) {
    buf.resize(buf.size() * 2);
  }
  if (found == nullptr) {
    return std::nullopt;
  }
  return found->gr_gid;
}

Server::Server(ServerConfig config, LineHandler handler, UniqueFd epoll)
    : config_(std::move(config)), handler_(std::move(handler)), epoll_(std::move(epoll)) {}

Server::~Server() {
  close();
}

Result<std::unique_ptr<Server>> Server::create(const ServerConfig& config, LineHandler handler) {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) {
    return errno_error("epoll_create1");
  }
  auto listener = ListenSocket::create(config.path, config.mode, kBacklog);
  if (!listener) {
    return tl::unexpected(listener.error());
  }
  std::unique_ptr<Server> s(new Server(config, std::move(handler), std::move(ep)));
  s->listener_ = std::move(*listener);
  return finish(std::move(s), true);
}

Result<std::unique_ptr<Server>> Server::adopt(const ServerConfig& config, LineHandler handler,
                                              UniqueFd listen_fd, dev_t dev, ino_t ino) {
  UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) {
    return errno_error("epoll_create1");
  }
  auto listener = ListenSocket::adopt(std::move(listen_fd), config.path, dev, ino);
  if (!listener) {
    return tl::unexpected(listener.error());
  }
  // Again, so that connecting clients see our pid in SO_PEERCRED (the
  // kernel records the caller of listen()); the backlog stays.
  if (::listen(listener->fd(), kBacklog) < 0) {
    return errno_error("listen " + config.path);
  }
  std::unique_ptr<Server> s(new Server(config, std::move(handler), std::move(ep)));
  s->listener_ = std::move(*listener);
  return finish(std::move(s), false);
}

Result<std::unique_ptr<Server>> Server::finish(std::unique_ptr<Server> s, bool chgrp) {
  const ServerConfig& config = s->config_;
  if (!config.group.empty()) {
    if (auto gid = lookup_group(config.group)) {
      s->group_gid_ = *gid;
      if (chgrp && ::chown(config.path.c_str(), static_cast<uid_t>(-1), *gid) < 0) {
        return errno_error("chgrp " + config.group + " " + config.path);
      }
    } else {
      spdlog::warn("control socket: group {} does not exist: {} keeps our group", config.group,
                   config.path);
    }
  }
  auto kick = EventFd::create();
  if (!kick) {
    return tl::unexpected(kick.error());
  }
  s->kick_ = std::move(*kick);
  for (const int fd : {s->listener_.fd(), s->kick_->fd()}) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    if (::epoll_ctl(s->epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
      return errno_error("epoll_ctl");
    }
  }
  return s;
}

void Server::close_connections() {
  for (auto& [fd, c] : conns_) {
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
  conns_.clear();
  backlog_.clear();
  if (listener_.fd() >= 0) {
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, listener_.fd(), nullptr);
  }
}

void Server::close() {
  close_connections();
  listener_.close();
}

size_t Server::quiet_connections() const {
  size_t n = 0;
  for (const auto& [fd, c] : conns_) {
    n += c->in.size() == c->in_off && c->unsent() == 0 && !c->closing && !c->dead ? 1 : 0;
  }
  return n;
}

size_t Server::unsent() const {
  size_t n = 0;
  for (const auto& [fd, c] : conns_) {
    n += c->unsent();
  }
  return n;
}

void Server::release() {
  close_connections();
  listener_.release();
}

bool Server::allowed(int sock, const Caller& caller) const {
  if (!config_.check_group || caller.uid == 0 || caller.uid == ::geteuid()) {
    return true;
  }
  if (group_gid_ == static_cast<gid_t>(-1)) {
    return false;
  }
  if (caller.gid == group_gid_) {
    return true;
  }
  std::array<gid_t, 256> groups{};
  socklen_t len = sizeof groups;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) < 0) {
    return false;
  }
  for (size_t i = 0; i < len / sizeof(gid_t); i++) {
    if (groups[i] == group_gid_) {
      return true;
    }
  }
  return false;
}

void Server::refuse(int sock, const Caller& caller, const Fault& why, const std::string& log) {
  stats_.refused++;
  // One line if the socket takes it now; the close follows either way.
  const std::string line = error_line(nullptr, why);
  (void)::send(sock, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (refuse_log_.admit()) {
    spdlog::warn("control socket: refused pid {} uid {} gid {}: {}{}", caller.pid, caller.uid,
                 caller.gid, log, refuse_log_.held_back("refusals"));
  }
}

bool Server::evict_one() {
  // Quiet connections (nothing received that is not answered, nothing to
  // send, nothing waiting in the socket) go first, those that never sent a
  // request before the others, the longest idle first; then one whose
  // request has not moved for kStuckAfter.
  const Clock::time_point now = Clock::now();
  std::optional<std::tuple<int, bool, Clock::time_point>> best;  // rank, spoke, active
  int victim = -1;
  for (const auto& [fd, c] : conns_) {
    int rank = 0;
    if (c->in.empty() && c->unsent() == 0 && !c->closing && queued_input(fd) == 0) {
      rank = 0;
    } else if (now - c->active >= kStuckAfter) {
      rank = 1;
    } else {
      continue;
    }
    const auto key = std::make_tuple(rank, c->spoke, c->active);
    if (!best || key < *best) {
      best = key;
      victim = fd;
    }
  }
  if (victim < 0) {
    return false;
  }
  const Conn& c = *conns_.at(victim);
  {
    stats_.evicted++;
    const std::string line = error_line(nullptr, Fault{kLimitReached,
                                                       "connection closed for a new client: " +
                                                           std::to_string(config_.max_connections) +
                                                           " connections (max_connections)",
                                                       Json{{"limit", "max_connections"}}});
    (void)::send(victim, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (evict_log_.admit()) {
      spdlog::info("control socket: closed the {} connection of pid {} uid {} for a new client{}",
                   std::get<0>(*best) == 0 ? "idle" : "stalled", c.caller.pid, c.caller.uid,
                   evict_log_.held_back("evictions"));
    }
  }
  drop(victim);
  return true;
}

void Server::accept_some() {
  for (unsigned i = 0; i < kAcceptsPerTurn; i++) {
    UniqueFd sock(::accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!sock) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        spdlog::warn("control socket: accept: {}", errno_text(errno));
      }
      return;
    }
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(sock.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
      stats_.refused++;
      continue;
    }
    const Caller caller{cred.pid, cred.uid, cred.gid};
    if (!allowed(sock.get(), caller)) {
      const std::string who =
          config_.group.empty() ? "no control group" : "not in group " + config_.group;
      refuse(sock.get(), caller,
             Fault{kPermissionDenied, "permission denied: not root, not our user, " + who, nullptr},
             who);
      continue;
    }
    if (conns_.size() >= config_.max_connections && !evict_one()) {
      const std::string n = std::to_string(config_.max_connections);
      refuse(sock.get(), caller,
             Fault{kLimitReached, "too many connections: " + n + " (max_connections), all busy",
                   Json{{"limit", "max_connections"}}},
             n + " connections already, all busy");
      continue;
    }
    const int fd = sock.get();
    epoll_event ev{};
    ev.events = kIn;
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
      stats_.refused++;
      continue;
    }
    stats_.accepted++;
    spdlog::debug("control socket: pid {} uid {} gid {} connected", caller.pid, caller.uid,
                  caller.gid);
    auto c = std::make_unique<Conn>();
    c->sock = std::move(sock);
    c->caller = caller;
    c->interest = ev.events;
    c->active = Clock::now();
    c->turn = turn_;
    conns_[fd] = std::move(c);
  }
}

bool Server::has_line(const Conn& c) {
  return c.in.find('\n', std::max(c.in_off, c.in_scan)) != std::string::npos;
}

void Server::handle_lines(Conn& c, unsigned& budget) {
  while (budget > 0 && !c.closing && !over_cap(c)) {
    const size_t nl = c.in.find('\n', std::max(c.in_off, c.in_scan));
    const size_t end = nl == std::string::npos ? c.in.size() : nl;
    if (end - c.in_off > config_.max_request_bytes) {
      stats_.oversized++;
      spdlog::warn("control socket: pid {} uid {}: request over {} bytes, closing", c.caller.pid,
                   c.caller.uid, config_.max_request_bytes);
      c.out += error_line(nullptr, Fault{kInvalidRequest,
                                         "request longer than " +
                                             std::to_string(config_.max_request_bytes) + " bytes",
                                         nullptr});
      c.in.clear();
      c.in_off = c.in_scan = 0;
      c.closing = true;
      return;
    }
    if (nl == std::string::npos) {
      c.in_scan = c.in.size();
      break;
    }
    std::string_view line(c.in.data() + c.in_off, nl - c.in_off);
    c.in_off = c.in_scan = nl + 1;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.find_first_not_of(" \t") == std::string_view::npos) {
      continue;
    }
    budget--;
    stats_.requests++;
    c.spoke = true;
    if (auto reply = handler_(line, c.caller)) {
      c.out += *reply;
    }
  }
  // What is handled goes; a partial line stays at the front.
  c.in.erase(0, c.in_off);
  c.in_scan -= c.in_off;
  c.in_off = 0;
  if (c.eof && !c.closing && !has_line(c)) {
    c.closing = true;  // every request the client sent is answered
  }
}

void Server::read_some(Conn& c, unsigned& budget) {
  std::array<char, kReadChunk> buf{};
  size_t got = 0;
  while (budget > 0 && got < kBytesPerTurn && !c.eof && !c.closing && !over_cap(c) &&
         !has_line(c)) {
    const ssize_t n = ::recv(c.sock.get(), buf.data(), buf.size(), 0);
    if (n == 0) {
      c.eof = true;
    } else if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c.dead = true;
      }
      return;
    } else {
      got += static_cast<size_t>(n);
      c.active = Clock::now();
      c.in.append(buf.data(), static_cast<size_t>(n));
    }
    handle_lines(c, budget);
  }
}

void Server::flush(Conn& c) {
  while (c.unsent() > 0) {
    const ssize_t n =
        ::send(c.sock.get(), c.out.data() + c.out_off, c.unsent(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      if (errno == EINTR) {
        continue;
      }
      c.dead = true;
      return;
    }
    c.out_off += static_cast<size_t>(n);
    c.active = Clock::now();
  }
  // Sent bytes go once they are half of the buffer (or all of it).
  if (c.out_off == c.out.size() || c.out_off > c.out.size() / 2) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
  if (c.unsent() > kOutputHardCapFactor * config_.max_output_bytes) {
    stats_.dropped_slow++;
    if (drop_log_.admit()) {
      spdlog::warn("control socket: pid {} uid {} does not read its answers ({} bytes), dropped{}",
                   c.caller.pid, c.caller.uid, c.unsent(), drop_log_.held_back("drops"));
    }
    c.dead = true;
    return;
  }
  if (c.unsent() == 0 && c.closing) {
    c.dead = true;
  }
}

void Server::serve(Conn& c) {
  c.turn = turn_;
  flush(c);
  unsigned budget = kRequestsPerTurn;
  if (!c.dead) {
    handle_lines(c, budget);
  }
  if (!c.dead) {
    read_some(c, budget);
  }
  if (!c.dead) {
    flush(c);
  }
  if (!c.dead) {
    update_interest(c);
  }
  queue_if_pending(c);
}

void Server::queue_if_pending(Conn& c) {
  if (!c.dead && !c.queued && !c.closing && !over_cap(c) && has_line(c)) {
    c.queued = true;
    backlog_.push_back(c.sock.get());
  }
}

void Server::update_interest(Conn& c) {
  const bool blocked = over_cap(c);
  if (blocked && !c.throttled) {
    stats_.throttled++;
  }
  c.throttled = blocked;
  const uint32_t want = (c.eof || c.closing || blocked ? 0U : kIn) | (c.unsent() > 0 ? kOut : 0U);
  if (want == c.interest) {
    return;
  }
  epoll_event ev{};
  ev.events = want;
  ev.data.fd = c.sock.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.sock.get(), &ev) < 0) {
    c.dead = true;
    return;
  }
  c.interest = want;
}

void Server::drop(int fd) {
  (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  conns_.erase(fd);
}

void Server::handle_events() {
  turn_++;
  std::array<epoll_event, 32> evs{};
  const int n = ::epoll_wait(epoll_.get(), evs.data(), static_cast<int>(evs.size()), 0);
  for (int i = 0; i < n; i++) {
    const int fd = evs[i].data.fd;
    if (fd == listener_.fd()) {
      accept_some();
      continue;
    }
    auto it = conns_.find(fd);
    if (it == conns_.end()) {
      continue;  // the kick: the backlog is served below
    }
    Conn& c = *it->second;
    if (c.turn == turn_) {
      continue;  // accepted in this turn: the event was for an fd closed before
    }
    if ((evs[i].events & (EPOLLHUP | EPOLLERR)) != 0U) {
      c.dead = true;  // gone: nothing it sent can be answered
    } else {
      serve(c);
    }
    if (c.dead) {
      drop(fd);
    }
  }
  // One more turn for each connection that had whole lines left.
  std::vector<int> backlog;
  backlog.swap(backlog_);
  for (const int fd : backlog) {
    auto it = conns_.find(fd);
    if (it == conns_.end()) {
      continue;
    }
    Conn& c = *it->second;
    c.queued = false;
    if (c.turn != turn_) {
      serve(c);
    } else {
      queue_if_pending(c);  // served already in this turn
    }
    if (c.dead) {
      drop(fd);
    }
  }
  // The owner polls fd(): it stays readable while there is work left.
  if (!backlog_.empty() && !kicked_) {
    kick_->signal();
    kicked_ = true;
  } else if (backlog_.empty() && kicked_) {
    (void)kick_->consume();
    kicked_ = false;
  }
}

}  // namespace avm::rpc
