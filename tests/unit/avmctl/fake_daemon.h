// SPDX-License-Identifier: GPL-2.0
// A scripted stand-in for alacrityvmd's control socket: it accepts
// connections on its own thread, records each request line and answers
// with whatever the test's responder returns (a raw line, so tests can send
// garbage; "" closes the connection without an answer).
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "lib/unique_fd.h"

namespace avm::avmctl {

class FakeDaemon {
 public:
  using Responder = std::function<std::string(const nlohmann::json& request)>;

  explicit FakeDaemon(Responder responder) : responder_(std::move(responder)) {
    std::string templ = "/tmp/avm-ctl-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      std::abort();
    }
    dir_ = templ;
    path_ = dir_ + "/control.sock";
    listen_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path_.c_str(), sizeof a.sun_path - 1);
    // NOLINTNEXTLINE: sockaddr_un is a sockaddr
    if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 ||
        ::listen(listen_.get(), 8) < 0) {
      std::abort();
    }
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeDaemon() {
    stop_ = true;
    ::shutdown(listen_.get(), SHUT_RDWR);
    thread_.join();
    std::filesystem::remove_all(dir_);
  }
  FakeDaemon(const FakeDaemon&) = delete;
  FakeDaemon& operator=(const FakeDaemon&) = delete;

  const std::string& path() const { return path_; }

  std::vector<nlohmann::json> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

  // A JSON-RPC success line for @req.
  static std::string result(const nlohmann::json& req, const nlohmann::json& res) {
    return nlohmann::json{{"jsonrpc", "2.0"}, {"id", req["id"]}, {"result", res}}.dump() + "\n";
  }
  static std::string error(const nlohmann::json& req, int code, const std::string& message,
                           const nlohmann::json& data = nullptr) {
    nlohmann::json e = {{"code", code}, {"message", message}};
    if (!data.is_null()) {
      e["data"] = data;
    }
    return nlohmann::json{{"jsonrpc", "2.0"}, {"id", req["id"]}, {"error", e}}.dump() + "\n";
  }

 private:
  void serve() {
    while (!stop_) {
      UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) {
        return;
      }
      std::string line;
      char ch = 0;
      while (::read(c.get(), &ch, 1) == 1 && ch != '\n') {
        line += ch;
      }
      const auto req = nlohmann::json::parse(line, nullptr, false);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(req);
      }
      const std::string reply = responder_(req);
      if (reply == "hang") {
        // Never answer: wait until the client gives up.
        while (::read(c.get(), &ch, 1) > 0) {
        }
        continue;
      }
      if (!reply.empty()) {
        (void)!::write(c.get(), reply.data(), reply.size());
      }
    }
  }

  Responder responder_;
  std::string dir_;
  std::string path_;
  UniqueFd listen_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<nlohmann::json> requests_;
  std::thread thread_;
};

}  // namespace avm::avmctl
