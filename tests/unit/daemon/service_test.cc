// SPDX-License-Identifier: GPL-2.0
// avm::Service in-process, driven through its JSON-RPC dispatcher as a
// client would: names, limits, read-only config objects, TAPs that cannot
// be created, nothing half-applied, state.json across a restart.  TAPs
// are created in a network namespace of the test's own.
#include "daemon/service.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "venet/kernel_backend.h"

namespace avm {
namespace {

using rpc::Json;

bool sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;  // NOLINT(concurrency-mt-unsafe)
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/avm-svc-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ns_ = "avm-svc-" + std::to_string(::getpid());
    ASSERT_TRUE(sh("ip netns add " + ns_));
    opts_.control = false;
    opts_.config.daemon.control_socket = dir_ + "/control.sock";
    opts_.config.daemon.state_dir = dir_ + "/state";
    opts_.config.daemon.max_instances = 3;
    opts_.config.daemon.max_devices = 3;
    opts_.config.daemon.max_region_size = uint64_t{8} << 20;
  }
  void TearDown() override {
    svc_.reset();
    sh("ip netns del " + ns_);
    std::filesystem::remove_all(dir_);
  }
  void start() {
    svc_ = std::make_unique<Service>(opts_);
    auto ok = svc_->start();
    ASSERT_TRUE(ok) << ok.error().message;
  }
  // The whole response object of one call.
  Json call(const std::string& method, const Json& params = Json::object()) {
    Json req = {{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", params}};
    auto out = svc_->dispatcher().handle_line(req.dump(), rpc::Caller{1, 0, 0});
    EXPECT_TRUE(out);
    return Json::parse(*out);
  }
  Json ok(const std::string& method, const Json& params = Json::object()) {
    Json r = call(method, params);
    EXPECT_TRUE(r.contains("result")) << method << " " << params << ": " << r;
    return r["result"];
  }
  // The error code of a call that must fail.
  int code(const std::string& method, const Json& params = Json::object()) {
    Json r = call(method, params);
    EXPECT_TRUE(r.contains("error")) << method << " " << params << ": " << r;
    return r["error"].value("code", 0);
  }
  bool tap_exists(const std::string& tap) { return sh("ip -n " + ns_ + " link show " + tap); }
  Json dev(const std::string& name, const std::string& tap, const Json& extra = Json::object()) {
    Json j = {{"name", name}, {"tap", tap}, {"netns", ns_}};
    j.update(extra);
    return j;
  }

  std::string dir_;
  std::string ns_;
  ServiceOptions opts_;
  std::unique_ptr<Service> svc_;
};

TEST_F(ServiceTest, CreateListShowDelete) {
  start();
  Json i = ok("instance.create", {{"name", "vm1"}, {"region_size", "4M"}, {"vectors", 3}});
  EXPECT_EQ(i["socket"], dir_ + "/vm1.sock");
  EXPECT_EQ(i["region_size"], 4U << 20);
  EXPECT_EQ(i["state"], "waiting");
  EXPECT_TRUE(i["guest"].is_null());
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/vm1.sock"));
  Json d = ok("device.create", dev("n0", "avmsvc0", {{"instance", "vm1"}, {"mtu", 9000}}));
  EXPECT_EQ(d["instance"], "vm1");
  EXPECT_EQ(d["mtu"], 9000);
  EXPECT_EQ(d["backend"], "user");
  EXPECT_TRUE(tap_exists("avmsvc0"));
  EXPECT_EQ(ok("instance.show", {{"name", "vm1"}})["devices"], Json::array({"n0"}));
  EXPECT_TRUE(ok("device.show", {{"name", "n0"}})["stats"].contains("tx_packets"));
  EXPECT_EQ(ok("instance.list")["instances"].size(), 1U);
  EXPECT_EQ(ok("device.list", {{"instance", "vm1"}})["devices"].size(), 1U);
  EXPECT_TRUE(ok("stats")["instances"]["vm1"]["devices"].contains("n0"));
  Json link = ok("device.set_link", {{"name", "n0"}, {"up", false}});
  EXPECT_EQ(link["link"], "down");
  // Detach removes the TAP, attach creates it again.
  EXPECT_TRUE(ok("device.detach", {{"name", "n0"}})["instance"].is_null());
  EXPECT_FALSE(tap_exists("avmsvc0"));
  EXPECT_EQ(ok("device.attach", {{"name", "n0"}, {"instance", "vm1"}})["instance"], "vm1");
  EXPECT_TRUE(tap_exists("avmsvc0"));
  // Deleting the instance leaves the device, detached.
  EXPECT_EQ(ok("instance.delete", {{"name", "vm1"}}), Json::object());
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/vm1.sock"));
  EXPECT_TRUE(ok("device.show", {{"name", "n0"}})["instance"].is_null());
  EXPECT_FALSE(tap_exists("avmsvc0"));
  EXPECT_EQ(ok("device.delete", {{"name", "n0"}}), Json::object());
  EXPECT_TRUE(ok("device.list")["devices"].empty());
}

TEST_F(ServiceTest, DuplicateAndMissingNames) {
  start();
  ok("instance.create", {{"name", "vm1"}});
  EXPECT_EQ(code("instance.create", {{"name", "vm1"}}), rpc::kAlreadyExists);
  Json r = call("instance.show", {{"name", "nope"}});
  EXPECT_EQ(r["error"]["code"], rpc::kNotFound);
  EXPECT_EQ(r["error"]["data"], (Json{{"kind", "instance"}, {"name", "nope"}}));
  EXPECT_EQ(code("instance.delete", {{"name", "nope"}}), rpc::kNotFound);
  EXPECT_EQ(code("device.create", dev("n0", "avmsvc0", {{"instance", "nope"}})), rpc::kNotFound);
  EXPECT_EQ(code("device.show", {{"name", "n0"}}), rpc::kNotFound);
  ok("device.create", dev("n0", "avmsvc0"));
  EXPECT_EQ(code("device.create", dev("n0", "avmsvc1")), rpc::kAlreadyExists);
  EXPECT_EQ(code("device.create", dev("n1", "avmsvc0")), rpc::kAlreadyExists);  // same TAP
  EXPECT_EQ(code("device.attach", {{"name", "n0"}, {"instance", "nope"}}), rpc::kNotFound);
  EXPECT_EQ(code("device.detach", {{"name", "n0"}}), rpc::kBusy);  // not attached
  EXPECT_EQ(code("stats", {{"instance", "nope"}}), rpc::kNotFound);
  EXPECT_EQ(code("instance.qemu_args", {{"name", "nope"}}), rpc::kNotFound);
}

TEST_F(ServiceTest, WrongParams) {
  start();
  const std::pair<const char*, Json> bad[] = {
      {"instance.create", Json::object()},
      {"instance.create", {{"name", 5}}},
      {"instance.create", {{"name", "Caps"}}},
      {"instance.create", {{"name", "a"}, {"region_size", "3M"}}},
      {"instance.create", {{"name", "a"}, {"region_size", -1}}},
      {"instance.create", {{"name", "a"}, {"vectors", 0}}},
      {"instance.create", {{"name", "a"}, {"vectors", "4"}}},
      {"instance.create", {{"name", "a"}, {"colour", "red"}}},
      {"device.create", {{"name", "d"}, {"mtu", 10}}},
      {"device.create", {{"name", "d"}, {"mac", "nope"}}},
      {"device.create", {{"name", "d"}, {"type", "disk"}}},
      {"device.create", {{"name", "d"}, {"link", "sideways"}}},
      {"device.create", {{"name", "d"}, {"queues", 2}}},
      {"device.set_link", {{"name", "d"}}},
      {"device.set_link", {{"name", "d"}, {"up", "yes"}}},
      {"instance.delete", {{"name", "a"}, {"force", 1}}},
  };
  for (const auto& [method, params] : bad) {
    EXPECT_EQ(code(method, params), rpc::kInvalidParams) << method << " " << params;
  }
  EXPECT_EQ(call("instance.create", {{"name", 5}})["error"]["data"]["param"], "name");
  EXPECT_TRUE(ok("instance.list")["instances"].empty());
  EXPECT_TRUE(ok("device.list")["devices"].empty());
}

TEST_F(ServiceTest, Limits) {
  start();
  Json r = call("instance.create", {{"name", "big"}, {"region_size", "16M"}});
  EXPECT_EQ(r["error"]["code"], rpc::kLimitReached);
  EXPECT_EQ(r["error"]["data"]["limit"], "region_size");
  for (const char* n : {"a", "b", "c"}) {
    ok("instance.create", {{"name", n}, {"region_size", "4M"}, {"vectors", 2}});
  }
  r = call("instance.create", {{"name", "d"}, {"region_size", "1M"}});
  EXPECT_EQ(r["error"]["data"]["limit"], "instances");
  // A region too small for the device's rings is a region_size limit.
  ok("instance.delete", {{"name", "c"}});
  ok("instance.create", {{"name", "c"}, {"region_size", "1M"}, {"vectors", 2}});
  r = call("device.create", dev("n9", "avmsvc9", {{"instance", "c"}}));
  EXPECT_EQ(r["error"]["data"]["limit"], "region_size");
  EXPECT_FALSE(tap_exists("avmsvc9"));
  // One vector for one device on a 2-vector instance.
  ok("device.create", dev("n0", "avmsvc0", {{"instance", "a"}}));
  r = call("device.create", dev("n1", "avmsvc1", {{"instance", "a"}}));
  EXPECT_EQ(r["error"]["code"], rpc::kLimitReached);
  EXPECT_EQ(r["error"]["data"]["limit"], "vectors");
  EXPECT_FALSE(tap_exists("avmsvc1"));
  ok("device.create", dev("n1", "avmsvc1"));
  r = call("device.attach", {{"name", "n1"}, {"instance", "a"}});
  EXPECT_EQ(r["error"]["data"]["limit"], "vectors");
  EXPECT_TRUE(ok("device.show", {{"name", "n1"}})["instance"].is_null());
  EXPECT_FALSE(tap_exists("avmsvc1"));
  ok("device.create", dev("n2", "avmsvc2"));
  r = call("device.create", dev("n3", "avmsvc3"));
  EXPECT_EQ(r["error"]["data"]["limit"], "devices");
}

TEST_F(ServiceTest, ATapThatCannotBeCreatedChangesNothing) {
  start();
  ok("instance.create", {{"name", "vm1"}});
  // "lo" exists in the namespace and is no TAP.
  Json r = call("device.create", dev("n0", "lo", {{"instance", "vm1"}}));
  EXPECT_EQ(r["error"]["code"], rpc::kHostResource);
  EXPECT_TRUE(r["error"]["data"].contains("errno"));
  EXPECT_EQ(
      code("device.create", {{"name", "n1"}, {"netns", "avm-no-such-ns"}, {"instance", "vm1"}}),
      rpc::kHostResource);
  // A bridge that does not exist: the TAP made for it is removed again.
  EXPECT_EQ(code("device.create", dev("n2", "avmsvc2", {{"instance", "vm1"}, {"bridge", "nobr0"}})),
            rpc::kHostResource);
  EXPECT_FALSE(tap_exists("avmsvc2"));
  EXPECT_TRUE(ok("device.list")["devices"].empty());
  EXPECT_TRUE(ok("instance.show", {{"name", "vm1"}})["devices"].empty());
  // A socket path that is taken: no instance.
  std::ofstream(dir_ + "/file") << "x";
  EXPECT_EQ(code("instance.create", {{"name", "vm2"}, {"socket", dir_ + "/file"}}),
            rpc::kHostResource);
  EXPECT_EQ(code("instance.create", {{"name", "vm3"}, {"socket", dir_ + "/vm1.sock"}}),
            rpc::kHostResource);
  EXPECT_EQ(ok("instance.list")["instances"].size(), 1U);
  // The failures left state.json with vm1 only.
  std::ifstream in(dir_ + "/state/state.json");
  Json saved = Json::parse(in);
  EXPECT_EQ(saved["instances"].size(), 1U);
  EXPECT_TRUE(saved["devices"].empty());
}

// This host has no vbus_host.ko: kernel is a clear error that leaves
// nothing behind, auto falls back to user and says why.
TEST_F(ServiceTest, BackendKernelWithoutTheModuleIsRefusedAndAutoFallsBack) {
  ASSERT_FALSE(KernelBackend::available()) << "test assumes no /dev/alacrityvm-host";
  start();
  ok("instance.create", {{"name", "vm1"}, {"region_size", "8M"}});
  Json r =
      call("device.create", dev("k0", "avmsvck0", {{"instance", "vm1"}, {"backend", "kernel"}}));
  ASSERT_TRUE(r.contains("error")) << r;
  EXPECT_EQ(r["error"]["code"], -32004);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("vbus_host.ko is not loaded"),
            std::string::npos)
      << r;
  EXPECT_EQ(r["error"]["data"]["errno"], ENODEV);
  EXPECT_FALSE(tap_exists("avmsvck0"));
  EXPECT_EQ(code("device.show", {{"name", "k0"}}), -32000);
  // Created detached, attaching it is refused the same way.
  ok("device.create", dev("k1", "avmsvck1", {{"backend", "kernel"}}));
  EXPECT_EQ(code("device.attach", {{"name", "k1"}, {"instance", "vm1"}}), -32004);
  Json k1 = ok("device.show", {{"name", "k1"}});
  EXPECT_TRUE(k1["instance"].is_null());
  EXPECT_EQ(k1["backend"], "kernel");
  EXPECT_FALSE(tap_exists("avmsvck1"));

  Json a = ok("device.create", dev("a0", "avmsvca0", {{"instance", "vm1"}, {"backend", "auto"}}));
  EXPECT_EQ(a["backend"], "user");
  EXPECT_EQ(a["backend_requested"], "auto");
  EXPECT_NE(a.value("backend_note", "").find("/dev/alacrityvm-host"), std::string::npos) << a;
  EXPECT_TRUE(tap_exists("avmsvca0"));
  Json u = ok("device.create", dev("u0", "avmsvcu0", {{"instance", "vm1"}, {"backend", "user"}}));
  EXPECT_EQ(u["backend"], "user");
  EXPECT_FALSE(u.contains("backend_note"));
  EXPECT_EQ(code("device.create", dev("x0", "avmsvcx0", {{"backend", "vhost"}})), -32602);
}

TEST_F(ServiceTest, ApiDevicesTakeTheVenetDefaultsAndExportEveryCounter) {
  DeviceSpec d;
  EXPECT_EQ(d.ring_size, VenetConfig{}.ring_size);
  EXPECT_EQ(d.buf_size, VenetConfig{}.buf_size);
  start();
  ok("instance.create", {{"name", "vm1"}, {"region_size", "8M"}});
  ok("device.create", dev("n0", "avmsvcn0", {{"instance", "vm1"}}));
  const Json st = ok("device.show", {{"name", "n0"}})["stats"];
  for (const char* k : {"polls_skipped_busy", "tx_arm_deferred", "stream_ticks"}) {
    EXPECT_TRUE(st.contains(k)) << k;
  }
}

// ring_size and buf_size (once only --venet could set them) reach the
// device: two pools of 4096 x 7680 bytes do not fit a 4 MiB region, 64 x
// 2048 do, and the spec keeps them (state.json, device.show's source).
TEST_F(ServiceTest, TuningFieldsReachTheDevice) {
  start();
  ok("instance.create", {{"name", "vm1"}, {"region_size", "4M"}});
  const Json big =
      call("device.create", dev("b0", "avmsvcb0", {{"instance", "vm1"}, {"ring_size", 4096}}));
  ASSERT_TRUE(big.contains("error")) << big;
  EXPECT_EQ(big["error"]["data"]["limit"], "region_size") << big;
  EXPECT_FALSE(tap_exists("avmsvcb0"));
  ok("device.create", dev("s0", "avmsvcs0",
                          {{"instance", "vm1"},
                           {"ring_size", 64},
                           {"buf_size", 2048},
                           {"rx_coalesce_us", 0},
                           {"busy_poll_max_us", 10}}));
  EXPECT_TRUE(tap_exists("avmsvcs0"));
  std::ifstream in(dir_ + "/state/state.json");
  const Json state = Json::parse(in);
  const Json& d = state.at("devices").at(0);
  EXPECT_EQ(d.at("ring_size"), 64);
  EXPECT_EQ(d.at("buf_size"), 2048);
  EXPECT_EQ(d.at("rx_coalesce_us"), 0);
  EXPECT_EQ(d.at("busy_poll_max_us"), 10);
  const Json show = ok("device.show", {{"name", "s0"}});
  EXPECT_EQ(show.at("ring_size"), 64) << show;
  EXPECT_EQ(show.at("buf_size"), 2048) << show;
  EXPECT_EQ(show.at("rx_coalesce_us"), 0) << show;
  EXPECT_EQ(show.at("busy_poll_max_us"), 10) << show;
  EXPECT_EQ(code("device.create", dev("r0", "avmsvcr0", {{"ring_size", 100}})),
            rpc::kInvalidParams);
}

TEST_F(ServiceTest, ConfigObjectsAreReadOnly) {
  InstanceSpec i;
  i.name = "cfg";
  i.vectors = 3;
  i.region_size = uint64_t{8} << 20;  // 256 x 7.5 KiB pools
  i.origin = Origin::kConfig;
  opts_.config.instances.push_back(i);
  DeviceSpec d;
  d.name = "cfgdev";
  d.tap = "avmsvc9";
  d.netns = ns_;
  d.instance = "cfg";
  d.origin = Origin::kConfig;
  opts_.config.devices.push_back(d);
  opts_.config.file = "test.conf";
  start();
  Json r = call("instance.delete", {{"name", "cfg"}});
  EXPECT_EQ(r["error"]["code"], rpc::kReadOnly);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("test.conf"), std::string::npos);
  EXPECT_EQ(code("device.delete", {{"name", "cfgdev"}}), rpc::kReadOnly);
  EXPECT_EQ(code("device.detach", {{"name", "cfgdev"}}), rpc::kReadOnly);
  EXPECT_EQ(ok("device.show", {{"name", "cfgdev"}})["origin"], "config");
  // The API may add its own device to a config instance; it persists.
  ok("device.create", dev("apidev", "avmsvc8", {{"instance", "cfg"}}));
  std::ifstream in(dir_ + "/state/state.json");
  Json saved = Json::parse(in);
  EXPECT_TRUE(saved["instances"].empty());
  ASSERT_EQ(saved["devices"].size(), 1U);
  EXPECT_EQ(saved["devices"][0]["name"], "apidev");
}

