// SPDX-License-Identifier: GPL-2.0
// A JSON-RPC 2.0 client for alacrityvmd's control socket: one request line,
// one response line (docs/control-api.md, "Wire protocol").
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/error.h"
#include "lib/unique_fd.h"

namespace avm::avmctl {

// The daemon's answer: a result, or a JSON-RPC error object.
struct Reply {
  bool ok = false;
  nlohmann::json result;  // when ok
  int code = 0;           // when !ok
  std::string message;
  nlohmann::json data;  // may be null
};

class RpcClient {
 public:
  // Connects to the UNIX socket at @path.  Error codes are errno values:
  // EACCES/EPERM mean "not allowed", anything else "cannot reach".
  static Result<RpcClient> connect(const std::string& path, std::chrono::milliseconds timeout);

  // Sends one request and waits for its response.  An error means the
  // exchange failed (EPIPE, ETIMEDOUT, EPROTO for an answer that is not a
  // JSON-RPC 2.0 response to this request); a daemon-side error is a Reply.
  Result<Reply> call(const std::string& method, const nlohmann::json& params);

  // Checks a response line against the request id @id (exposed for tests).
  static Result<Reply> parse_reply(const std::string& line, int64_t id);

 private:
  RpcClient(UniqueFd fd, std::chrono::milliseconds timeout)
      : fd_(std::move(fd)), timeout_(timeout) {}
  Status send_all(const std::string& data, std::chrono::steady_clock::time_point deadline);
  Result<std::string> read_line(std::chrono::steady_clock::time_point deadline);

  UniqueFd fd_;
  std::chrono::milliseconds timeout_;
  int64_t next_id_ = 1;
  std::string buffer_;
};

}  // namespace avm::avmctl
