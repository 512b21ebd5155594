// SPDX-License-Identifier: GPL-2.0
// avm::rpc::Server: the control socket.  A UNIX stream listener (mode
// e.g. 0660, chgrp'ed to a group when it exists), newline-framed
// JSON-RPC requests, each connection's caller taken from SO_PEERCRED.
// Bounded everywhere, so that nothing a client does blocks the others
// (docs/control-api.md, "Limits"):
// - each wake-up serves a client at most kRequestsPerTurn requests and
//   kBytesPerTurn bytes read, then the others get their turn;
// - a client whose unsent answers pass max_output_bytes is not read until
//   they drain below it (back-pressure), and is dropped past
//   kOutputHardCapFactor times that;
// - a line longer than max_request_bytes is answered -32600 and the
//   connection closed;
// - at max_connections a new client evicts the quiet connection idle the
//   longest (silent ones first), or one with a request in progress that has
//   not moved for kStuckAfter; with none of those it is refused.  Refused
//   and evicted clients get one JSON-RPC error line (id null) before the
//   close; the log lines about them are throttled (LogThrottle).
//
// Threading: single-threaded; poll fd() for readability in the owner's
// loop and call handle_events(), which never blocks.  fd() stays readable
// while work is left for a later turn.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bridge/counter.h"
#include "lib/error.h"
#include "lib/eventfd.h"
#include "lib/listen_socket.h"
#include "lib/unique_fd.h"
#include "rpc/protocol.h"

namespace avm::rpc {

// The fixed limits of the server (docs/control-api.md, "Limits").
// Requests handled for one client in one handle_events().
inline constexpr unsigned kRequestsPerTurn = 16;
// Bytes read from one client in one handle_events().
inline constexpr size_t kBytesPerTurn = 65536;
// A client with more than this times max_output_bytes unsent is dropped.
inline constexpr size_t kOutputHardCapFactor = 2;
// A connection whose request is in progress (part of a line received, or
// answers unsent) but has not moved for this long may be evicted.
inline constexpr std::chrono::milliseconds kStuckAfter{1000};
// New connections accepted in one handle_events().
inline constexpr unsigned kAcceptsPerTurn = 16;

// getgrnam_r into a growing buffer; nullopt if there is no such group.
std::optional<gid_t> lookup_group(const std::string& name);

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
  uint64_t evicted = 0;  // closed to make room for a new client
  uint64_t requests = 0;
  uint64_t oversized = 0;
  uint64_t dropped_slow = 0;
  uint64_t throttled = 0;  // times a client was not read: answers over the cap
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
  // Whether config.group exists (the socket was given it).
  bool has_group() const { return group_gid_ != static_cast<gid_t>(-1); }
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
  // Answers not sent yet, over all connections.
  size_t unsent() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Conn {
    UniqueFd sock;
    Caller caller;
    std::string in;      // received, from in_off on not handled yet
    size_t in_off = 0;   // start of the first unhandled line
    size_t in_scan = 0;  // no newline in in[in_off, in_scan)
    std::string out;     // answers, from out_off on not sent yet
    size_t out_off = 0;
    uint32_t interest = 0;  // what epoll watches for it
    bool spoke = false;     // a request has arrived on it
    bool eof = false;       // the client sent everything it will send
    bool closing = false;   // close once out is flushed
    bool dead = false;
    bool queued = false;       // in backlog_
    bool throttled = false;    // not read: answers over the cap
    uint64_t turn = 0;         // the handle_events() that served it last
    Clock::time_point active;  // the last byte that came or went

    size_t unsent() const { return out.size() - out_off; }
  };

  Server(ServerConfig config, LineHandler handler, UniqueFd epoll);
  // create()/adopt() after the listener is set: group, epoll.
  static Result<std::unique_ptr<Server>> finish(std::unique_ptr<Server> s, bool chgrp);
  void close_connections();
  void accept_some();
  bool allowed(int sock, const Caller& caller) const;
  // Makes room for one more client: closes the best victim, false if none.
  bool evict_one();
  void refuse(int sock, const Caller& caller, const Fault& why, const std::string& log);
  void serve(Conn& c);
  // Into backlog_ if whole lines wait and it may be served.
  void queue_if_pending(Conn& c);
  // Handles the complete lines in c.in, up to @budget of them.
  void handle_lines(Conn& c, unsigned& budget);
  void read_some(Conn& c, unsigned& budget);
  void flush(Conn& c);
  bool over_cap(const Conn& c) const { return c.unsent() >= config_.max_output_bytes; }
  static bool has_line(const Conn& c);
  void update_interest(Conn& c);
  void drop(int fd);

  ServerConfig config_;
  LineHandler handler_;
  UniqueFd epoll_;
  std::optional<EventFd> kick_;  // readable while backlog_ has work
  bool kicked_ = false;
  ListenSocket listener_;
  gid_t group_gid_ = static_cast<gid_t>(-1);
  std::map<int, std::unique_ptr<Conn>> conns_;
  std::vector<int> backlog_;  // connections with whole lines left for a later turn
  uint64_t turn_ = 0;
  ServerStats stats_;
  LogThrottle refuse_log_;
  LogThrottle evict_log_;
  LogThrottle drop_log_;
};

}  // namespace avm::rpc
