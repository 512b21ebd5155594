// SPDX-License-Identifier: GPL-2.0
// avm::rpc::Dispatcher: method name -> handler, and the one place that
// turns a request line into a response line (or none, for a
// notification).  A handler that throws is answered with -32603; nothing
// a caller sends makes the dispatcher throw.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>

#include "rpc/protocol.h"

namespace avm::rpc {

class Dispatcher {
 public:
  using Handler = std::function<Outcome<Json>(const Json& params, const Caller& caller)>;

  void add(const std::string& method, Handler handler);
  bool has(const std::string& method) const { return handlers_.contains(method); }

  // The response line for @line, or nullopt for a notification.
  std::optional<std::string> handle_line(std::string_view line, const Caller& caller) const;

 private:
  std::map<std::string, Handler> handlers_;
};

}  // namespace avm::rpc
