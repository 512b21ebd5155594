// SPDX-License-Identifier: GPL-2.0
#include "daemon/config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace avm {
namespace {

constexpr const char* kGood = R"(# a full file
[daemon]
control_socket = "/run/x/control.sock"
control_group = "kvm"
state_dir = "/var/lib/x"
log_level = "debug"
max_instances = 8
max_devices = 16
max_region_size = "64M"
max_request_bytes = 4096
max_connections = 4

[metrics]
enabled = true
listen = "127.0.0.1:9464"

[[instance]]
name = "vm1"
region_size = "8M"
vectors = 3

[[instance]]
name = "vm2"
socket = "/run/x/two.sock"
region_size = 1048576

[[device]]
name = "vm1-net0"
type = "venet"
instance = "vm1"
tap = "avm-a"
bridge = "br0"
netns = "ns1"
mac = "52:54:00:aa:bb:cc"
mtu = 9000
queues = 1
backend = "user"
link = "down"

[[device]]
name = "spare"
)";

// The errors of @text, with the file name "f.conf".
std::vector<std::string> errors(const std::string& text) {
  return parse_config(text, "f.conf").errors;
}

TEST(Config, AGoodFile) {
  ConfigResult r = parse_config(kGood, "good.conf");
  ASSERT_TRUE(r.ok()) << r.errors.front();
  const Config& c = r.config;
  EXPECT_EQ(c.daemon.control_socket, "/run/x/control.sock");
  EXPECT_EQ(c.daemon.control_group, "kvm");
  EXPECT_EQ(c.daemon.state_dir, "/var/lib/x");
  EXPECT_EQ(c.daemon.log_level, "debug");
  EXPECT_EQ(c.daemon.max_instances, 8U);
  EXPECT_EQ(c.daemon.max_devices, 16U);
  EXPECT_EQ(c.daemon.max_region_size, 64U << 20);
  EXPECT_EQ(c.daemon.max_request_bytes, 4096U);
  EXPECT_EQ(c.daemon.max_connections, 4U);
  EXPECT_TRUE(c.metrics.enabled);
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:9464");
  ASSERT_EQ(c.instances.size(), 2U);
  EXPECT_EQ(c.instances[0].name, "vm1");
  EXPECT_EQ(c.instances[0].region_size, 8U << 20);
  EXPECT_EQ(c.instances[0].vectors, 3U);
  EXPECT_EQ(c.instances[0].origin, Origin::kConfig);
  EXPECT_EQ(instance_socket(c.instances[0], "/run/x"), "/run/x/vm1.sock");
  EXPECT_EQ(instance_socket(c.instances[1], "/run/x"), "/run/x/two.sock");
  ASSERT_EQ(c.devices.size(), 2U);
  const DeviceSpec& d = c.devices[0];
  EXPECT_EQ(d.instance, "vm1");
  EXPECT_EQ(d.tap, "avm-a");
  EXPECT_EQ(d.bridge, "br0");
  EXPECT_EQ(d.netns, "ns1");
  EXPECT_EQ(format_mac(*d.mac), "52:54:00:aa:bb:cc");
  EXPECT_EQ(d.mtu, 9000U);
  EXPECT_EQ(d.backend, "user");
  EXPECT_FALSE(d.link_up);
  // Defaults of the second device.
  const DeviceSpec& s = c.devices[1];
  EXPECT_FALSE(s.instance);
  EXPECT_EQ(device_tap(s), "avm-spare");
  EXPECT_EQ(device_mac(s)[0], 0x52);
  EXPECT_EQ(device_mac(s), device_mac(s));  // stable
  EXPECT_TRUE(s.link_up);
}

TEST(Config, AnEmptyFileIsAllDefaults) {
  ConfigResult r = parse_config("", "e.conf");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.daemon.control_socket, "/run/alacrityvm/control.sock");
  EXPECT_EQ(r.config.daemon.max_instances, 64U);
  EXPECT_FALSE(r.config.metrics.enabled);
}

TEST(Config, SyntaxErrorsNameLineAndColumn) {
  auto e = errors("[daemon]\nmax_instances = = 3\n");
  ASSERT_EQ(e.size(), 1U);
  EXPECT_TRUE(e[0].starts_with("f.conf:2:")) << e[0];
}

TEST(Config, UnknownKeysAndTables) {
  auto e = errors("[daemon]\nbogus = 1\n[extra]\nx = 1\n");
  ASSERT_EQ(e.size(), 2U);
  // The top level is checked first.
  EXPECT_EQ(e[0], "f.conf:3:2: extra: unknown key");
  EXPECT_EQ(e[1], "f.conf:2:1: daemon.bogus: unknown key");
}

