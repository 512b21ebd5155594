// SPDX-License-Identifier: GPL-2.0
#include "ivshmem/server.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>

#include "lib/error.h"

namespace avm::ivshmem {

namespace {

constexpr uint64_t kListenerTag = UINT64_MAX;
constexpr int kBacklog = 16;
constexpr int kMaxEvents = 32;

// The pid of the process that connected @sock, as the kernel recorded it
// at connect() (SO_PEERCRED, in our pid namespace); 0 when unknown (the
// peer is in a namespace we cannot see, or the call failed).
pid_t socket_peer_pid(int sock) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof cred) {
    return 0;
  }
  return cred.pid > 0 ? cred.pid : 0;
}

}  // namespace

Server::Server(ServerConfig config) : config_(std::move(config)) {
  queue_limit_ = config_.max_queued;
  if (queue_limit_ == 0) {
    // Every other client joining (N messages) and leaving (1) twice.
    queue_limit_ = 2 * size_t{config_.max_clients} * (config_.vectors + 1) + 64;
  }
}

Server::~Server() {
  stop();
}

Status Server::validate() const {
  if (config_.vectors < 1 || config_.vectors > kMaxVectors) {
    return make_error(EINVAL, "ivshmem: vectors must be 1.." + std::to_string(kMaxVectors));
  }
  if (config_.max_clients < 1 || config_.max_clients > kMaxPeerId) {
    return make_error(EINVAL, "ivshmem: max_clients must be 1.." + std::to_string(kMaxPeerId));
  }
  if (config_.shm_fd < 0) {
    return make_error(EBADF, "ivshmem: no shared memory fd");
  }
  return {};
}

Status Server::start() {
  if (running()) {
    return make_error(EBUSY, "ivshmem: server already running on " + listener_.path());
  }
  if (auto ok = validate(); !ok) {
    return ok;
  }
  if (host_vectors_.empty()) {
    std::vector<EventFd> vectors;
    for (unsigned v = 0; v < config_.vectors; v++) {
      auto efd = EventFd::create();
      if (!efd) {
        return tl::unexpected(efd.error());
      }
      vectors.push_back(std::move(*efd));
    }
    host_vectors_ = std::move(vectors);
  }
  if (!epoll_) {
    epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll_) {
      return errno_error("ivshmem: epoll_create1");
    }
  }
  auto listener = ListenSocket::create(config_.socket_path, config_.socket_mode, kBacklog);
  if (!listener) {
    return tl::unexpected(listener.error());
  }
  listener_ = std::move(*listener);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerTag;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, listener_.fd(), &ev) < 0) {
    auto err = errno_error("ivshmem: epoll_ctl");
    listener_.close();
    return err;
  }
  listening_ = true;
  next_id_ = 1;
  spdlog::info("ivshmem: listening on {} ({} vectors, up to {} clients)", config_.socket_path,
               config_.vectors, config_.max_clients);
  return {};
}

void Server::stop() {
  if (!running()) {
    return;
  }
  for (auto& [id, c] : clients_) {
    mark_dead(*c, "server stopping");
  }
  reap();
  // Closing the fd removes it from the epoll set.
  listener_.close();
  listening_ = false;
  spdlog::info("ivshmem: stopped listening on {}", config_.socket_path);
}

int Server::handle_events() {
  if (!epoll_) {
    return 0;
  }
  std::array<epoll_event, kMaxEvents> events{};
  const int n = ::epoll_wait(epoll_.get(), events.data(), kMaxEvents, 0);
  if (n < 0) {
    AVM_CHECK(errno == EINTR);
    return 0;
  }
  for (int i = 0; i < n; i++) {
    const epoll_event& ev = events[static_cast<size_t>(i)];
    if (ev.data.u64 == kListenerTag) {
      accept_all();
      continue;
    }
    auto it = clients_.find(static_cast<PeerId>(ev.data.u64));
    if (it == clients_.end() || it->second->dead) {
      continue;
    }
    Client& c = *it->second;
    if ((ev.events & EPOLLIN) != 0) {
      read_input(c);
    }
    if (!c.dead && (ev.events & (EPOLLHUP | EPOLLERR)) != 0) {
      mark_dead(c, "connection closed");
    }
    if (!c.dead && (ev.events & EPOLLOUT) != 0) {
      flush(c);
    }
  }
  reap();
  return n;
}

