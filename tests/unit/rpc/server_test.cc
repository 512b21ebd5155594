// SPDX-License-Identifier: GPL-2.0
// The control socket server with real UNIX sockets, pumped by the test.
#include "rpc/server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

#include "rpc/dispatcher.h"

namespace avm::rpc {
namespace {

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/avm-rpc-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    config_.path = dir_ + "/c.sock";
    config_.group = "";
    config_.max_request_bytes = 1024;
    config_.max_connections = 2;
    d_.add("whoami", [](const Json&, const Caller& c) -> Outcome<Json> {
      return Json{{"pid", c.pid}, {"uid", c.uid}};
    });
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void make() {
    auto s = Server::create(config_, [this](std::string_view line, const Caller& c) {
      return d_.handle_line(line, c);
    });
    ASSERT_TRUE(s) << s.error().message;
    server_ = std::move(*s);
  }
  // Lets the server handle what is pending.
  void pump() {
    for (int i = 0; i < 5; i++) {
      pollfd p{server_->fd(), POLLIN, 0};
      if (::poll(&p, 1, 20) > 0) {
        server_->handle_events();
      }
    }
  }
  UniqueFd connect_client() {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, config_.path.c_str(), sizeof a.sun_path - 1);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);  // NOLINT
    timeval tv{2, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
  }
  static void send_all(int fd, const std::string& s) {
    ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
  }
  // One line, or "" on EOF/timeout.
  static std::string read_line(int fd) {
    std::string out;
    char c = 0;
    while (::recv(fd, &c, 1, 0) == 1) {
      if (c == '\n') {
        return out;
      }
      out += c;
    }
    return "";
  }
  static bool closed(int fd) {
    char c = 0;
    return ::recv(fd, &c, 1, 0) == 0;
  }

  std::string dir_;
  ServerConfig config_;
  Dispatcher d_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, AnswersLinesAndKnowsTheCaller) {
  make();
  struct stat st {};
  ASSERT_EQ(::stat(config_.path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0660U);
  UniqueFd c = connect_client();
  pump();
  // Two requests in one write, the second split over two writes.
  send_all(c.get(), R"({"jsonrpc":"2.0","id":1,"method":"whoami"})"
                    "\n"
                    R"({"jsonrpc":"2.0","id":2,)");
  pump();
  send_all(c.get(), R"("method":"whoami"})"
                    "\n");
  pump();
  for (int id : {1, 2}) {
    const Json r = Json::parse(read_line(c.get()));
    EXPECT_EQ(r["id"], id);
    EXPECT_EQ(r["result"]["pid"], ::getpid());
    EXPECT_EQ(r["result"]["uid"], ::getuid());
  }
  EXPECT_EQ(server_->stats().requests, 2U);
}

TEST_F(ServerTest, AnOversizedLineIsRefusedAndClosedWhileOthersAreServed) {
  make();
  UniqueFd bad = connect_client();
  UniqueFd good = connect_client();
  pump();
  send_all(bad.get(), std::string(2000, 'x'));
  pump();
  const Json r0 = Json::parse(read_line(bad.get()));
  EXPECT_EQ(r0["error"]["code"], kInvalidRequest);
  EXPECT_TRUE(closed(bad.get()));
  // The same with a newline after the long line (a complete line).
  bad = connect_client();
  pump();
  send_all(bad.get(), std::string(2000, 'y') + "\n");
  pump();
  const Json r = Json::parse(read_line(bad.get()));
  EXPECT_EQ(r["error"]["code"], kInvalidRequest);
  EXPECT_TRUE(closed(bad.get()));
  EXPECT_EQ(server_->stats().oversized, 2U);
  send_all(good.get(), R"({"jsonrpc":"2.0","id":3,"method":"whoami"})"
                       "\n");
  pump();
  EXPECT_EQ(Json::parse(read_line(good.get()))["id"], 3);
}

TEST_F(ServerTest, MalformedLinesGetErrorsAndTheConnectionStays) {
  make();
  UniqueFd c = connect_client();
  pump();
  send_all(c.get(),
           "{nope\n[1]\n\n"
           R"({"jsonrpc":"2.0","id":4,"method":"x"})"
           "\n");
  pump();
  EXPECT_EQ(Json::parse(read_line(c.get()))["error"]["code"], kParseError);
  EXPECT_EQ(Json::parse(read_line(c.get()))["error"]["code"], kInvalidRequest);
  EXPECT_EQ(Json::parse(read_line(c.get()))["error"]["code"], kMethodNotFound);
}

TEST_F(ServerTest, ConnectionsOverTheLimitAreClosed) {
  make();
  UniqueFd a = connect_client();
  UniqueFd b = connect_client();
  pump();
  UniqueFd extra = connect_client();
  pump();
  EXPECT_TRUE(closed(extra.get()));
  EXPECT_EQ(server_->stats().refused, 1U);
  EXPECT_EQ(server_->connections(), 2U);
  a.reset();
  pump();
  EXPECT_EQ(server_->connections(), 1U);
  UniqueFd again = connect_client();
  pump();
  send_all(again.get(), R"({"jsonrpc":"2.0","id":5,"method":"whoami"})"
                        "\n");
  pump();
  EXPECT_EQ(Json::parse(read_line(again.get()))["id"], 5);
}

TEST_F(ServerTest, CloseRemovesTheSocket) {
  make();
  EXPECT_TRUE(std::filesystem::exists(config_.path));
  server_->close();
  EXPECT_FALSE(std::filesystem::exists(config_.path));
}

TEST_F(ServerTest, ALiveSocketIsNotTakenOver) {
  make();
  auto second = Server::create(
      config_, [](std::string_view, const Caller&) { return std::optional<std::string>(); });
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, EADDRINUSE);
}

}  // namespace
}  // namespace avm::rpc
