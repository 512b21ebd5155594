// SPDX-License-Identifier: GPL-2.0
// The legacy command line as a service config (daemon/legacy.h): the
// hand-over options leave argv, the flags become the instance "default",
// and a legacy service hands its instance over to a `--takeover-from`
// service through the service's one hand-over path (no second daemon, no
// listener thread), which can itself be handed over again.
#include "daemon/legacy.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "service_fixture.h"

namespace avm {
namespace {

TEST(LegacyOptions, HandoverOptionsLeaveArgv) {
  std::vector<std::string> args = {
      "alacrityvmd", "--foreground", "--takeover-from", "/tmp/h", "--handover-listen=/tmp/h2",
      "-v"};
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  int argc = static_cast<int>(args.size());
  const TakeoverOptions t = extract_takeover_options(argc, argv.data());
  EXPECT_EQ(t.from, "/tmp/h");
  EXPECT_EQ(t.listen, "/tmp/h2");
  ASSERT_EQ(argc, 3);
  EXPECT_STREQ(argv[1], "--foreground");
  EXPECT_STREQ(argv[2], "-v");
  EXPECT_EQ(argv[3], nullptr);
}

TEST(LegacyOptions, FlagsBecomeTheInstanceDefault) {
  DaemonOptions o;
  o.config.socket_path = "/tmp/x.sock";
  o.config.region_size = uint64_t{2} << 30;  // over the service's max_region_size
  o.config.vectors = 3;
  o.config.socket_mode = 0660;
  ServiceOptions so;
  add_legacy_objects(o, TakeoverOptions{"/tmp/h", ""}, so);
  ASSERT_TRUE(so.legacy);
  EXPECT_EQ(so.legacy->instance.name, "default");
  EXPECT_EQ(so.legacy->instance.socket, "/tmp/x.sock");
  EXPECT_EQ(so.legacy->instance.vectors, 3U);
  EXPECT_EQ(so.legacy->instance.origin, Origin::kLegacy);
  EXPECT_EQ(so.legacy->socket_mode, 0660U);
  EXPECT_TRUE(so.legacy->devices.empty());
  EXPECT_EQ(so.config.daemon.max_region_size, uint64_t{2} << 30);
  EXPECT_EQ(so.handover_listen, "/tmp/h");
  EXPECT_FALSE(so.takeover);

  ServiceOptions taker;
  add_legacy_objects(DaemonOptions{}, TakeoverOptions{"", "/tmp/h"}, taker);
  EXPECT_FALSE(taker.legacy);  // it comes from the old process
  EXPECT_TRUE(taker.takeover);
  EXPECT_EQ(taker.takeover_from, "/tmp/h");
  EXPECT_TRUE(taker.legacy_mode());
}

class LegacyHandoverTest : public test::ServiceFixture {
 protected:
  // `alacrityvmd --socket dir/vm.sock --handover-listen dir/ho.sock`.
  ServiceOptions legacy_options() const {
    DaemonOptions o;
    o.config.socket_path = path("vm.sock");
    o.config.region_size = kRegionSize;
    o.config.vectors = kVectors;
    return legacy(o, TakeoverOptions{path("ho.sock"), ""});
  }
  // `alacrityvmd --takeover-from dir/@from [--handover-listen dir/@listen]`.
  ServiceOptions taker_options(const std::string& from, const std::string& listen) const {
    return legacy(DaemonOptions{}, TakeoverOptions{listen, from});
  }

 private:
  ServiceOptions legacy(const DaemonOptions& o, const TakeoverOptions& t) const {
    ServiceOptions so = opts_;
    add_legacy_objects(o, t, so);
    so.control = false;
    so.persist = false;
    return so;
  }
};

TEST_F(LegacyHandoverTest, TheInstanceMovesTwiceThroughTheServicePath) {
  Service old(legacy_options());
  ASSERT_TRUE(old.start());
  ASSERT_TRUE(std::filesystem::exists(dir_ + "/ho.sock"));
  ASSERT_NE(old.instance("default"), nullptr);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/control.sock"));
  std::thread serving([&] { ASSERT_TRUE(old.run(-1)); });

  Service next(taker_options(dir_ + "/ho.sock", dir_ + "/ho2.sock"));
  auto started = next.start();
  serving.join();  // the old loop stops once it has handed over
  ASSERT_TRUE(started) << started.error().message;
  EXPECT_TRUE(old.handed_over());
  EXPECT_TRUE(old.instance_names().empty());
  old.stop();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/ho.sock"));  // the old one's, removed
  ASSERT_EQ(next.instance_names(), std::vector<std::string>{"default"});
  EXPECT_EQ(next.instance("default")->config().socket_path, dir_ + "/vm.sock");
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/vm.sock"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/ho2.sock"));
  // The legacy objects are read-only for the API, like the command line's.
  auto del = next.delete_instance("default", true, Origin::kApi);
  ASSERT_FALSE(del);
  EXPECT_EQ(del.error().code, rpc::kReadOnly);
  // The SIGQUIT line is the instance's.
  EXPECT_NE(next.legacy_stats_json().find("\"bridge_inits\""), std::string::npos);

  // And on again, from the taker to a third process.
  std::thread serving_next([&] { ASSERT_TRUE(next.run(-1)); });
  Service third(taker_options(dir_ + "/ho2.sock", ""));
  auto again = third.start();
  serving_next.join();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_TRUE(next.handed_over());
  EXPECT_EQ(third.instance_names(), std::vector<std::string>{"default"});
  third.stop();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/vm.sock"));
}

TEST_F(LegacyHandoverTest, ALegacyTakerRefusesAServiceAndItServesOn) {
  opts_.persist = false;
  add_config_instance();
  Service service(opts_);
  ASSERT_TRUE(service.start());
  std::thread serving([&] { ASSERT_TRUE(service.run(-1)); });

  Service taker(taker_options(handover_socket_path(dir_ + "/control.sock"), ""));
  auto started = taker.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("--takeover"), std::string::npos)
      << started.error().message;
  EXPECT_TRUE(taker.instance_names().empty());
  service.request_stop();
  serving.join();
  EXPECT_FALSE(service.handed_over());
  EXPECT_EQ(service.instance_names(), std::vector<std::string>{"cfg1"});
  service.stop();
}

TEST_F(LegacyHandoverTest, TakeoverFromNobodyFails) {
  Service taker(taker_options(dir_ + "/nobody.sock", ""));
  auto started = taker.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find(dir_ + "/nobody.sock"), std::string::npos);
}

}  // namespace
}  // namespace avm