void Server::accept_all() {
  while (running()) {
    const int fd = ::accept4(listener_.fd(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      stats_.accepted++;
      add_client(UniqueFd(fd));
      continue;
    }
    if (errno == EAGAIN || errno == EINTR) {
      return;
    }
    stats_.accept_errors++;
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      // Level-triggered: the pending connection would wake us forever.
      // Stop listening until a client leaves and frees resources.
      spdlog::error("ivshmem: accept on {}: {}; not accepting until a client leaves",
                    config_.socket_path, errno_text(errno));
      set_listening(false);
      return;
    }
    // ECONNABORTED, EPROTO, ...: that connection is gone, try the next.
    spdlog::warn("ivshmem: accept on {}: {}", config_.socket_path, errno_text(errno));
  }
}

bool Server::allocate_id(PeerId& id) {
  for (int64_t tries = 0; tries < kMaxPeerId; tries++) {
    const PeerId candidate = next_id_;
    next_id_ = next_id_ == kMaxPeerId ? 1 : static_cast<PeerId>(next_id_ + 1);
    if (candidate != kHostPeerId && clients_.count(candidate) == 0) {
      id = candidate;
      return true;
    }
  }
  return false;
}

void Server::add_client(UniqueFd sock) {
  size_t live = 0;
  for (const auto& [id, c] : clients_) {
    live += c->dead ? 0 : 1;
  }
  if (live >= config_.max_clients) {
    stats_.refused++;
    spdlog::warn("ivshmem: refusing a client on {}: {} clients connected (maximum {})",
                 config_.socket_path, live, config_.max_clients);
    return;  // closing the socket is the refusal: the client reads EOF
  }
  auto c = std::make_unique<Client>(queue_limit_);
  if (!allocate_id(c->id)) {
    stats_.refused++;
    spdlog::warn("ivshmem: refusing a client on {}: no free peer id", config_.socket_path);
    return;
  }
  c->sock = std::move(sock);
  c->pid = socket_peer_pid(c->sock.get());
  for (unsigned v = 0; v < config_.vectors; v++) {
    auto efd = EventFd::create();
    if (!efd) {
      stats_.refused++;
      spdlog::error("ivshmem: refusing a client on {}: {}", config_.socket_path,
                    efd.error().message);
      return;
    }
    c->vectors.push_back(std::move(*efd));
  }

  // Its own handshake: version, id, shared memory, every other peer's
  // vectors (the host's first), then its own vectors.
  send(*c, kProtocolVersion, -1, false);
  send(*c, c->id, -1, false);
  send(*c, kShmMessage, config_.shm_fd, false);
  for (const EventFd& e : host_vectors_) {
    send(*c, kHostPeerId, e.fd(), false);
  }
  for (const auto& [id, other] : clients_) {
    if (!other->dead) {
      for (const EventFd& e : other->vectors) {
        send(*c, id, e.fd(), false);
      }
    }
  }
  for (const EventFd& e : c->vectors) {
    send(*c, c->id, e.fd(), false);
  }
  if (c->dead) {
    stats_.handshake_failed++;
    spdlog::warn("ivshmem: client {} on {} vanished during its handshake: {}", c->id,
                 config_.socket_path, c->why);
    return;
  }

  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (c->out.empty() ? 0U : static_cast<uint32_t>(EPOLLOUT));
  ev.data.u64 = c->id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c->sock.get(), &ev) < 0) {
    stats_.refused++;
    spdlog::error("ivshmem: dropping client {}: epoll_ctl: {}", c->id, errno_text(errno));
    return;
  }
  c->want_out = !c->out.empty();

  // Tell everybody else.
  for (auto& [id, other] : clients_) {
    if (!other->dead) {
      for (const EventFd& e : c->vectors) {
        send(*other, c->id, e.fd());
      }
    }
  }
  const PeerId id = c->id;
  clients_.emplace(id, std::move(c));
  stats_.joined++;
  spdlog::info("ivshmem: peer {} joined on {} (pid {})", id, config_.socket_path,
               clients_.at(id)->pid);
  emit(PeerEventKind::kJoined, id);
}