TEST_F(ServiceTest, ApiObjectsAreRestoredAfterARestart) {
  start();
  ok("instance.create", {{"name", "vm1"}, {"vectors", 2}});
  ok("device.create", dev("n0", "avmsvc0", {{"instance", "vm1"}, {"mac", "52:54:00:01:02:03"}}));
  ok("device.create", dev("n1", "avmsvc1"));
  ok("device.set_link", {{"name", "n0"}, {"up", false}});
  svc_.reset();
  EXPECT_FALSE(tap_exists("avmsvc0"));
  start();
  Json i = ok("instance.show", {{"name", "vm1"}});
  EXPECT_EQ(i["origin"], "api");
  EXPECT_EQ(i["vectors"], 2);
  Json d = ok("device.show", {{"name", "n0"}});
  EXPECT_EQ(d["instance"], "vm1");
  EXPECT_EQ(d["mac"], "52:54:00:01:02:03");
  EXPECT_EQ(d["link"], "down");
  EXPECT_TRUE(tap_exists("avmsvc0"));
  EXPECT_TRUE(ok("device.show", {{"name", "n1"}})["instance"].is_null());
}

TEST_F(ServiceTest, ACorruptStateFileStopsTheStart) {
  std::filesystem::create_directories(dir_ + "/state");
  std::ofstream(dir_ + "/state/state.json") << "{\"version\": 1, \"instances\": [";
  Service s(opts_);
  auto started = s.start();
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("state.json: corrupt"), std::string::npos)
      << started.error().message;
}

