// SPDX-License-Identifier: GPL-2.0
// The service hand-over (service_handover.cc) in-process: one Service
// serving on its own thread, a second one started with `takeover` taking
// every instance and the control socket over; and a takeover with nobody
// to take over from.  The data path across a hand-over is the system
// test's (tests/system/test_daemon_service_handover.py).
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "daemon/service.h"
#include "ivshmem/client.h"
#include "service_fixture.h"

namespace avm {
namespace {

using rpc::Json;

TEST(HandoverSocketPath, NextToTheControlSocket) {
  EXPECT_EQ(handover_socket_path("/run/alacrityvm/control.sock"), "/run/alacrityvm/handover.sock");
  EXPECT_EQ(handover_socket_path("/tmp/x/ctl"), "/tmp/x/handover.sock");
  EXPECT_EQ(handover_socket_path("control.sock"), "handover.sock");
}

// One request line on a new connection to @path; its answer ("" if none).
std::string ask(const std::string& path, const std::string& line) {
  const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
  std::string out;
  timeval tv{10, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&  // NOLINT
      ::write(s, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
    char buf[4096];
    ssize_t n = 0;
    while (out.find('\n') == std::string::npos && (n = ::read(s, buf, sizeof buf)) > 0) {
      out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(s);
  return out;
}

class ServiceHandoverTest : public test::ServiceFixture {
 protected:
  void SetUp() override {
    ServiceFixture::SetUp();
    opts_.config.daemon.max_region_size = uint64_t{8} << 20;
    add_config_instance();
  }
};

TEST_F(ServiceHandoverTest, EveryInstanceAndTheControlSocketMove) {
  Service old(opts_);
  ASSERT_TRUE(old.start());
  const std::string control = dir_ + "/control.sock";
  const std::string api =
      R"({"jsonrpc":"2.0","id":1,"method":"instance.create","params":{"name":"vm2","region_size":"1M","vectors":2}})";
  ASSERT_NE(old.dispatcher().handle_line(api, rpc::Caller{1, 0, 0})->find("result"),
            std::string::npos);
  struct stat before {};
  ASSERT_EQ(::stat(control.c_str(), &before), 0);
  ASSERT_TRUE(std::filesystem::exists(dir_ + "/handover.sock"));
  std::thread serving([&] { ASSERT_TRUE(old.run(-1)); });

  ServiceOptions o = opts_;
  o.takeover = true;
  Service next(o);
  auto started = next.start();
  serving.join();  // the old loop stops once it has handed over
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_TRUE(old.handed_over());
  EXPECT_TRUE(old.instance_names().empty());
  EXPECT_EQ(next.instance_names(), (std::vector<std::string>{"cfg1", "vm2"}));
  ASSERT_NE(next.instance("vm2"), nullptr);

  // The same socket file, served by the new service.
  struct stat after {};
  ASSERT_EQ(::stat(control.c_str(), &after), 0);
  EXPECT_EQ(after.st_ino, before.st_ino);
  old.stop();  // finds nothing to stop; the files stay
  ASSERT_TRUE(std::filesystem::exists(control));
  ASSERT_TRUE(std::filesystem::exists(dir_ + "/handover.sock"));
  std::thread serving_next([&] { ASSERT_TRUE(next.run(-1)); });
  const std::string answer = ask(control, R"({"jsonrpc":"2.0","id":7,"method":"instance.list"})"
                                          "\n");
  next.request_stop();
  serving_next.join();
  EXPECT_NE(answer.find("\"vm2\""), std::string::npos) << answer;
  EXPECT_NE(answer.find("\"cfg1\""), std::string::npos) << answer;
  next.stop();
  EXPECT_FALSE(std::filesystem::exists(control));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/handover.sock"));
}

TEST_F(ServiceHandoverTest, TakeoverWithoutADaemonFails) {
  opts_.takeover = true;
  Service s(opts_);
  auto started = s.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("no alacrityvmd takes hand-over requests on " + dir_ +
                                         "/handover.sock"),
            std::string::npos)
      << started.error().message;
  EXPECT_TRUE(s.instance_names().empty());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/control.sock"));
}

// The old process's last stats line (SIGQUIT, and the one logged at exit)
// after a hand-over is the counters as they were handed over, not an empty
// {"instances":{}}; the taker's go on from exactly those (the ivshmem
// server's count the guest that joined).
TEST_F(ServiceHandoverTest, TheLastStatsLineIsWhatWasHandedOver) {
  Service old(opts_);
  ASSERT_TRUE(old.start());
  ASSERT_NE(old.instance("cfg1"), nullptr);
  const std::string guest_socket = old.instance("cfg1")->config().socket_path;
  std::thread serving([&] { ASSERT_TRUE(old.run(-1)); });
  auto guest = ivshmem::Client::connect(guest_socket);
  ASSERT_TRUE(guest) << guest.error().message;
  auto joined = guest->handshake(old.instance("cfg1")->config().vectors, 10000);
  ASSERT_TRUE(joined) << joined.error().message;

  ServiceOptions o = opts_;
  o.takeover = true;
  Service next(o);
  auto started = next.start();
  serving.join();
  ASSERT_TRUE(started) << started.error().message;
  ASSERT_TRUE(old.handed_over());
  const Json last = Json::parse(old.legacy_stats_json());
  ASSERT_TRUE(last["instances"].contains("cfg1")) << last.dump();
  const Json& handed = last["instances"]["cfg1"];
  EXPECT_EQ(handed.at("ivshmem").value("accepted", 0U), 1U) << last.dump();
  EXPECT_EQ(handed.at("ivshmem").value("joined", 0U), 1U) << last.dump();
  const Json now = next.stats(std::nullopt).value().at("instances").at("cfg1");
  for (const char* object : {"bridge", "ivshmem", "devices"}) {
    EXPECT_EQ(now.value(object, Json()), handed.value(object, Json())) << object;
  }
  old.stop();
  EXPECT_EQ(Json::parse(old.legacy_stats_json()), last) << "stop() changed the last look";

  std::thread serving_next([&] { ASSERT_TRUE(next.run(-1)); });
  next.request_stop();
  serving_next.join();
  next.stop();
}

}  // namespace
}  // namespace avm
