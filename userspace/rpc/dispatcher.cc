// SPDX-License-Identifier: GPL-2.0
#include "rpc/dispatcher.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace avm::rpc {

void Dispatcher::add(const std::string& method, Handler handler) {
  handlers_[method] = std::move(handler);
}

std::optional<std::string> Dispatcher::handle_line(std::string_view line,
                                                   const Caller& caller) const {
  Json id;
  auto req = parse_request(line, id);
  if (!req) {
    // An unreadable request is answered even without an id (JSON-RPC 2.0:
    // the id is null then).
    return error_line(id, req.error());
  }
  Outcome<Json> out;
  auto it = handlers_.find(req->method);
  if (it == handlers_.end()) {
    out = fault(kMethodNotFound, "method not found: " + req->method);
  } else {
    try {
      out = it->second(req->params, caller);
    } catch (const std::exception& e) {
      spdlog::error("rpc: {} failed: {}", req->method, e.what());
      out = fault(kInternalError, std::string("internal error: ") + e.what());
    }
  }
  if (req->notification) {
    return std::nullopt;
  }
  return out ? result_line(req->id, *out) : error_line(req->id, out.error());
}

}  // namespace avm::rpc
