// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "metrics/metrics.h"

namespace avm::metrics {
namespace {

std::vector<Family> sample_families() {
  return {{"alacrityvm_up", "1 while the daemon runs.", "gauge", {{{}, 1}}},
          {"alacrityvm_venet_rx_packets_total",
           "Packets from the guest.",
           "counter",
           {{{{"device", "vm1-net0"}}, 7}}}};
}

// Runs a Server on its own thread (its "event loop") until destroyed.
class Pump {
 public:
  explicit Pump(std::unique_ptr<Server> server) : server_(std::move(server)) {
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{server_->fd(), POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) {
          server_->handle_events();
        }
      }
    });
  }
  ~Pump() {
    stop_ = true;
    thread_.join();
  }
  Pump(const Pump&) = delete;
  Pump& operator=(const Pump&) = delete;
  Server& server() { return *server_; }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  std::unique_ptr<Server> server_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class TempDir {
 public:
  TempDir() {
    std::string templ = "/tmp/avm-metrics-XXXXXX";
    EXPECT_NE(::mkdtemp(templ.data()), nullptr);
    path_ = templ;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

UniqueFd connect_to(const std::string& address) {
  if (address.starts_with("unix:")) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, address.c_str() + 5, sizeof a.sun_path - 1);
    // NOLINTNEXTLINE: sockaddr_un is a sockaddr
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << address;
    return fd;
  }
  const auto colon = address.rfind(':');
  const int port = std::stoi(address.substr(colon + 1));
  if (address.starts_with("[")) {
    UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port));
    a.sin6_addr = in6addr_loopback;
    // NOLINTNEXTLINE: sockaddr_in6 is a sockaddr
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << address;
    return fd;
  }
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // NOLINTNEXTLINE: sockaddr_in is a sockaddr
  EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << address;
  return fd;
}

// Sends @request, reads until the server closes; "" if it closed at once.
std::string http_get(const std::string& address, const std::string& request) {
  UniqueFd fd = connect_to(address);
  size_t off = 0;
  while (off < request.size()) {
    const ssize_t n = ::send(fd.get(), request.data() + off, request.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      break;  // the server may close early (oversized requests)
    }
    off += static_cast<size_t>(n);
  }
  std::string reply;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
    if (n <= 0) {
      break;
    }
    reply.append(buf, static_cast<size_t>(n));
  }
  return reply;
}

std::string status_line(const std::string& reply) {
  return reply.substr(0, reply.find("\r\n"));
}

std::string body(const std::string& reply) {
  const auto end = reply.find("\r\n\r\n");
  return end == std::string::npos ? "" : reply.substr(end + 4);
}

std::unique_ptr<Server> make_server(const std::string& listen, Server::Source source) {
  auto s = Server::create(listen, std::move(source));
  EXPECT_TRUE(s) << listen << ": " << (s ? "" : s.error().message);
  return s ? std::move(*s) : nullptr;
}