TEST(Config, WrongTypesAndRanges) {
  auto e = errors(
      "[daemon]\nmax_instances = \"x\"\nmax_request_bytes = 10\nlog_level = \"loud\"\n"
      "state_dir = \"relative\"\n[metrics]\nenabled = \"yes\"\n");
  ASSERT_EQ(e.size(), 5U);
  EXPECT_EQ(e[0], "f.conf:2:17: daemon.max_instances: must be an integer");
  EXPECT_EQ(e[1], "f.conf:3:21: daemon.max_request_bytes: must be 1024..16777216");
  EXPECT_EQ(e[2],
            "f.conf:4:13: daemon.log_level: must be \"trace\", \"debug\", \"info\", \"warn\" or "
            "\"error\"");
  EXPECT_EQ(e[3], "f.conf:5:13: daemon.state_dir: must be an absolute path");
  EXPECT_EQ(e[4], "f.conf:7:11: metrics.enabled: must be true or false");
}

TEST(Config, InstanceErrors) {
  auto e = errors(
      "[daemon]\nmax_region_size = \"8M\"\n"
      "[[instance]]\nname = \"Bad\"\n"
      "[[instance]]\nname = \"a\"\nregion_size = \"3M\"\n"
      "[[instance]]\nname = \"b\"\nregion_size = \"16M\"\n"
      "[[instance]]\nname = \"c\"\nvectors = 65\n"
      "[[instance]]\nname = \"d\"\nregion_size = \"lots\"\n"
      "[[instance]]\nname = \"a\"\n"
      "[[instance]]\nvectors = 2\n");
  ASSERT_EQ(e.size(), 7U) << e.back();
  EXPECT_EQ(e[0], "f.conf:4:8: instance[0].name: must match [a-z0-9][a-z0-9_-]{0,31}");
  EXPECT_EQ(e[1], "f.conf:7:15: instance[1].region_size: must be a power of two, 1M or more");
  EXPECT_EQ(e[2], "f.conf:10:15: instance[2].region_size: over max_region_size");
  EXPECT_EQ(e[3], "f.conf:13:11: instance[3].vectors: must be 1..64");
  EXPECT_EQ(e[4],
            "f.conf:16:15: instance[4].region_size: must be bytes: an integer or \"4M\", \"1G\"");
  EXPECT_EQ(e[5], "f.conf:18:8: instance[5].name: instance a is defined twice");
  EXPECT_TRUE(e[6].starts_with("f.conf:19:")) << e[6];
  EXPECT_NE(e[6].find("instance[6].name: missing"), std::string::npos) << e[6];
}

TEST(Config, DeviceErrors) {
  auto e = errors(
      "[[instance]]\nname = \"vm\"\nvectors = 2\n"
      "[[device]]\nname = \"d0\"\ninstance = \"vm\"\n"
      "[[device]]\nname = \"d1\"\ninstance = \"vm\"\n"  // no vector left
      "[[device]]\nname = \"d2\"\ninstance = \"nope\"\n"
      "[[device]]\nname = \"d3\"\nmac = \"01:00:00:00:00:01\"\n"
      "[[device]]\nname = \"d4\"\nmac = \"zz\"\n"
      "[[device]]\nname = \"d5\"\nlink = \"sideways\"\n"
      "[[device]]\nname = \"d6\"\ntype = \"disk\"\n"
      "[[device]]\nname = \"d7\"\nmtu = 40\n"
      "[[device]]\nname = \"d8\"\ntap = \"a/b\"\n"
      "[[device]]\nname = \"d0\"\n");
  ASSERT_EQ(e.size(), 9U) << e.back();
  EXPECT_EQ(e[0],
            "f.conf:9:12: device[1].instance: instance vm has 2 vectors: no free doorbell "
            "vector");
  EXPECT_EQ(e[1], "f.conf:12:12: device[2].instance: no [[instance]] named nope");
  EXPECT_EQ(e[2], "f.conf:15:7: device[3].mac: must be a unicast address");
  EXPECT_EQ(e[3], "f.conf:18:7: device[4].mac: must be a MAC address like \"52:54:00:12:34:56\"");
  EXPECT_EQ(e[4], "f.conf:21:8: device[5].link: must be \"up\" or \"down\"");
  EXPECT_EQ(e[5], "f.conf:24:8: device[6].type: must be \"venet\"");
  EXPECT_EQ(e[6], "f.conf:27:7: device[7].mtu: must be 68..65535");
  EXPECT_EQ(e[7].substr(0, 31), "f.conf:30:7: device[8].tap: not");
  EXPECT_EQ(e[8], "f.conf:32:8: device[9].name: device d0 is defined twice");
}

