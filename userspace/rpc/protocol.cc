// SPDX-License-Identifier: GPL-2.0
#include "rpc/protocol.h"

namespace avm::rpc {

tl::unexpected<Fault> fault(int code, std::string message, Json data) {
  return tl::unexpected(Fault{code, std::move(message), std::move(data)});
}

tl::unexpected<Fault> bad_param(const std::string& param, const std::string& why) {
  return fault(kInvalidParams, param + ": " + why, Json{{"param", param}});
}

Outcome<Request> parse_request(std::string_view line, Json& failed_id) {
  failed_id = nullptr;
  Json j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return fault(kParseError, "parse error: not valid JSON");
  }
  if (j.is_array()) {
    return fault(kInvalidRequest, "batches are not supported");
  }
  if (!j.is_object()) {
    return fault(kInvalidRequest, "a request is a JSON object");
  }
  Request r;
  auto id = j.find("id");
  if (id != j.end()) {
    if (!id->is_null() && !id->is_string() && !id->is_number_integer()) {
      return fault(kInvalidRequest, "id must be a string, an integer or null");
    }
    r.id = *id;
    failed_id = *id;
  } else {
    r.notification = true;
  }
  auto version = j.find("jsonrpc");
  if (version == j.end() || !version->is_string() || *version != "2.0") {
    return fault(kInvalidRequest, "jsonrpc must be \"2.0\"");
  }
  auto method = j.find("method");
  if (method == j.end() || !method->is_string()) {
    return fault(kInvalidRequest, "method must be a string");
  }
  r.method = method->get<std::string>();
  auto params = j.find("params");
  if (params == j.end() || params->is_null()) {
    r.params = Json::object();
  } else if (params->is_object()) {
    r.params = *params;
  } else {
    return fault(kInvalidParams, "params must be an object (by-name parameters)");
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "jsonrpc" && key != "id" && key != "method" && key != "params") {
      return fault(kInvalidRequest, "unknown member: " + key);
    }
  }
  return r;
}

namespace {

std::string dump_line(const Json& j) {
  // Invalid UTF-8 from a caller's strings is replaced, never thrown.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace

std::string result_line(const Json& id, const Json& result) {
  return dump_line(Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", result}});
}

std::string error_line(const Json& id, const Fault& f) {
  Json err = {{"code", f.code}, {"message", f.message}};
  if (!f.data.is_null()) {
    err["data"] = f.data;
  }
  return dump_line(Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", err}});
}

}  // namespace avm::rpc
