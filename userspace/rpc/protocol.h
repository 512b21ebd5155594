// SPDX-License-Identifier: GPL-2.0
// JSON-RPC 2.0 as alacrityvmd speaks it (docs/control-api.md, "Wire
// protocol"): one request object per line, no batches, the error codes of
// the contract.  Pure functions, no I/O.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace avm::rpc {

using Json = nlohmann::json;

enum Code : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  kNotFound = -32000,
  kAlreadyExists = -32001,
  kBusy = -32002,
  kLimitReached = -32003,
  kHostResource = -32004,
  kReadOnly = -32005,
  kPermissionDenied = -32006,  // the control socket refuses the caller
};

// A JSON-RPC error object; data is omitted when null.
struct Fault {
  int code = kInternalError;
  std::string message;
  Json data;
};

template <class T>
using Outcome = tl::expected<T, Fault>;

tl::unexpected<Fault> fault(int code, std::string message, Json data = nullptr);
// -32602 with data.param = @param.
tl::unexpected<Fault> bad_param(const std::string& param, const std::string& why);

// Who is calling (SO_PEERCRED).
struct Caller {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct Request {
  Json id;                    // null for a notification
  bool notification = false;  // no "id" member: no response
  std::string method;
  Json params;  // an object (an absent params is {})
};

// Parses one line.  On failure the Fault is answered with @failed_id (the
// request's id when it could be read, else null).
Outcome<Request> parse_request(std::string_view line, Json& failed_id);

// One response line, '\n' terminated.
std::string result_line(const Json& id, const Json& result);
std::string error_line(const Json& id, const Fault& f);

}  // namespace avm::rpc