void Server::send(Client& c, int64_t value, int fd, bool bounded) {
  if (c.dead) {
    return;
  }
  const uint64_t before = c.out.delayed();
  const OutQueue::Outcome o = c.out.push(c.sock.get(), value, fd, bounded);
  stats_.delayed_messages += c.out.delayed() - before;
  switch (o.state) {
    case OutQueue::State::kOk:
      break;
    case OutQueue::State::kGone:
      mark_dead(c, std::string("send: ") + errno_text(o.error));
      return;
    case OutQueue::State::kOverflow:
      stats_.dropped_slow++;
      mark_dead(c, "not reading (" + std::to_string(c.out.size()) + " messages queued)");
      return;
    case OutQueue::State::kNoFd:
      mark_dead(c, std::string("cannot queue an fd: ") + errno_text(o.error));
      return;
  }
  update_interest(c);
}

void Server::flush(Client& c) {
  const OutQueue::Outcome o = c.out.flush(c.sock.get());
  if (o.state != OutQueue::State::kOk) {
    mark_dead(c, std::string("send: ") + errno_text(o.error));
    return;
  }
  update_interest(c);
}

void Server::update_interest(Client& c) {
  const bool want = !c.out.empty();
  if (want == c.want_out || clients_.count(c.id) == 0) {
    return;  // unchanged, or not in the epoll set yet (add_client arms it)
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (want ? static_cast<uint32_t>(EPOLLOUT) : 0U);
  ev.data.u64 = c.id;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, c.sock.get(), &ev) < 0) {
    mark_dead(c, std::string("epoll_ctl: ") + errno_text(errno));
    return;
  }
  c.want_out = want;
}

void Server::read_input(Client& c) {
  // The protocol has nothing for a client to say: data is discarded (and
  // counted), end of file means it is gone.
  std::array<char, 256> buf{};
  for (;;) {
    const ssize_t n = ::recv(c.sock.get(), buf.data(), buf.size(), MSG_DONTWAIT);
    if (n > 0) {
      stats_.unexpected_input++;
      if (!c.warned_input) {
        c.warned_input = true;
        spdlog::warn(
            "ivshmem: peer {} (pid {}) on {} sends data, which the protocol does not have; "
            "ignoring it",
            c.id, c.pid, config_.socket_path);
      }
      continue;
    }
    if (n == 0) {
      mark_dead(c, "connection closed");
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN) {
      mark_dead(c, std::string("recv: ") + errno_text(errno));
    }
    return;
  }
}

void Server::mark_dead(Client& c, std::string why) {
  if (!c.dead) {
    c.dead = true;
    c.why = std::move(why);
  }
}

void Server::reap() {
  bool removed = false;
  bool again = true;
  while (again) {
    again = false;
    for (auto it = clients_.begin(); it != clients_.end();) {
      if (!it->second->dead) {
        ++it;
        continue;
      }
      std::unique_ptr<Client> gone = std::move(it->second);
      it = clients_.erase(it);
      removed = true;
      // Closing the socket drops it from the epoll set.
      gone->sock.reset();
      stats_.left++;
      spdlog::info("ivshmem: peer {} left {} ({})", gone->id, config_.socket_path, gone->why);
      for (auto& [id, other] : clients_) {
        send(*other, gone->id, -1);
        again = again || other->dead;
      }
      emit(PeerEventKind::kLeft, gone->id);
      // Its eventfds close here, after the callback has let go of them.
    }
  }
  if (removed && running() && !listening_) {
    set_listening(true);
  }
}

void Server::set_listening(bool on) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerTag;
  if (::epoll_ctl(epoll_.get(), on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, listener_.fd(), &ev) == 0) {
    listening_ = on;
  }
}

void Server::emit(PeerEventKind kind, PeerId id) {
  if (callback_) {
    callback_(PeerEvent{kind, id});
  }
}