// Every error of every table and key, in one run: a bad name does not
// hide the rest of its table, a table without a name is still checked,
// and no string with a NUL or a control character gets through.
TEST(Config, EveryErrorInOneRun) {
  auto e = errors(
      "[daemon]\n"
      "control_socket = \"relative.sock\"\n"
      "control_group = \"kvm\\u0007\"\n"
      "[[instance]]\n"
      "name = \"Bad Name\"\n"
      "socket = \"/tmp/a\\u0000b\"\n"
      "region_size = \"3M\"\n"
      "[[instance]]\n"
      "socket = \"/tmp/x\\u001b.sock\"\n"
      "[[device]]\n"
      "name = \"D\"\n"
      "tap = \"a/b\"\n"
      "netns = \"../etc\"\n"
      "bridge = \"br:0\"\n"
      "mtu = 40\n"
      "[[device]]\n"
      "tap = \"much-too-long-ifname\"\n");
  const std::vector<std::string> want = {
      "f.conf:2:18: daemon.control_socket: must be an absolute path",
      "f.conf:3:17: daemon.control_group: contains a control character (at byte 3)",
      "f.conf:5:8: instance[0].name: must match [a-z0-9][a-z0-9_-]{0,31}",
      "f.conf:6:10: instance[0].socket: contains a NUL byte (at byte 6)",
      "f.conf:7:15: instance[0].region_size: must be a power of two, 1M or more",
      "instance[1].name: missing",
      "f.conf:9:10: instance[1].socket: contains a control character (at byte 6)",
      // A value out of its range is refused as it is read (the field
      // table), before the spec's own checks.
      "f.conf:15:7: device[0].mtu: must be 68..65535",
      "f.conf:11:8: device[0].name: must match [a-z0-9][a-z0-9_-]{0,31}",
      "f.conf:12:7: device[0].tap: not an interface name: must not contain '/'",
      "f.conf:14:10: device[0].bridge: not an interface name: must not contain ':'",
      std::string("f.conf:13:9: device[0].netns: not a namespace name: must not contain '/' ") +
          "(a name in /run/netns)",
      "device[1].name: missing",
      "f.conf:17:7: device[1].tap: not an interface name: longer than 15 bytes",
  };
  ASSERT_EQ(e.size(), want.size()) << ::testing::PrintToString(e);
  for (size_t i = 0; i < want.size(); i++) {
    EXPECT_NE(e[i].find(want[i]), std::string::npos) << e[i] << "\nwant: " << want[i];
  }
}

TEST(Config, DaemonPaths) {
  auto e = errors("[daemon]\ncontrol_socket = \"/" + std::string(107, 'x') +
                  "\"\nstate_dir = \"\"\n[metrics]\nlisten = \"unix:run/m.sock\"\n");
  ASSERT_EQ(e.size(), 3U) << ::testing::PrintToString(e);
  EXPECT_EQ(e[0], "f.conf:2:18: daemon.control_socket: longer than 107 bytes");
  EXPECT_EQ(e[1], "f.conf:3:13: daemon.state_dir: must not be empty");
  EXPECT_EQ(e[2], "f.conf:5:10: metrics.listen: must be an absolute path");
}

TEST(Config, Limits) {
  auto e = errors(
      "[daemon]\nmax_instances = 1\n[[instance]]\nname = \"a\"\n[[instance]]\nname = "
      "\"b\"\n");
  ASSERT_EQ(e.size(), 1U);
  EXPECT_NE(e[0].find("instance: more instances than daemon.max_instances"), std::string::npos);
}

TEST(Config, ArraysMustBeArraysOfTables) {
  auto e = errors("instance = 3\n");
  ASSERT_EQ(e.size(), 1U);
  EXPECT_EQ(e[0], "f.conf:1:12: instance: must be an array of tables ([[instance]])");
}

TEST(Config, AMissingFileIsOneError) {
  ConfigResult r = load_config("/nonexistent/alacrityvmd.conf");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0], "/nonexistent/alacrityvmd.conf: cannot read: No such file or directory");
}

TEST(Config, LoadsAFile) {
  const std::string path = ::testing::TempDir() + "/avm-config-test.conf";
  { std::ofstream(path) << kGood; }
  ConfigResult r = load_config(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config.file, path);
  EXPECT_EQ(r.config.instances.size(), 2U);
}

}  // namespace
}  // namespace avm
