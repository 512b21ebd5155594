// SPDX-License-Identifier: GPL-2.0
#include "ivshmem/client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace avm::ivshmem {

namespace {

tl::unexpected<Error> protocol_error(const std::string& what) {
  return make_error(EPROTO, "ivshmem client: " + what);
}

}  // namespace

Result<Client> Client::connect(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return make_error(ENAMETOOLONG, "ivshmem client: bad socket path '" + path + "'");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) {
    return errno_error("ivshmem client: socket");
  }
  // NOLINTNEXTLINE: sockaddr_un is a sockaddr
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) {
    return errno_error("ivshmem client: connect " + path);
  }
  return Client(std::move(sock));
}

Result<Message> Client::read_message(int timeout_ms) {
  if (!sock_) {
    return make_error(ENOTCONN, "ivshmem client: not connected");
  }
  return recv_message(sock_.get(), timeout_ms);
}

Status Client::handshake(unsigned vectors, int timeout_ms) {
  if (vectors < 1 || vectors > kMaxVectors) {
    return make_error(EINVAL, "ivshmem client: bad number of vectors");
  }
  vectors_ = vectors;
  auto version = read_message(timeout_ms);
  if (!version) {
    return tl::unexpected(version.error());
  }
  if (version->value != kProtocolVersion || version->fd.valid()) {
    return protocol_error("server speaks version " + std::to_string(version->value));
  }
  auto id = read_message(timeout_ms);
  if (!id) {
    return tl::unexpected(id.error());
  }
  if (id->fd.valid() || id->value < 0 || id->value > kMaxPeerId) {
    return protocol_error("malformed id message " + std::to_string(id->value));
  }
  id_ = static_cast<PeerId>(id->value);
  have_id_ = true;
  while (!shm_.valid() || vector_count(id_) < vectors_) {
    auto msg = read_message(timeout_ms);
    if (!msg) {
      return tl::unexpected(msg.error());
    }
    if (auto applied = apply(std::move(*msg)); !applied) {
      return tl::unexpected(applied.error());
    }
  }
  return {};
}

Result<PeerUpdate> Client::read_update(int timeout_ms) {
  auto msg = read_message(timeout_ms);
  if (!msg) {
    return tl::unexpected(msg.error());
  }
  return apply(std::move(*msg));
}

Result<PeerUpdate> Client::apply(Message msg) {
  if (msg.value == kShmMessage) {
    if (!msg.fd.valid()) {
      return protocol_error("shared memory message without an fd");
    }
    if (shm_.valid()) {
      return protocol_error("shared memory sent twice");
    }
    shm_ = std::move(msg.fd);
    return PeerUpdate{PeerUpdate::kShm, id_, 0};
  }
  if (msg.value < 0 || msg.value > kMaxPeerId) {
    return protocol_error("invalid message " + std::to_string(msg.value));
  }
  const auto peer = static_cast<PeerId>(msg.value);
  if (!msg.fd.valid()) {
    if (have_id_ && peer == id_) {
      return protocol_error("server says this client is gone");
    }
    peers_.erase(peer);
    return PeerUpdate{PeerUpdate::kGone, peer, 0};
  }
  std::vector<EventFd>& v = peers_[peer];
  if (v.size() >= vectors_) {
    return protocol_error("too many vectors for peer " + std::to_string(peer));
  }
  auto efd = EventFd::adopt(std::move(msg.fd));
  if (!efd) {
    return protocol_error("peer " + std::to_string(peer) + ": " + efd.error().message);
  }
  v.push_back(std::move(*efd));
  return PeerUpdate{PeerUpdate::kVector, peer, static_cast<unsigned>(v.size() - 1)};
}

Result<Region> Client::map_region() const {
  auto fd = shm_.dup();
  if (!fd) {
    return tl::unexpected(fd.error());
  }
  return Region::adopt(std::move(*fd));
}

std::vector<PeerId> Client::peers() const {
  std::vector<PeerId> ids;
  for (const auto& [id, v] : peers_) {
    if (!v.empty()) {
      ids.push_back(id);
    }
  }
  return ids;
}

size_t Client::vector_count(PeerId id) const {
  auto it = peers_.find(id);
  return it == peers_.end() ? 0 : it->second.size();
}

const EventFd* Client::vector(PeerId id, unsigned vector) const {
  auto it = peers_.find(id);
  if (it == peers_.end() || vector >= it->second.size()) {
    return nullptr;
  }
  return &it->second[vector];
}

Status Client::ring(PeerId peer, unsigned vector) const {
  const EventFd* e = this->vector(peer, vector);
  if (e == nullptr) {
    return make_error(ENOENT, "ivshmem client: peer " + std::to_string(peer) + " has no vector " +
                                  std::to_string(vector));
  }
  e->signal();
  return {};
}

bool Client::wait_vector(unsigned vector, int timeout_ms) const {
  const EventFd* e = this->vector(id_, vector);
  if (e == nullptr || !e->wait(timeout_ms)) {
    return false;
  }
  return e->consume() != 0;
}

}  // namespace avm::ivshmem