Result<nlohmann::json> Server::export_state(handover::FdBundle& fds,
                                            const std::string& prefix) const {
  if (!running()) {
    return make_error(EINVAL, "ivshmem: export of a server that does not run");
  }
  for (const auto& [id, c] : clients_) {
    if (!c->out.empty() || c->dead) {
      return make_error(
          EBUSY, "ivshmem: client " + std::to_string(id) + " has messages in flight; try again");
    }
  }
  nlohmann::json j;
  j["path"] = config_.socket_path;
  j["dev"] = static_cast<uint64_t>(listener_.dev());
  j["ino"] = static_cast<uint64_t>(listener_.ino());
  j["vectors"] = config_.vectors;
  j["next_id"] = next_id_;
  j["listening"] = listening_;
  if (auto ok = fds.add_dup(prefix + "listen", listener_.fd()); !ok) {
    return tl::unexpected(ok.error());
  }
  for (unsigned v = 0; v < host_vectors_.size(); v++) {
    if (auto ok = fds.add_dup(prefix + "host.v" + std::to_string(v), host_vectors_[v].fd()); !ok) {
      return tl::unexpected(ok.error());
    }
  }
  auto clients = nlohmann::json::array();
  for (const auto& [id, c] : clients_) {
    const std::string base = prefix + "client." + std::to_string(id) + ".";
    if (auto ok = fds.add_dup(base + "sock", c->sock.get()); !ok) {
      return tl::unexpected(ok.error());
    }
    for (unsigned v = 0; v < c->vectors.size(); v++) {
      if (auto ok = fds.add_dup(base + "v" + std::to_string(v), c->vectors[v].fd()); !ok) {
        return tl::unexpected(ok.error());
      }
    }
    clients.push_back(id);
  }
  j["clients"] = clients;
  j["stats"] = stats_to_json(stats_, kServerStats, true);
  return j;
}

