// SPDX-License-Identifier: GPL-2.0
// avm::rpc::Server: the control socket.  A UNIX stream listener (mode
// e.g. 0660, chgrp'ed to a group when it exists), newline-framed
// JSON-RPC requests, each connection's caller taken from SO_PEERCRED.
// Bounded everywhere: at most max_connections clients (more are closed at
// once), a line longer than max_request_bytes is answered -32600 and the
// connection closed, a client that stops reading its answers is dropped
// once max_output_bytes wait.  Nothing a client does blocks the others.
//
// Threading: single-threaded; poll fd() for readability in the owner's
// loop and call handle_events(), which never blocks.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "ivshmem/listen_socket.h"
#include "lib/error.h"
#include "lib/unique_fd.h"
#include "rpc/protocol.h"

namespace avm::rpc {

struct ServerConfig {
  std::string path;
  mode_t mode = 0660;
  std::string group;  // chgrp the socket to it if it exists ("" = keep)
  size_t max_request_bytes = 65536;
  unsigned max_connections = 32;
  size_t max_output_bytes = size_t{4} << 20;
  // Callers allowed besides root and our own uid: members of @group (by
  // primary or supplementary gid, SO_PEERGROUPS).  false: anyone who can
  // open the socket file.
  bool check_group = true;
};

struct ServerStats {
  uint64_t accepted = 0;
  uint64_t refused = 0;  // too many connections, or not in the group
  uint64_t requests = 0;
  uint64_t oversized = 0;
  uint64_t dropped_slow = 0;
};

class Server {
 public:
  // (request line, caller) -> response line or nullopt (notification).
  using LineHandler =
      std::function<std::optional<std::string>(std::string_view line, const Caller& caller)>;

  static Result<std::unique_ptr<Server>> create(const ServerConfig& config, LineHandler handler);
  // Hand-over: the listening socket another process created for
  // config.path (its file's @dev/@ino, as listen_dev()/listen_ino() told
  // that process).  Connections waiting in its backlog are served here;
  // listen() is called again so that SO_PEERCRED names this process.
  static Result<std::unique_ptr<Server>> adopt(const ServerConfig& config, LineHandler handler,
                                               UniqueFd listen_fd, dev_t dev, ino_t ino);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int fd() const { return epoll_.get(); }
  void handle_events();
  // Closes every connection and the listener (its file is removed).
  void close();
  // Hand-over done: closes every connection and our copy of the listener
  // but keeps its file (another process serves it now).
  void release();

  // The listener, for a hand-over (borrowed; -1 once closed).
  int listen_fd() const { return listener_.fd(); }
  dev_t listen_dev() const { return listener_.dev(); }
  ino_t listen_ino() const { return listener_.ino(); }

  const ServerConfig& config() const { return config_; }
  const ServerStats& stats() const { return stats_; }
  size_t connections() const { return conns_.size(); }
  // Connections with nothing received and nothing to send: a client that
  // has connected but whose request has not arrived yet (or one that
  // keeps an idle connection open).
  size_t quiet_connections() const;

 private:
  struct Conn {
    UniqueFd sock;
    Caller caller;
    std::string in;
    std::string out;
    bool want_out = false;
    bool closing = false;  // close once out is flushed
    bool dead = false;
  };

  Server(ServerConfig config, LineHandler handler, UniqueFd epoll);
  // create()/adopt() after the listener is set: group, epoll.
  static Result<std::unique_ptr<Server>> finish(std::unique_ptr<Server> s, bool chgrp);
  void close_connections();
  void accept_all();
  bool allowed(int sock, const Caller& caller) const;
  void read_from(Conn& c);
  void flush(Conn& c);
  void update_interest(Conn& c);

  ServerConfig config_;
  LineHandler handler_;
  UniqueFd epoll_;
  ivshmem::ListenSocket listener_;
  gid_t group_gid_ = static_cast<gid_t>(-1);
  std::map<int, std::unique_ptr<Conn>> conns_;
  ServerStats stats_;
};

}  // namespace avm::rpc
