// SPDX-License-Identifier: GPL-2.0
#include "avmctl/format.h"

#include <gtest/gtest.h>

namespace avm::avmctl {
namespace {

using nlohmann::json;

TEST(Table, PadsColumnsWithoutTrailingBlanks) {
  EXPECT_EQ(table({"A", "LONGER"}, {{"x", "1"}, {"yyyy", "22"}}),
            "A     LONGER\n"
            "x     1\n"
            "yyyy  22\n");
  EXPECT_EQ(table({"A", "B"}, {}), "A  B\n");
  EXPECT_EQ(table({}, {{"k:", "v"}}), "k:  v\n");
}

TEST(Cell, Kinds) {
  EXPECT_EQ(cell(json()), "-");
  EXPECT_EQ(cell(""), "-");
  EXPECT_EQ(cell("x"), "x");
  EXPECT_EQ(cell(12), "12");
  EXPECT_EQ(cell(true), "true");
  EXPECT_EQ(cell(json::array()), "-");
  EXPECT_EQ(cell(json::array({"a", "b"})), "a,b");
  EXPECT_EQ(size_cell(4194304), "4M");
  EXPECT_EQ(size_cell(uint64_t{1} << 30), "1G");
  EXPECT_EQ(size_cell(65536), "64K");
  EXPECT_EQ(size_cell(1000), "1000");
  EXPECT_EQ(size_cell("weird"), "weird");
}

const json kInstance = json::parse(R"({"name": "vm1", "origin": "api",
  "socket": "/run/alacrityvm/vm1.sock", "region_size": 4194304, "vectors": 4,
  "state": "connected", "guest": {"peer": 1, "pid": 1234}, "devices": ["vm1-net0"]})");

const json kDevice = json::parse(R"({"name": "vm1-net0", "origin": "config", "type": "venet",
  "instance": "vm1", "tap": "avm-vm1-0", "bridge": null, "mac": "52:54:00:12:34:56",
  "mtu": 1500, "queues": 1, "backend": "user", "link": "up", "guest_open": true,
  "quarantined": false})");

TEST(Format, InstanceTable) {
  json second = {
      {"name", "b"}, {"state", "waiting"}, {"guest", nullptr}, {"devices", json::array()}};
  EXPECT_EQ(instance_table(json::array({kInstance, second})),
            "NAME  STATE      GUEST            REGION  VECTORS  DEVICES   ORIGIN  SOCKET\n"
            "vm1   connected  peer 1 pid 1234  4M      4        vm1-net0  api     "
            "/run/alacrityvm/vm1.sock\n"
            "b     waiting    -                -       -        -         -       -\n");
  EXPECT_EQ(instance_table(json::array()),
            "NAME  STATE  GUEST  REGION  VECTORS  DEVICES  ORIGIN  SOCKET\n");
  // A guest whose pid the daemon does not know: just the peer.
  json unknown = kInstance;
  unknown["guest"]["pid"] = nullptr;
  EXPECT_NE(instance_table(json::array({unknown})).find("connected  peer 1  4M"),
            std::string::npos);
  // Garbage from the daemon does not throw.
  EXPECT_NO_THROW(instance_table(json::array({1, "x", nullptr})));
  EXPECT_NO_THROW(instance_table(json("nope")));
}

TEST(Format, DeviceTableAndStatus) {
  json q = kDevice;
  q["name"] = "q";
  q["quarantined"] = true;
  json closed = kDevice;
  closed["name"] = "c";
  closed["guest_open"] = false;
  closed["instance"] = nullptr;
  const std::string t = device_table(json::array({kDevice, q, closed}));
  EXPECT_EQ(t.substr(0, t.find('\n')),
            "NAME      TYPE   INSTANCE  LINK  GUEST        TAP        BRIDGE  MAC                "
            "MTU   BACKEND  ORIGIN");
  EXPECT_NE(t.find("vm1-net0  venet  vm1       up    open         avm-vm1-0  -       "
                   "52:54:00:12:34:56  1500  user     config\n"),
            std::string::npos)
      << t;
  EXPECT_NE(t.find("\nq         venet  vm1       up    quarantined"), std::string::npos) << t;
  EXPECT_NE(t.find("\nc         venet  -         up    closed"), std::string::npos) << t;
}

TEST(Format, DetailsWithStats) {
  json inst = kInstance;
  inst["stats"] = {{"bridge", {{"doorbells", 3}, {"eq", {{"pushed", 2}}}}}};
  EXPECT_EQ(instance_details(inst),
            "name:         vm1\n"
            "origin:       api\n"
            "state:        connected\n"
            "guest:        peer 1 pid 1234\n"
            "socket:       /run/alacrityvm/vm1.sock\n"
            "region_size:  4M\n"
            "vectors:      4\n"
            "devices:      vm1-net0\n"
            "stats:\n"
            "  bridge.doorbells  3\n"
            "  bridge.eq.pushed  2\n");
  const std::string d = device_details(kDevice);
  EXPECT_NE(d.find("guest:     open\n"), std::string::npos) << d;
  EXPECT_EQ(d.find("stats:"), std::string::npos);
}

TEST(Format, StatsTable) {
  const json stats = json::parse(R"({"instances": {
    "vm1": {"bridge": {"doorbells": 5}, "devices": {"vm1-net0": {"rx_packets": 7, "tx_packets": 9}}},
    "vm2": {"bridge": {}, "devices": {}}}})");
  EXPECT_EQ(stats_table(stats),
            "INSTANCE  OBJECT    COUNTER     VALUE\n"
            "vm1       bridge    doorbells   5\n"
            "vm1       vm1-net0  rx_packets  7\n"
            "vm1       vm1-net0  tx_packets  9\n"
            "vm2       bridge    -           -\n");
}

TEST(Format, ShellLine) {
  EXPECT_EQ(shell_line(json::array({"-chardev", "socket,id=avm-vm1,path=/run/a.sock"})),
            "-chardev socket,id=avm-vm1,path=/run/a.sock\n");
  EXPECT_EQ(shell_line(json::array({"a b", "it's", "", "$x"})), "'a b' 'it'\\''s' '' '$x'\n");
}

TEST(Format, ReloadSummary) {
  EXPECT_EQ(reload_summary(json::parse(R"({"added": ["a", "b"], "removed": [], "kept": ["c"]})")),
            "added:    a, b\n"
            "removed:  -\n"
            "changed:  -\n"
            "kept:     c\n");
}

}  // namespace
}  // namespace avm::avmctl
