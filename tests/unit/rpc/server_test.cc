// SPDX-License-Identifier: GPL-2.0
// The control socket server with real UNIX sockets, pumped by the test.
#include "rpc/server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

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
    // An answer of params.n bytes of payload.
    d_.add("big", [](const Json& p, const Caller&) -> Outcome<Json> {
      return Json{{"data", std::string(p.value("n", size_t{1000}), 'z')}};
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
  // Whether the server has work for handle_events() now.
  bool ready() const {
    pollfd p{server_->fd(), POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }
  static std::string request(int id, const std::string& method = "whoami",
                             const std::string& params = "{}") {
    return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + method +
           R"(","params":)" + params + "}\n";
  }
  // Writes @data until the socket takes no more (non-blocking): bytes taken.
  static size_t send_some(int fd, const std::string& data) {
    size_t off = 0;
    while (off < data.size()) {
      const ssize_t n =
          ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n <= 0) {
        break;
      }
      off += static_cast<size_t>(n);
    }
    return off;
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

// Over the limit, a new client takes the place of a silent connection, one
// that never sent a request, before one that did; the one closed gets an
// error line first.
TEST_F(ServerTest, AtTheLimitANewClientEvictsASilentConnection) {
  make();
  UniqueFd talker = connect_client();
  pump();
  send_all(talker.get(), request(1));
  pump();
  EXPECT_EQ(Json::parse(read_line(talker.get()))["id"], 1);
  UniqueFd silent = connect_client();  // newer, but never spoke
  pump();
  UniqueFd extra = connect_client();
  pump();
  const Json e = Json::parse(read_line(silent.get()));
  EXPECT_EQ(e["error"]["code"], kLimitReached);
  EXPECT_TRUE(e["id"].is_null());
  EXPECT_TRUE(closed(silent.get()));
  EXPECT_EQ(server_->stats().evicted, 1U);
  EXPECT_EQ(server_->stats().refused, 0U);
  EXPECT_EQ(server_->connections(), 2U);
  for (int fd : {talker.get(), extra.get()}) {
    send_all(fd, request(2));
    pump();
    EXPECT_EQ(Json::parse(read_line(fd))["id"], 2);
  }
  // Both have spoken now: the one idle the longest goes.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  send_all(extra.get(), request(3));
  pump();
  EXPECT_EQ(Json::parse(read_line(extra.get()))["id"], 3);
  UniqueFd third = connect_client();
  pump();
  EXPECT_EQ(Json::parse(read_line(talker.get()))["error"]["code"], kLimitReached);
  EXPECT_TRUE(closed(talker.get()));
  send_all(third.get(), request(4));
  pump();
  EXPECT_EQ(Json::parse(read_line(third.get()))["id"], 4);
}

// Requests in progress are not evicted until they stop moving for
// kStuckAfter; until then a new client is refused with an error line.
TEST_F(ServerTest, ConnectionsWithRequestsInProgressRefuseThenEvictOnceStuck) {
  make();
  UniqueFd a = connect_client();
  UniqueFd b = connect_client();
  pump();
  send_all(a.get(), R"({"jsonrpc":"2.0",)");
  send_all(b.get(), R"({"jsonrpc":)");
  pump();
  UniqueFd extra = connect_client();
  pump();
  const Json e = Json::parse(read_line(extra.get()));
  EXPECT_EQ(e["error"]["code"], kLimitReached);
  EXPECT_EQ(e["error"]["data"]["limit"], "max_connections");
  EXPECT_TRUE(closed(extra.get()));
  EXPECT_EQ(server_->stats().refused, 1U);
  EXPECT_EQ(server_->connections(), 2U);
  std::this_thread::sleep_for(kStuckAfter + std::chrono::milliseconds(100));
  send_all(b.get(), R"("2.0",)");  // b moves, a does not
  pump();
  UniqueFd again = connect_client();
  pump();
  EXPECT_EQ(Json::parse(read_line(a.get()))["error"]["code"], kLimitReached);
  EXPECT_TRUE(closed(a.get()));
  send_all(b.get(), R"("id":6,"method":"whoami"})"
                    "\n");
  send_all(again.get(), request(7));
  pump();
  EXPECT_EQ(Json::parse(read_line(b.get()))["id"], 6);
  EXPECT_EQ(Json::parse(read_line(again.get()))["id"], 7);
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

// Many requests in one write: one turn handles kRequestsPerTurn of them,
// another client is served in the same turn, fd() stays readable until
// the rest are answered.
TEST_F(ServerTest, OneTurnServesAClientABoundedNumberOfRequests) {
  make();
  UniqueFd busy = connect_client();
  UniqueFd other = connect_client();
  pump();
  const unsigned n = 5 * kRequestsPerTurn + 3;
  std::string many;
  for (unsigned i = 0; i < n; i++) {
    many += request(static_cast<int>(i));
  }
  send_all(busy.get(), many);
  send_all(other.get(), request(1000));
  pollfd p{server_->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 1000), 1);
  server_->handle_events();
  EXPECT_EQ(server_->stats().requests, kRequestsPerTurn + 1);
  EXPECT_EQ(Json::parse(read_line(other.get()))["id"], 1000);
  unsigned turns = 1;
  while (ready() && turns < 100) {
    server_->handle_events();
    turns++;
  }
  EXPECT_EQ(server_->stats().requests, n + 1);
  EXPECT_EQ(turns, (n + kRequestsPerTurn - 1) / kRequestsPerTurn);
  for (unsigned i = 0; i < n; i++) {
    ASSERT_EQ(Json::parse(read_line(busy.get()))["id"], i);
  }
  EXPECT_FALSE(ready());
}

// A client that sends and never reads: once its unsent answers pass
// max_output_bytes it is not read any more (its requests wait in the
// socket), the others are served; when it reads, every request is answered.
TEST_F(ServerTest, AClientThatDoesNotReadIsThrottledNotGrown) {
  config_.max_output_bytes = 65536;
  make();
  UniqueFd flood = connect_client();
  UniqueFd other = connect_client();
  pump();
  const std::string req = request(1, "big", R"({"n":1000})");
  // One small request per send: the socket takes it whole or not at all.
  size_t sent = 0;
  for (int idle = 0; idle < 3 && sent < 1000000;) {
    if (::send(flood.get(), req.data(), req.size(), MSG_NOSIGNAL | MSG_DONTWAIT) ==
        static_cast<ssize_t>(req.size())) {
      sent++;
      idle = 0;
      continue;
    }
    bool worked = false;
    while (ready()) {
      server_->handle_events();
      worked = true;
    }
    idle = worked ? 0 : idle + 1;
  }
  const uint64_t handled = server_->stats().requests;
  EXPECT_GT(sent, handled) << "the flooder's socket never filled";
  EXPECT_GE(server_->stats().throttled, 1U);
  EXPECT_GE(server_->unsent(), config_.max_output_bytes);
  EXPECT_LE(server_->unsent(), config_.max_output_bytes + 1100);  // + one answer
  // Still: the others are served, and nothing more of the flooder is read.
  send_all(other.get(), request(9));
  pump();
  EXPECT_EQ(Json::parse(read_line(other.get()))["id"], 9);
  EXPECT_EQ(server_->stats().requests, handled + 1);
  EXPECT_EQ(server_->stats().dropped_slow, 0U);
  // The flooder reads: every request it sent gets its answer.
  const size_t total = sent;
  size_t answers = 0;
  std::string buf;
  while (answers < total) {
    while (ready()) {
      server_->handle_events();
    }
    char tmp[65536];
    const ssize_t n = ::recv(flood.get(), tmp, sizeof tmp, MSG_DONTWAIT);
    ASSERT_NE(n, 0) << "dropped after " << answers << " of " << total << " answers";
    if (n < 0) {
      if (!ready()) {
        pollfd p{flood.get(), POLLIN, 0};
        ASSERT_EQ(::poll(&p, 1, 1000), 1) << answers << " of " << total;
      }
      continue;
    }
    buf.append(tmp, static_cast<size_t>(n));
    for (size_t nl = buf.find('\n'); nl != std::string::npos; nl = buf.find('\n')) {
      ASSERT_EQ(Json::parse(buf.substr(0, nl))["id"], 1);
      answers++;
      buf.erase(0, nl + 1);
    }
  }
  EXPECT_EQ(answers, total);
  EXPECT_EQ(server_->connections(), 2U);
}

// One answer far over the cap: the client is dropped at the hard cap.
TEST_F(ServerTest, AClientOverTheHardCapIsDropped) {
  config_.max_output_bytes = 65536;
  make();
  UniqueFd c = connect_client();
  pump();
  send_all(c.get(), request(1, "big", R"({"n":4194304})"));
  pump();
  EXPECT_EQ(server_->stats().dropped_slow, 1U);
  EXPECT_EQ(server_->connections(), 0U);
  char buf[65536];
  ssize_t n = 0;
  while ((n = ::recv(c.get(), buf, sizeof buf, 0)) > 0) {
  }
  EXPECT_EQ(n, 0);  // EOF after what the socket held
}

// A caller outside the group is refused with an error line (as root, the
// test runs the client as nobody).
TEST_F(ServerTest, ACallerOutsideTheGroupGetsAnErrorLine) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to connect as another user";
  }
  config_.mode = 0666;
  make();
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) {
      ::_exit(10);
    }
    UniqueFd fd = connect_client();
    const std::string line = read_line(fd.get());
    const Json r = Json::parse(line, nullptr, false);
    ::_exit(!r.is_discarded() && r["error"]["code"] == kPermissionDenied && closed(fd.get()) ? 0
                                                                                             : 11);
  }
  int status = 0;
  pid_t done = 0;
  for (int i = 0; i < 100 && (done = ::waitpid(pid, &status, WNOHANG)) == 0; i++) {
    pump();
  }
  ASSERT_EQ(done, pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(server_->stats().refused, 1U);
  EXPECT_EQ(server_->connections(), 0U);
}

}  // namespace
}  // namespace avm::rpc
