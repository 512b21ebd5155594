// SPDX-License-Identifier: GPL-2.0
#include "avmctl/cli.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "fake_daemon.h"

namespace avm::avmctl {
namespace {

using nlohmann::json;

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome avmctl(const std::string& socket, const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"avmctl", "--socket", socket.c_str()};
  for (const std::string& a : args) {
    argv.push_back(a.c_str());
  }
  std::ostringstream out;
  std::ostringstream err;
  const int code = run(static_cast<int>(argv.size()), argv.data(), out, err);
  return {code, out.str(), err.str()};
}

const json kInstance = {
    {"name", "vm1"}, {"origin", "api"},    {"socket", "/run/vm1.sock"}, {"region_size", 4194304},
    {"vectors", 4},  {"state", "waiting"}, {"guest", nullptr},          {"devices", json::array()}};

// Answers like the real daemon would, for the methods the tests use.
std::string respond(const json& req) {
  const std::string m = req.value("method", "");
  const json p = req.value("params", json::object());
  if (m == "ping") {
    return FakeDaemon::result(req, {{"pong", true}});
  }
  if (m == "version") {
    return FakeDaemon::result(req, {{"version", "0.1.0"}, {"abi", "1.0"}});
  }
  if (m == "instance.create" || m == "instance.show") {
    if (p.value("name", "") == "missing") {
      return FakeDaemon::error(req, -32000, "instance 'missing' not found",
                               {{"kind", "instance"}, {"name", "missing"}});
    }
    return FakeDaemon::result(req, kInstance);
  }
  if (m == "instance.list") {
    return FakeDaemon::result(req, {{"instances", json::array({kInstance})}});
  }
  if (m == "instance.qemu_args") {
    return FakeDaemon::result(req, {{"args",
                                     {"-chardev", "socket,id=avm-vm1,path=/run/a b.sock", "-device",
                                      "ivshmem-doorbell,chardev=avm-vm1,vectors=4"}}});
  }
  if (m == "instance.libvirt_xml") {
    return FakeDaemon::result(req, {{"xml", "<shmem name='avm-vm1'/>"}});
  }
  if (m == "device.set_link" || m == "device.attach" || m == "device.create") {
    return FakeDaemon::result(req, {{"name", p.value("name", "")}, {"instance", "vm1"}});
  }
  return FakeDaemon::error(req, -32601, "method not found");
}

TEST(Cli, PingAndVersion) {
  FakeDaemon d(respond);
  auto r = avmctl(d.path(), {"ping"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out, "pong\n");
  EXPECT_EQ(r.err, "");
  r = avmctl(d.path(), {"version"});
  EXPECT_EQ(r.out, "alacrityvmd 0.1.0 (ABI 1.0)\navmctl " AVM_TEST_VERSION "\n");
  r = avmctl(d.path(), {"--json", "version"});
  EXPECT_EQ(json::parse(r.out), json({{"version", "0.1.0"}, {"abi", "1.0"}}));
}

TEST(Cli, ParamsOnTheWire) {
  FakeDaemon d(respond);
  struct Case {
    std::vector<std::string> args;
    json request;  // method + params
  };
  const std::vector<Case> cases = {
      {{"instance", "create", "vm1"},
       {{"method", "instance.create"}, {"params", {{"name", "vm1"}}}}},
      {{"instance", "create", "vm1", "--region-size", "4M", "--vectors", "8", "--socket-path",
        "/tmp/x.sock"},
       {{"method", "instance.create"},
        {"params",
         {{"name", "vm1"}, {"region_size", "4M"}, {"vectors", 8}, {"socket", "/tmp/x.sock"}}}}},
      {{"instance", "create", "vm1", "--region-size", "4194304"},
       {{"method", "instance.create"}, {"params", {{"name", "vm1"}, {"region_size", 4194304}}}}},
      {{"instance", "delete", "vm1", "--force"},
       {{"method", "instance.delete"}, {"params", {{"name", "vm1"}, {"force", true}}}}},
      {{"instance", "delete", "vm1"},
       {{"method", "instance.delete"}, {"params", {{"name", "vm1"}}}}},
      {{"instance", "list"}, {{"method", "instance.list"}}},
      {{"instance", "show", "vm1"}, {{"method", "instance.show"}, {"params", {{"name", "vm1"}}}}},
      {{"device", "create", "n0", "-i", "vm1", "--tap", "t0", "--bridge", "br0", "--mac",
        "52:54:00:00:00:01", "--mtu", "9000", "--queues", "1", "--backend", "user", "--link",
        "down"},
       {{"method", "device.create"},
        {"params",
         {{"name", "n0"},
          {"type", "venet"},
          {"instance", "vm1"},
          {"tap", "t0"},
          {"bridge", "br0"},
          {"mac", "52:54:00:00:00:01"},
          {"mtu", 9000},
          {"queues", 1},
          {"backend", "user"},
          {"link", "down"}}}}},
      {{"device", "create", "n0"},
       {{"method", "device.create"}, {"params", {{"name", "n0"}, {"type", "venet"}}}}},
      // The tuning fields of the device table (spec_fields.h).
      {{"device", "create", "n0", "--ring-size", "512", "--buf-size", "4096", "--rx-coalesce-us",
        "100", "--busy-poll-max-us", "20", "--netns", "ns1"},
       {{"method", "device.create"},
        {"params",
         {{"name", "n0"},
          {"type", "venet"},
          {"netns", "ns1"},
          {"ring_size", 512},
          {"buf_size", 4096},
          {"rx_coalesce_us", 100},
          {"busy_poll_max_us", 20}}}}},
      {{"device", "delete", "n0"}, {{"method", "device.delete"}, {"params", {{"name", "n0"}}}}},
      {{"device", "list"}, {{"method", "device.list"}}},
      {{"device", "list", "--instance", "vm1"},
       {{"method", "device.list"}, {"params", {{"instance", "vm1"}}}}},
      {{"device", "show", "n0"}, {{"method", "device.show"}, {"params", {{"name", "n0"}}}}},
      {{"device", "attach", "n0", "vm1"},
       {{"method", "device.attach"}, {"params", {{"name", "n0"}, {"instance", "vm1"}}}}},
      {{"device", "detach", "n0"}, {{"method", "device.detach"}, {"params", {{"name", "n0"}}}}},
      {{"link", "n0", "up"},
       {{"method", "device.set_link"}, {"params", {{"name", "n0"}, {"up", true}}}}},
      {{"link", "n0", "down"},
       {{"method", "device.set_link"}, {"params", {{"name", "n0"}, {"up", false}}}}},
      {{"stats"}, {{"method", "stats"}}},
      {{"stats", "vm1"}, {{"method", "stats"}, {"params", {{"instance", "vm1"}}}}},
      {{"qemu-args", "vm1"}, {{"method", "instance.qemu_args"}, {"params", {{"name", "vm1"}}}}},
      {{"libvirt-xml", "vm1"}, {{"method", "instance.libvirt_xml"}, {"params", {{"name", "vm1"}}}}},
      {{"reload"}, {{"method", "daemon.reload"}}},
  };
  for (const Case& c : cases) {
    const size_t before = d.requests().size();
    avmctl(d.path(), c.args);
    const auto reqs = d.requests();
    ASSERT_EQ(reqs.size(), before + 1) << c.args[0];
    json got = reqs.back();
    EXPECT_EQ(got["jsonrpc"], "2.0");
    EXPECT_TRUE(got["id"].is_number_integer());
    got.erase("jsonrpc");
    got.erase("id");
    EXPECT_EQ(got, c.request) << json(c.args).dump();
  }
}

TEST(Cli, HumanOutput) {
  FakeDaemon d(respond);
  auto r = avmctl(d.path(), {"instance", "list"});
  EXPECT_EQ(r.code, kExitOk);
  EXPECT_EQ(r.out,
            "NAME  STATE    GUEST  REGION  VECTORS  DEVICES  ORIGIN  SOCKET\n"
            "vm1   waiting  -      4M      4        -        api     /run/vm1.sock\n");
  r = avmctl(d.path(), {"instance", "list", "--names"});
  EXPECT_EQ(r.out, "vm1\n");
  r = avmctl(d.path(), {"qemu-args", "vm1"});
  EXPECT_EQ(r.out,
            "-chardev 'socket,id=avm-vm1,path=/run/a b.sock' -device "
            "ivshmem-doorbell,chardev=avm-vm1,vectors=4\n");
  r = avmctl(d.path(), {"libvirt-xml", "vm1"});
  EXPECT_EQ(r.out, "<shmem name='avm-vm1'/>\n");
  r = avmctl(d.path(), {"link", "n0", "down"});
  EXPECT_EQ(r.out, "n0: link down\n");
  r = avmctl(d.path(), {"device", "attach", "n0", "vm1"});
  EXPECT_EQ(r.out, "n0: attached to vm1\n");
}

TEST(Cli, DaemonErrorIsExit1) {
  FakeDaemon d(respond);
  auto r = avmctl(d.path(), {"instance", "show", "missing"});
  EXPECT_EQ(r.code, kExitDaemonError);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "avmctl: -32000 instance 'missing' not found\n");
  r = avmctl(d.path(), {"--json", "instance", "show", "missing"});
  EXPECT_EQ(r.code, kExitDaemonError);
  EXPECT_EQ(r.err, "avmctl: -32000 instance 'missing' not found\n");
  EXPECT_EQ(json::parse(r.out), json({{"error",
                                       {{"code", -32000},
                                        {"message", "instance 'missing' not found"},
                                        {"data", {{"kind", "instance"}, {"name", "missing"}}}}}}));
  r = avmctl(d.path(), {"reload"});
  EXPECT_EQ(r.code, kExitDaemonError);
  EXPECT_EQ(r.err, "avmctl: -32601 method not found\n");
}

TEST(Cli, UsageErrorsAreExit2AndCallNobody) {
  FakeDaemon d(respond);
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {},
           {"nosuch"},
           {"instance"},
           {"instance", "create"},
           {"instance", "create", "a", "b"},
           {"instance", "create", "vm1", "--vectors", "many"},
           {"device", "create", "n0", "--mtu", "-1"},
           {"device", "create", "n0", "--backend", "magic"},
           {"device", "create", "n0", "--type", "vnet"},
           {"device", "attach", "n0"},
           {"link", "n0"},
           {"link", "n0", "sideways"},
           {"--timeout", "0", "ping"},
           {"ping", "--bogus"},
       }) {
    const auto r = avmctl(d.path(), args);
    EXPECT_EQ(r.code, kExitUsage) << json(args).dump();
    EXPECT_FALSE(r.err.empty()) << json(args).dump();
  }
  EXPECT_TRUE(d.requests().empty());
  const auto help = avmctl(d.path(), {"--help"});
  EXPECT_EQ(help.code, kExitOk);
  EXPECT_NE(help.out.find("qemu-args"), std::string::npos);
}