namespace {

Result<std::vector<EventFd>> adopt_vectors(handover::FdBundle& fds, const std::string& base,
                                           unsigned n) {
  std::vector<EventFd> out;
  for (unsigned v = 0; v < n; v++) {
    auto fd = fds.take(base + std::to_string(v));
    if (!fd) {
      return tl::unexpected(fd.error());
    }
    auto e = EventFd::adopt(std::move(*fd));
    if (!e) {
      return make_error(e.error().code, base + std::to_string(v) + ": " + e.error().message);
    }
    out.push_back(std::move(*e));
  }
  return out;
}

Status make_nonblocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
      ::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    return errno_error("fcntl");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Server>> Server::adopt(ServerConfig config, const nlohmann::json& state,
                                              handover::FdBundle& fds, const std::string& prefix) {
  auto server = std::make_unique<Server>(std::move(config));
  Server& s = *server;
  if (auto ok = s.validate(); !ok) {
    return tl::unexpected(ok.error());
  }
  auto path = handover::get_string(state, "path");
  auto vectors = handover::get_u32(state, "vectors", kMaxVectors);
  auto next_id = handover::get_u32(state, "next_id", kMaxPeerId);
  auto dev = handover::get_u64(state, "dev");
  auto ino = handover::get_u64(state, "ino");
  auto clients = handover::get_array(state, "clients");
  for (const Status& st :
       {path ? Status{} : tl::unexpected(path.error()),
        vectors ? Status{} : tl::unexpected(vectors.error()),
        next_id ? Status{} : tl::unexpected(next_id.error()),
        dev ? Status{} : tl::unexpected(dev.error()), ino ? Status{} : tl::unexpected(ino.error()),
        clients ? Status{} : tl::unexpected(clients.error())}) {
    if (!st) {
      return make_error(EINVAL, "ivshmem adopt: " + st.error().message);
    }
  }
  if (*path != s.config_.socket_path || *vectors != s.config_.vectors) {
    return make_error(EINVAL, "ivshmem adopt: socket path or vectors differ from the config");
  }
  if ((*clients)->size() > s.config_.max_clients) {
    return make_error(EINVAL, "ivshmem adopt: more clients than max_clients");
  }
  auto lfd = fds.take(prefix + "listen");
  if (!lfd) {
    return tl::unexpected(lfd.error());
  }
  auto listener = ListenSocket::adopt(std::move(*lfd), *path, static_cast<dev_t>(*dev),
                                      static_cast<ino_t>(*ino));
  if (!listener) {
    return tl::unexpected(listener.error());
  }
  auto host = adopt_vectors(fds, prefix + "host.v", s.config_.vectors);
  if (!host) {
    return tl::unexpected(host.error());
  }
  s.epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!s.epoll_) {
    return errno_error("ivshmem: epoll_create1");
  }
  for (const auto& idj : **clients) {
    if (!idj.is_number_unsigned() || idj.get<uint64_t>() == 0 || idj.get<uint64_t>() > kMaxPeerId ||
        s.clients_.count(idj.get<PeerId>()) != 0) {
      return make_error(EINVAL, "ivshmem adopt: bad or repeated client id");
    }
    auto c = std::make_unique<Client>(s.queue_limit_);
    c->id = idj.get<PeerId>();
    const std::string base = prefix + "client." + std::to_string(c->id) + ".";
    auto sock = fds.take(base + "sock");
    if (!sock) {
      return tl::unexpected(sock.error());
    }
    if (auto ok = handover::check_socket(sock->get(), SOCK_STREAM, false); !ok) {
      return make_error(EINVAL, base + "sock: " + ok.error().message);
    }
    if (auto ok = make_nonblocking(sock->get()); !ok) {
      return tl::unexpected(ok.error());
    }
    c->sock = std::move(*sock);
    // From the kernel, not from @state: who connected this socket.
    c->pid = socket_peer_pid(c->sock.get());
    auto v = adopt_vectors(fds, base + "v", s.config_.vectors);
    if (!v) {
      return tl::unexpected(v.error());
    }
    c->vectors = std::move(*v);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = c->id;
    if (::epoll_ctl(s.epoll_.get(), EPOLL_CTL_ADD, c->sock.get(), &ev) < 0) {
      return errno_error("ivshmem: epoll_ctl");
    }
    const PeerId id = c->id;
    s.clients_.emplace(id, std::move(c));
  }
  s.listener_ = std::move(*listener);
  s.host_vectors_ = std::move(*host);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kListenerTag;
  if (::epoll_ctl(s.epoll_.get(), EPOLL_CTL_ADD, s.listener_.fd(), &ev) < 0) {
    return errno_error("ivshmem: epoll_ctl");
  }
  s.listening_ = true;
  s.next_id_ = *next_id == 0 ? 1 : static_cast<PeerId>(*next_id);
  // A counter missing from an older state starts at 0.
  s.stats_ = counters_from_json(state.value("stats", nlohmann::json::object()), kServerStats);
  spdlog::info("ivshmem: adopted {} with {} client(s)", s.config_.socket_path, s.clients_.size());
  return server;
}

void Server::abandon() {
  // No mark_dead/reap: that would tell the clients their peers left.
  clients_.clear();
  listener_.release();
  listening_ = false;
  host_vectors_.clear();
  epoll_.reset();
}

std::span<const EventFd> Server::vectors(PeerId id) const {
  if (id == kHostPeerId) {
    return host_vectors_;
  }
  auto it = clients_.find(id);
  if (it == clients_.end()) {
    return {};
  }
  return it->second->vectors;
}

std::vector<PeerId> Server::clients() const {
  std::vector<PeerId> ids;
  for (const auto& [id, c] : clients_) {
    if (!c->dead) {
      ids.push_back(id);
    }
  }
  return ids;
}

pid_t Server::peer_pid(PeerId id) const {
  auto it = clients_.find(id);
  return it == clients_.end() || it->second->dead ? 0 : it->second->pid;
}

bool Server::notify(PeerId id, unsigned vector) const {
  if (id == kHostPeerId) {
    return false;
  }
  const std::span<const EventFd> v = vectors(id);
  if (vector >= v.size()) {
    return false;
  }
  v[vector].signal();
  return true;
}

}  // namespace avm::ivshmem
