// SPDX-License-Identifier: GPL-2.0
// avm::ivshmem::Server: the server side of QEMU's ivshmem-doorbell protocol
// (see protocol.h), with the host itself as peer 0.
//
// The server owns peer 0's vector eventfds (doorbells from guests: QEMU
// writes peer 0's eventfd `v` when a guest rings vector v of peer 0) and
// every client's vector eventfds (interrupts to a guest: writing client C's
// eventfd v raises MSI-X vector v in C's guest).
//
// Threading: single-threaded.  Every method runs on the thread that runs
// the event loop; callbacks run inside handle_events()/stop().  The loop
// polls fd() for readability and then calls handle_events(), which never
// blocks.  Lifecycle: construct (no syscalls) -> start() -> stop() ->
// start() ...  fd() and peer 0's vectors stay the same across restarts.
//
// Clients are untrusted: one that sends data, stops reading or vanishes
// at any point is logged, counted and (if it is gone) removed; the others
// are told it left.  Nothing a client does makes the server abort.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "handover/fd_bundle.h"
#include "ivshmem/out_queue.h"
#include "ivshmem/protocol.h"
#include "ivshmem/server_counters.h"
#include "lib/error.h"
#include "lib/eventfd.h"
#include "lib/listen_socket.h"
#include "lib/unique_fd.h"

namespace avm::ivshmem {

struct ServerConfig {
  std::string socket_path;  // < 108 bytes
  mode_t socket_mode = 0600;
  int shm_fd = -1;       // the region's memfd; borrowed, must outlive the server
  unsigned vectors = 1;  // per peer; must equal QEMU's `vectors=` (1..kMaxVectors)
  unsigned max_clients = 64;
  // Announcements a client may leave queued (beyond what its socket
  // buffer holds) before it counts as not reading and is dropped.  Its own
  // handshake may always be queued in full and does not count.  0:
  // automatic (every other client joining and leaving twice).
  size_t max_queued = 0;
};

enum class PeerEventKind { kJoined, kLeft };

struct PeerEvent {
  PeerEventKind kind;
  PeerId id;
};

using PeerCallback = std::function<void(const PeerEvent&)>;

class Server {
 public:
  explicit Server(ServerConfig config);  // no syscalls
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Creates peer 0's vectors (first start only) and the listening socket.
  // EBUSY if already started.
  Status start();
  // Disconnects every client (kLeft for each), removes the socket file.
  // Peer 0's vectors and fd() stay valid.  A no-op when not started.
  void stop();
  bool running() const { return listener_.fd() >= 0; }

  // Readable when handle_events() has work (an epoll fd); -1 before the
  // first start().
  int fd() const { return epoll_.get(); }
  // Accepts, answers and reaps clients without blocking.  Returns the
  // number of events handled (0: nothing was pending).
  int handle_events();

  // Called for every client that joins or leaves, inside handle_events()
  // or stop().  A callback must not call start()/stop().
  void set_peer_callback(PeerCallback callback) { callback_ = std::move(callback); }

  // Peer @id's vector eventfds (peer 0: the host's), empty if there is no
  // such peer.  A client's eventfds stay valid until its kLeft callback
  // returns.
  std::span<const EventFd> vectors(PeerId id) const;
  std::span<const EventFd> host_vectors() const { return host_vectors_; }
  // Ids of the connected clients, ascending.
  std::vector<PeerId> clients() const;
  // The pid of the process that connected client @id (SO_PEERCRED, read
  // from its socket when it was accepted or adopted, never from a handed
  // over state); 0 if unknown or there is no such client.
  pid_t peer_pid(PeerId id) const;
  // Raises vector @vector of client @id (an interrupt in its guest); false
  // if there is no such client or vector.
  bool notify(PeerId id, unsigned vector) const;

  const ServerConfig& config() const { return config_; }
  const ServerStats& stats() const { return stats_; }

  // Hand-over (userspace/handover, docs/handover.md).  Only between two
  // handle_events() calls, on the loop thread, with the loop not polling
  // fd() any more.
  //
  // export_state(): the listening socket, peer 0's vectors, every client's
  // socket and vectors go into @fds as duplicates named @prefix + "listen",
  // "host.v<N>", "client.<id>.sock", "client.<id>.v<N>"; ids, the next id,
  // the socket file's identity and the counters into the returned JSON.
  // EBUSY if a client still has queued messages (try again shortly).  The
  // server itself is unchanged and can go on serving.
  Result<nlohmann::json> export_state(handover::FdBundle& fds, const std::string& prefix) const;
  // A server that continues an exported one: @config as the exporter's
  // (vectors, socket path; shm_fd this process's copy of the region),
  // @state and the fds under @prefix (taken out of @fds).  Every fd is
  // checked (listening UNIX stream socket, connected UNIX stream sockets,
  // eventfds), every id and count against @config.  Nothing is sent to
  // anybody and no callback runs: the clients never notice.  The caller
  // polls fd() as after start().
  static Result<std::unique_ptr<Server>> adopt(ServerConfig config, const nlohmann::json& state,
                                               handover::FdBundle& fds, const std::string& prefix);
  // After a completed hand-over: closes every fd of ours without telling
  // anyone and without removing the socket file (the successor serves
  // both).  The server is as constructed afterwards (start() would begin
  // anew).
  void abandon();

 private:
  struct Client {
    PeerId id = 0;
    pid_t pid = 0;  // SO_PEERCRED of sock; 0: unknown
    UniqueFd sock;
    std::vector<EventFd> vectors;
    OutQueue out;
    bool want_out = false;      // EPOLLOUT is armed
    bool warned_input = false;  // logged its unexpected input once
    bool dead = false;
    std::string why;  // why it is dead
    explicit Client(size_t limit) : out(limit) {}
  };

  Status validate() const;
  void accept_all();
  void add_client(UniqueFd sock);
  bool allocate_id(PeerId& id);
  // Sends (or queues) one message to @c; marks it dead on failure.
  // Handshake messages are not @bounded by the queue limit.
  void send(Client& c, int64_t value, int fd, bool bounded = true);
  void flush(Client& c);
  void read_input(Client& c);
  void update_interest(Client& c);
  void mark_dead(Client& c, std::string why);
  // Removes dead clients and tells the others, until none is dead.
  void reap();
  void set_listening(bool on);
  void emit(PeerEventKind kind, PeerId id);

  ServerConfig config_;
  size_t queue_limit_ = 0;
  UniqueFd epoll_;
  ListenSocket listener_;
  bool listening_ = false;  // the listener is in the epoll set
  std::vector<EventFd> host_vectors_;
  std::map<PeerId, std::unique_ptr<Client>> clients_;
  PeerId next_id_ = 1;
  PeerCallback callback_;
  ServerStats stats_;
};

}  // namespace avm::ivshmem