TEST(MetricsServer, UnixSocketServesMetrics) {
  TempDir dir;
  std::atomic<int> calls{0};
  std::thread::id source_thread;
  Pump pump(make_server("unix:" + (dir / "m.sock"), [&] {
    calls++;
    source_thread = std::this_thread::get_id();
    return sample_families();
  }));
  EXPECT_EQ(pump.server().address(), "unix:" + (dir / "m.sock"));

  struct stat st {};
  ASSERT_EQ(::stat((dir / "m.sock").c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660U);

  const std::string reply =
      http_get(pump.server().address(), "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_line(reply), "HTTP/1.0 200 OK");
  EXPECT_NE(reply.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
  const std::string text = render(sample_families());
  EXPECT_NE(reply.find("Content-Length: " + std::to_string(text.size()) + "\r\n"),
            std::string::npos);
  EXPECT_EQ(body(reply), text);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(source_thread, pump.id());  // the source runs on the polling thread

  // A query string and a bare-LF client are fine too.
  EXPECT_EQ(body(http_get(pump.server().address(), "GET /metrics?x=1 HTTP/1.1\n\n")), text);
}

TEST(MetricsServer, HeadHasNoBody) {
  TempDir dir;
  Pump pump(make_server("unix:" + (dir / "m.sock"), sample_families));
  const std::string reply = http_get(pump.server().address(), "HEAD /metrics HTTP/1.0\r\n\r\n");
  EXPECT_EQ(status_line(reply), "HTTP/1.0 200 OK");
  EXPECT_NE(reply.find("Content-Length: " + std::to_string(render(sample_families()).size())),
            std::string::npos);
  EXPECT_EQ(body(reply), "");
}

TEST(MetricsServer, BadRequests) {
  TempDir dir;
  int calls = 0;
  Pump pump(make_server("unix:" + (dir / "m.sock"), [&] {
    calls++;
    return sample_families();
  }));
  const std::string& a = pump.server().address();
  EXPECT_EQ(status_line(http_get(a, "GET / HTTP/1.0\r\n\r\n")), "HTTP/1.0 404 Not Found");
  EXPECT_EQ(status_line(http_get(a, "GET /metricsx HTTP/1.0\r\n\r\n")), "HTTP/1.0 404 Not Found");
  const std::string post = http_get(a, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(status_line(post), "HTTP/1.0 405 Method Not Allowed");
  EXPECT_NE(post.find("Allow: GET, HEAD\r\n"), std::string::npos);
  for (const char* bad :
       {"hello\r\n\r\n", "GET /metrics\r\n\r\n", "GET  /metrics HTTP/1.0\r\n\r\n",
        "GET /metrics HTTP/1.0 extra\r\n\r\n", "GET /metrics FTP/1.0\r\n\r\n", "\r\n\r\n"}) {
    EXPECT_EQ(status_line(http_get(a, bad)), "HTTP/1.0 400 Bad Request") << bad;
  }
  // An endless header is cut off at 8 KiB with a 400.
  EXPECT_EQ(status_line(http_get(a, "GET /metrics HTTP/1.0\r\nX: " + std::string(20000, 'a'))),
            "HTTP/1.0 400 Bad Request");
  EXPECT_EQ(calls, 0);
  // A client that leaves mid-request, and one that says nothing, do not
  // stop the next one.
  { UniqueFd gone = connect_to(a); }
  UniqueFd silent = connect_to(a);
  EXPECT_EQ(status_line(http_get(a, "GET /metrics HTTP/1.0\r\n\r\n")), "HTTP/1.0 200 OK");
  EXPECT_EQ(calls, 1);
}

TEST(MetricsServer, SourceFailureIs500) {
  TempDir dir;
  Pump pump(make_server("unix:" + (dir / "m.sock"),
                        []() -> std::vector<Family> { throw std::runtime_error("boom"); }));
  EXPECT_EQ(status_line(http_get(pump.server().address(), "GET /metrics HTTP/1.0\r\n\r\n")),
            "HTTP/1.0 500 Internal Server Error");
}

TEST(MetricsServer, LargeBodyArrivesWhole) {
  TempDir dir;
  std::vector<Family> big;
  Family f{"alacrityvm_big_total", "Many samples.", "counter", {}};
  for (int i = 0; i < 20000; i++) {
    f.samples.push_back({{{"device", "dev" + std::to_string(i)}}, static_cast<double>(i)});
  }
  big.push_back(f);
  const std::string text = render(big);
  ASSERT_GT(text.size(), 512U * 1024);
  Pump pump(make_server("unix:" + (dir / "m.sock"), [&] { return big; }));
  EXPECT_EQ(body(http_get(pump.server().address(), "GET /metrics HTTP/1.0\r\n\r\n")), text);
}

TEST(MetricsServer, LoopbackTcp) {
  Pump pump(make_server("127.0.0.1:0", sample_families));
  const std::string& a = pump.server().address();
  ASSERT_TRUE(a.starts_with("127.0.0.1:")) << a;
  EXPECT_NE(a, "127.0.0.1:0");
  EXPECT_EQ(body(http_get(a, "GET /metrics HTTP/1.0\r\n\r\n")), render(sample_families()));
}

TEST(MetricsServer, LoopbackTcp6) {
  Pump pump(make_server("[::1]:0", sample_families));
  const std::string& a = pump.server().address();
  ASSERT_TRUE(a.starts_with("[::1]:")) << a;
  EXPECT_EQ(body(http_get(a, "GET /metrics HTTP/1.0\r\n\r\n")), render(sample_families()));
}

TEST(MetricsServer, RefusesNonLoopbackAndGarbage) {
  for (const char* bad :
       {"0.0.0.0:9464", "192.168.1.10:9464", "10.0.0.1:1", "[::]:9464", "[fe80::1]:9464",
        "[2001:db8::1]:1", "localhost:9464", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
        "127.0.0.1:-1", "127.0.0.1:9x", "::1:9464", "unix:", "unix:relative.sock", "", "garbage"}) {
    auto s = Server::create(bad, sample_families);
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().code, EINVAL) << bad;
  }
}

TEST(MetricsServer, LiveUnixSocketIsNotStolen) {
  TempDir dir;
  auto first = make_server("unix:" + (dir / "m.sock"), sample_families);
  auto second = Server::create("unix:" + (dir / "m.sock"), sample_families);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, EADDRINUSE);
  first.reset();  // removes its socket file
  EXPECT_FALSE(std::filesystem::exists(dir / "m.sock"));
  EXPECT_TRUE(Server::create("unix:" + (dir / "m.sock"), sample_families));
}

}  // namespace
}  // namespace avm::metrics
