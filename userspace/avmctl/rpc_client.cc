// SPDX-License-Identifier: GPL-2.0
#include "avmctl/rpc_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace avm::avmctl {

namespace {

using Clock = std::chrono::steady_clock;

// The longest response line we accept (a big `stats` is a few hundred KiB).
constexpr size_t kMaxResponse = 64U << 20;

Status wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return make_error(ETIMEDOUT, "no answer from the daemon in time");
    }
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) {
      return {};
    }
    if (n < 0 && errno != EINTR) {
      return errno_error("poll");
    }
  }
}

tl::unexpected<Error> protocol_error(const std::string& what) {
  return make_error(EPROTO, "bad answer from the daemon: " + what);
}

}  // namespace

Result<RpcClient> RpcClient::connect(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{.sun_family = AF_UNIX, .sun_path = {}};
  // sun_path needs room for the terminating NUL.
  if (path.empty() || path.copy(addr.sun_path, sizeof addr.sun_path) == sizeof addr.sun_path) {
    return make_error(ENAMETOOLONG, "not a usable UNIX socket path: '" + path + "'");
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return errno_error("socket");
  }
  // NOLINTNEXTLINE: sockaddr_un is a sockaddr
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) < 0) {
    return errno_error(path);
  }
  return RpcClient(std::move(fd), timeout);
}

Status RpcClient::send_all(const std::string& data, Clock::time_point deadline) {
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n =
        ::send(fd_.get(), data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) {
      off += static_cast<size_t>(n);
    } else if (errno == EAGAIN) {
      if (auto st = wait_for(fd_.get(), POLLOUT, deadline); !st) {
        return st;
      }
    } else if (errno != EINTR) {
      return errno_error("sending to the daemon");
    }
  }
  return {};
}

Result<std::string> RpcClient::read_line(Clock::time_point deadline) {
  for (;;) {
    const auto nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      return line;
    }
    if (buffer_.size() > kMaxResponse) {
      return protocol_error("response longer than " + std::to_string(kMaxResponse) + " bytes");
    }
    if (auto st = wait_for(fd_.get(), POLLIN, deadline); !st) {
      return tl::unexpected(st.error());
    }
    char buf[65536];
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0) {
      return make_error(ECONNRESET, "the daemon closed the connection without an answer");
    }
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) {
        continue;
      }
      return errno_error("reading from the daemon");
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

Result<Reply> RpcClient::parse_reply(const std::string& line, int64_t id) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return protocol_error("not a JSON object");
  }
  if (j.value("jsonrpc", nlohmann::json()) != "2.0") {
    return protocol_error("not JSON-RPC 2.0");
  }
  const auto idv = j.find("id");
  // A response to an unreadable request carries "id": null.
  const bool id_null = idv != j.end() && idv->is_null();
  if (!id_null && (idv == j.end() || !idv->is_number_integer() || idv->get<int64_t>() != id)) {
    return protocol_error("response id does not match the request");
  }
  const auto res = j.find("result");
  const auto err = j.find("error");
  if ((res == j.end()) == (err == j.end())) {
    return protocol_error("needs exactly one of result and error");
  }
  Reply r;
  if (res != j.end()) {
    if (id_null) {
      return protocol_error("result without an id");
    }
    r.ok = true;
    r.result = *res;
    return r;
  }
  if (!err->is_object() || !err->contains("code") || !(*err)["code"].is_number_integer() ||
      !err->contains("message") || !(*err)["message"].is_string()) {
    return protocol_error("malformed error object");
  }
  r.code = (*err)["code"].get<int>();
  r.message = (*err)["message"].get<std::string>();
  r.data = err->value("data", nlohmann::json());
  return r;
}

Result<Reply> RpcClient::call(const std::string& method, const nlohmann::json& params) {
  const auto deadline = Clock::now() + timeout_;
  const int64_t id = next_id_++;
  nlohmann::json req = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null() && !params.empty()) {
    req["params"] = params;
  }
  if (auto st = send_all(req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                         deadline);
      !st) {
    return tl::unexpected(st.error());
  }
  auto line = read_line(deadline);
  if (!line) {
    return tl::unexpected(line.error());
  }
  return parse_reply(*line, id);
}

}  // namespace avm::avmctl