// --fields prints the daemon's field tables, from which the create
// commands' options come: each field (but the name) is an option.
TEST(Cli, FieldsAreTheCreateOptions) {
  FakeDaemon d(respond);
  const auto r = avmctl(d.path(), {"--fields"});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  const json tables = json::parse(r.out);
  EXPECT_TRUE(d.requests().empty());
  for (const char* object : {"instance", "device"}) {
    const auto help = avmctl(d.path(), {object, "create", "--help"});
    for (const json& f : tables.at(object)) {
      std::string flag = "--" + f.at("name").get<std::string>();
      std::replace(flag.begin(), flag.end(), '_', '-');
      if (flag == "--name") {
        continue;
      }
      if (flag == "--socket") {
        flag = "--socket-path";
      }
      EXPECT_NE(help.out.find(flag), std::string::npos) << object << " create lacks " << flag;
    }
  }
}

TEST(Cli, UnreachableIsExit3) {
  auto r = avmctl("/nonexistent/control.sock", {"ping"});
  EXPECT_EQ(r.code, kExitUnreachable);
  EXPECT_EQ(r.err,
            "avmctl: cannot connect to the daemon: /nonexistent/control.sock: No such file or "
            "directory\n");
  for (const char* reply : {"", "garbage\n", "hang"}) {
    FakeDaemon d([&](const json&) { return std::string(reply); });
    r = avmctl(d.path(), {"--timeout", "0.3", "ping"});
    EXPECT_EQ(r.code, kExitUnreachable) << reply;
    EXPECT_TRUE(r.err.starts_with("avmctl: ")) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

}  // namespace
}  // namespace avm::avmctl