TEST_F(ServiceTest, Generators) {
  start();
  ok("instance.create", {{"name", "vm1"}, {"vectors", 2}});
  Json a = ok("instance.qemu_args", {{"name", "vm1"}})["args"];
  ASSERT_EQ(a.size(), 4U);
  EXPECT_EQ(a[1], "socket,id=avm-vm1,path=" + dir_ + "/vm1.sock");
  EXPECT_EQ(a[3], "ivshmem-doorbell,chardev=avm-vm1,vectors=2");
  const std::string xml = ok("instance.libvirt_xml", {{"name", "vm1"}})["xml"];
  EXPECT_NE(xml.find("<shmem name='avm-vm1'>"), std::string::npos) << xml;
  EXPECT_NE(xml.find("vectors='2'"), std::string::npos) << xml;
}

TEST_F(ServiceTest, ReloadAppliesTheFileAndRefusesABrokenOne) {
  const std::string file = dir_ + "/a.conf";
  std::ofstream(file) << "[[instance]]\nname = \"one\"\n[[instance]]\nname = \"two\"\n";
  auto cfg = load_config(file);
  ASSERT_TRUE(cfg.ok());
  cfg.config.daemon = opts_.config.daemon;
  opts_.config = cfg.config;
  opts_.config_file = true;
  start();
  EXPECT_EQ(ok("instance.list")["instances"].size(), 2U);
  std::ofstream(file) << "[[instance]]\nname = \"one\"\nvectors = 2\n[[instance]]\nname = "
                         "\"three\"\n";
  Json r = ok("daemon.reload");
  EXPECT_EQ(r["added"], Json::array({"three"}));
  EXPECT_EQ(r["removed"], Json::array({"two"}));
  EXPECT_EQ(r["changed"], Json::array({"one"}));
  EXPECT_EQ(ok("instance.show", {{"name", "one"}})["vectors"], 2);
  std::ofstream(file) << "[[instance]]\nname = \"BAD\"\n";
  Json bad = call("daemon.reload");
  EXPECT_EQ(bad["error"]["code"], rpc::kInvalidParams);
  EXPECT_EQ(bad["error"]["data"]["errors"].size(), 1U);
  EXPECT_EQ(ok("instance.list")["instances"].size(), 2U);  // unchanged
}

}  // namespace
}  // namespace avm
