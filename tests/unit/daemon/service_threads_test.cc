// SPDX-License-Identifier: GPL-2.0
// Service's thread model and error policy (docs/architecture.md,
// "Threads and ownership" and "Error policy"): constructing it makes no
// syscalls, start() reports the real errno and message, and an operation
// called off the service loop's thread while it runs is an ownership bug.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "bridge/io_thread.h"
#include "daemon/service.h"
#include "service_fixture.h"

namespace avm {
namespace {

int open_fds() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) {
    n++;
  }
  return n;
}

using ServiceThreadsTest = test::ServiceFixture;

// It used to create its event loop (an epoll fd and two eventfds) here.
TEST_F(ServiceThreadsTest, ConstructionMakesNoSyscalls) {
  const int before = open_fds();
  {
    Service s(opts_);
    EXPECT_EQ(open_fds(), before);
  }
  EXPECT_EQ(open_fds(), before);
}

// It used to map every failure of the control socket or metrics to
// EADDRINUSE.
TEST_F(ServiceThreadsTest, StartReportsTheRealErrno) {
  opts_.persist = false;
  opts_.config.metrics.enabled = true;
  opts_.config.metrics.listen = "10.1.2.3:9100";  // not loopback: EINVAL
  Service s(opts_);
  auto started = s.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, EINVAL) << started.error().message;
  EXPECT_NE(started.error().message.find("metrics 10.1.2.3:9100"), std::string::npos)
      << started.error().message;
  s.stop();
}

TEST_F(ServiceThreadsTest, ControlSocketFailureNamesItsCause) {
  opts_.persist = false;
  // The control socket's path is a directory: not a socket anyone listens on.
  std::filesystem::create_directories(dir_ + "/control.sock/x");
  Service s(opts_);
  auto started = s.start();
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().code, EEXIST) << started.error().message;
  EXPECT_NE(started.error().message.find("control socket " + dir_ + "/control.sock"),
            std::string::npos)
      << started.error().message;
}

// Operations belong to the service loop's thread while it runs.
TEST_F(ServiceThreadsTest, AnOperationOffTheLoopThreadIsAnOwnershipBug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  opts_.persist = false;
  opts_.control = false;
  EXPECT_DEATH(
      {
        Service s(opts_);
        (void)s.start();
        std::thread serving([&] { (void)s.run(-1); });
        // Before run() starts the loop these succeed; once it runs, the
        // next one aborts.
        for (int i = 0; i < 5000; i++) {
          InstanceSpec spec;
          spec.name = "vm" + std::to_string(i);
          spec.socket = dir_ + "/" + spec.name + ".sock";
          spec.region_size = kRegionSize;
          (void)s.create_instance(spec);
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        s.request_stop();
        serving.join();
      },
      "on_loop_thread");
}

// The instance thread is an IoThread named after the instance.
TEST_F(ServiceThreadsTest, TheInstanceThreadIsNamed) {
  InstanceConfig c;
  c.name = "vm7";
  c.socket_path = dir_ + "/vm7.sock";
  c.region_size = kRegionSize;
  c.vectors = kVectors;
  Instance inst(c);
  ASSERT_TRUE(inst.start());
  std::string name;
  inst.run_sync([&] { name = current_thread_name(); });
  EXPECT_EQ(name, "avm-inst-vm7");
  inst.stop();
  EXPECT_FALSE(inst.running());
  // Not running: the caller owns it and the work runs here.
  inst.run_sync([&] { name = current_thread_name(); });
  EXPECT_EQ(name, current_thread_name());
}

}  // namespace
}  // namespace avm
