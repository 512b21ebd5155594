// SPDX-License-Identifier: GPL-2.0
#include "rpc/server.h"

#include <grp.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <vector>

namespace avm::rpc {

namespace {

constexpr int kBacklog = 16;
constexpr size_t kReadChunk = 16384;

// getgrnam_r into a growing buffer; nullopt if there is no such group.
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

}  // namespace

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
  auto listener = ivshmem::ListenSocket::create(config.path, config.mode, kBacklog);
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
  auto listener = ivshmem::ListenSocket::adopt(std::move(listen_fd), config.path, dev, ino);
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
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = s->listener_.fd();
  if (::epoll_ctl(s->epoll_.get(), EPOLL_CTL_ADD, s->listener_.fd(), &ev) < 0) {
    return errno_error("epoll_ctl");
  }
  return s;
}

void Server::close_connections() {
  for (auto& [fd, c] : conns_) {
    (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
  conns_.clear();
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
    n += c->in.empty() && c->out.empty() && !c->closing && !c->dead ? 1 : 0;
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

void Server::accept_all() {
  for (;;) {
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
    if (conns_.size() >= config_.max_connections) {
      stats_.refused++;
      spdlog::warn("control socket: refused pid {} uid {}: {} connections already", caller.pid,
                   caller.uid, conns_.size());
      continue;
    }
    if (!allowed(sock.get(), caller)) {
      stats_.refused++;
      spdlog::warn("control socket: refused pid {} uid {} gid {}: not in group {}", caller.pid,
                   caller.uid, caller.gid, config_.group);
      continue;
    }
    const int fd = sock.get();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
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
    conns_[fd] = std::move(c);
  }
}

void Server::read_from(Conn& c) {
  std::array<char, kReadChunk> buf{};
  for (;;) {
    const ssize_t n = ::recv(c.sock.get(), buf.data(), buf.size(), 0);
    if (n == 0) {
      c.dead = c.out.empty();
      c.closing = true;
      break;
    }
    if (n < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        c.dead = true;
      }
      break;
    }
    c.in.append(buf.data(), static_cast<size_t>(n));
    // Every complete line, then the bound on what is left.
    size_t start = 0;
    for (size_t nl = c.in.find('\n'); nl != std::string::npos; nl = c.in.find('\n', start)) {
      std::string_view line(c.in.data() + start, nl - start);
      if (line.size() > config_.max_request_bytes) {
        break;  // refused below: it stays at the front of c.in
      }
      start = nl + 1;
      if (!line.empty() && line.back() == '\r') {
        line.remove_suffix(1);
      }
      if (line.find_first_not_of(" \t") == std::string_view::npos) {
        continue;
      }
      stats_.requests++;
      if (auto reply = handler_(line, c.caller)) {
        c.out += *reply;
      }
    }
    c.in.erase(0, start);
    const size_t pending = c.in.find('\n') == std::string::npos ? c.in.size() : c.in.find('\n');
    if (pending > config_.max_request_bytes) {
      stats_.oversized++;
      spdlog::warn("control socket: pid {} uid {}: request over {} bytes, closing", c.caller.pid,
                   c.caller.uid, config_.max_request_bytes);
      c.out += error_line(nullptr, Fault{kInvalidRequest,
                                         "request longer than " +
                                             std::to_string(config_.max_request_bytes) + " bytes",
                                         nullptr});
      c.in.clear();
      c.closing = true;
      break;
    }
  }
}

void Server::flush(Conn& c) {
  while (!c.out.empty()) {
    const ssize_t n = ::send(c.sock.get(), c.out.data(), c.out.size(), MSG_NOSIGNAL);
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
    c.out.erase(0, static_cast<size_t>(n));
  }
  if (c.out.size() > config_.max_output_bytes) {
    stats_.dropped_slow++;
    spdlog::warn("control socket: pid {} does not read its answers, dropped", c.caller.pid);
    c.dead = true;
    return;
  }
  if (c.out.empty() && c.closing) {
    c.dead = true;
  }
}

void Server::update_interest(Conn& c) {
  const bool want = !c.out.empty();
  if (want == c.want_out) {
    return;
  }
  epoll_event ev{};
  ev.events = (c.closing ? 0U : static_cast<uint32_t>(EPOLLIN | EPOLLRDHUP)) |
              (want ? static_cast<uint32_t>(EPOLLOUT) : 0U);
  ev.data.fd = c.sock.get();
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.sock.get(), &ev) < 0) {
    c.dead = true;
    return;
  }
  c.want_out = want;
}

void Server::handle_events() {
  std::array<epoll_event, 32> evs{};
  const int n = ::epoll_wait(epoll_.get(), evs.data(), static_cast<int>(evs.size()), 0);
  for (int i = 0; i < n; i++) {
    const int fd = evs[i].data.fd;
    if (fd == listener_.fd()) {
      accept_all();
      continue;
    }
    auto it = conns_.find(fd);
    if (it == conns_.end()) {
      continue;
    }
    Conn& c = *it->second;
    if ((evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0U && !c.closing) {
      read_from(c);
    }
    if (!c.dead) {
      flush(c);
    }
    if (!c.dead) {
      update_interest(c);
    }
    if ((evs[i].events & (EPOLLHUP | EPOLLERR)) != 0U && c.out.empty()) {
      c.dead = true;
    }
    if (c.dead) {
      (void)::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
      conns_.erase(it);
    }
  }
}

}  // namespace avm::rpc
