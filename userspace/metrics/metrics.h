// SPDX-License-Identifier: GPL-2.0
// Prometheus metrics: the text exposition format (version 0.0.4) and a
// minimal HTTP/1.0 server for `GET /metrics` on a UNIX socket or a
// loopback TCP port, polled from the owner's event loop
// (docs/control-api.md, [metrics]).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lib/error.h"
#include "lib/unique_fd.h"

namespace avm::metrics {

struct Sample {
  std::map<std::string, std::string> labels;  // escaped when rendered
  double value = 0;
};

struct Family {
  std::string name;  // e.g. "alacrityvm_venet_tx_packets_total"
  std::string help;
  std::string type;  // "counter" or "gauge"
  std::vector<Sample> samples;
};

// The exposition text: # HELP, # TYPE, then one line per sample.
std::string render(const std::vector<Family>& families);

class Server {
 public:
  using Source = std::function<std::vector<Family>()>;

  // @listen: "unix:/path" (created 0660; a stale socket file is replaced,
  // one a live server listens on is EADDRINUSE) or "127.0.0.1:PORT" / "[::1]:PORT"; any
  // non-loopback address is EINVAL.  @source is called on the thread that calls handle_events().
  static Result<std::unique_ptr<Server>> create(const std::string& listen, Source source);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Poll for EPOLLIN, then call handle_events(): accepts, reads requests
  // (bounded, with a deadline), answers 200 with the text for GET /metrics,
  // 404/405/400 otherwise.  Never blocks, never throws.
  int fd() const;
  void handle_events();

  // Where it listens: "unix:/path", or "127.0.0.1:PORT" with the bound
  // port (so "127.0.0.1:0" picks a free one).
  const std::string& address() const;

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace avm::metrics
