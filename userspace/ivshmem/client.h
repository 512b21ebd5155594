// SPDX-License-Identifier: GPL-2.0
// avm::ivshmem::Client: the client (QEMU) side of the ivshmem-doorbell
// protocol, for tests and tools.  It reads what the server says the way
// QEMU 7.2's ivshmem-doorbell device does, keeps every fd it receives in a
// peer table, maps the shared memory, rings other peers' vectors and waits
// on its own.
//
//   auto c = Client::connect("/run/alacrityvm/vm1.sock");
//   c->handshake(4, 5000);             // version, id, shm, peers, own vectors
//   c->ring(kHostPeerId, 0);           // a doorbell to the host
//   c->wait_vector(0, 5000);           // an interrupt from the host
//   auto region = c->map_region();
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ivshmem/protocol.h"
#include "lib/error.h"
#include "lib/eventfd.h"
#include "lib/region.h"
#include "lib/unique_fd.h"

namespace avm::ivshmem {

// What one message after the handshake meant.
struct PeerUpdate {
  enum Kind {
    kVector,  // one more vector eventfd of peer @id (number @vector)
    kGone,    // peer @id left: its vectors are closed
    kShm,     // the shared memory arrived
  };
  Kind kind = kVector;
  PeerId id = 0;
  unsigned vector = 0;
  // kShm: the shared memory arrived (only ever once)
};

class Client {
 public:
  // Connects to the server's socket (nothing is read yet).
  static Result<Client> connect(const std::string& path);
  // A client on an already connected socket (e.g. one end of a socketpair).
  static Client adopt(UniqueFd sock) { return Client(std::move(sock)); }

  Client(Client&&) noexcept = default;
  Client& operator=(Client&&) noexcept = default;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client() = default;

  // Reads the initial messages: the version (must be kProtocolVersion),
  // this client's id, then peer and shared-memory messages until the
  // shared memory and all @vectors own vectors have arrived.  A protocol
  // violation is EPROTO, a closed connection ECONNRESET.
  Status handshake(unsigned vectors, int timeout_ms);

  // The next raw message, not applied to the peer table (for tests of the
  // wire format).
  Result<Message> read_message(int timeout_ms);
  // Reads the next message and applies it to the peer table.
  Result<PeerUpdate> read_update(int timeout_ms);

  int fd() const { return sock_.get(); }
  PeerId id() const { return id_; }
  unsigned vectors() const { return vectors_; }
  int shm_fd() const { return shm_.get(); }
  // Maps the shared memory (a duplicate of the fd the server sent).
  Result<Region> map_region() const;

  // Peers with at least one vector, ascending (the host, other clients and
  // this client itself).
  std::vector<PeerId> peers() const;
  bool has_peer(PeerId id) const { return peers_.count(id) != 0; }
  // Vectors received for @id so far.
  size_t vector_count(PeerId id) const;
  // The eventfd of @id's vector @vector, or nullptr.
  const EventFd* vector(PeerId id, unsigned vector) const;

  // Writes @peer's eventfd for @vector, as QEMU does when the guest writes
  // the doorbell register.  ENOENT if no such peer or vector.
  Status ring(PeerId peer, unsigned vector) const;
  // Waits up to @timeout_ms for one of this client's own vectors to be
  // raised and consumes it; false on timeout.
  bool wait_vector(unsigned vector, int timeout_ms) const;

  // Closes the connection (the server sees the client leave).
  void close() { sock_.reset(); }

 private:
  explicit Client(UniqueFd sock) : sock_(std::move(sock)) {}
  Result<PeerUpdate> apply(Message msg);

  UniqueFd sock_;
  PeerId id_ = 0;
  bool have_id_ = false;
  unsigned vectors_ = 0;
  UniqueFd shm_;
  std::map<PeerId, std::vector<EventFd>> peers_;
};

}  // namespace avm::ivshmem
