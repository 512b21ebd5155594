// SPDX-License-Identifier: GPL-2.0
// An instance in-process with a venet device whose TAP is created in a
// network namespace of the test's own, the ivshmem test client as QEMU
// and the software guest as the guest kernel: the device shows up, the
// guest's interrupts arrive on its vector-0 eventfd, set_link() moves the
// host link, stop() resets the bridge, a guest that leaves makes the host
// restart with a new epoch, devices attach and detach at run time and
// need a free vector.  Nothing is sent on the TAP.
#include <gtest/gtest.h>
#include <linux/vbus.h>
#include <linux/vbus_venet.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "daemon/instance.h"
#include "daemon/tap_netns.h"
#include "daemon/venet_option.h"
#include "ivshmem/client.h"
#include "lib/unique_fd.h"
#include "testing/soft_guest.h"

namespace avm {
namespace {

constexpr int kTimeoutMs = 10000;

bool sh(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;  // NOLINT(concurrency-mt-unsafe)
}

uint32_t load(const uint32_t& v) {
  // Acquire: the host's release store of host_state / its epoch before it.
  return std::atomic_ref<const uint32_t>(v).load(std::memory_order_acquire);
}

class InstanceVenetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/avm-dv-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ns_ = "avm-ut-" + std::to_string(::getpid());
    ASSERT_TRUE(sh("ip netns add " + ns_));
    ns_made_ = true;
    config_.socket_path = dir_ + "/d.sock";
    config_.region_size = uint64_t{4} << 20;
    config_.vectors = 4;
    auto v = parse_venet_option("tap=avmut0,mac=02:11:22:33:44:55,mtu=9000,netns=" + ns_);
    ASSERT_TRUE(v) << v.error().message;
    venet_ = *v;
  }
  // A venet device on a TAP named @tap in the test's namespace.
  std::unique_ptr<VenetDevice> make_dev(const std::string& tap) {
    auto t = open_tap_in_netns(tap, ns_);
    EXPECT_TRUE(t) << t.error().message;
    VenetConfig c = to_venet_config(venet_);
    c.tap_name = tap;
    auto d = VenetDevice::create(c, std::move(*t));
    EXPECT_TRUE(d) << d.error().message;
    return std::move(*d);
  }
  void TearDown() override {
    if (ns_made_) {
      sh("ip netns del " + ns_);
    }
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::string ns_;
  bool ns_made_ = false;
  InstanceConfig config_;
  DeviceSpec venet_;
};

TEST_F(InstanceVenetTest, GuestSeesTheDeviceAndTheHostLink) {
  Instance d(config_);
  auto started = d.start();
  ASSERT_TRUE(started) << started.error().message;
  ASSERT_TRUE(d.attach("net0", make_dev("avmut0")));
  // The TAP lives in the namespace, not in ours.
  EXPECT_TRUE(sh("ip -n " + ns_ + " link show avmut0"));
  EXPECT_FALSE(sh("ip link show avmut0"));

  auto c = ivshmem::Client::connect(config_.socket_path);
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE(c->handshake(config_.vectors, kTimeoutMs));
  auto region = c->map_region();
  ASSERT_TRUE(region) << region.error().message;
  const EventFd* irq = c->vector(c->id(), VBUS_EVQ_VECTOR);
  ASSERT_NE(irq, nullptr);
  SoftGuest g(
      region->span(), [&c](uint32_t v) { (void)c->ring(ivshmem::kHostPeerId, v); }, irq);
  auto hs = g.handshake(kTimeoutMs);
  ASSERT_TRUE(hs) << hs.error().message;

  auto devs = g.devices();
  ASSERT_TRUE(devs) << devs.error().message;
  ASSERT_EQ(devs->size(), 1U);
  const vbus_dev_desc desc = devs->front();
  EXPECT_EQ(desc.type, uint32_t{VBUS_DEV_TYPE_VENET});
  EXPECT_NE(desc.doorbell_vector, 0U);
  EXPECT_LT(desc.doorbell_vector, config_.vectors);
  auto dev = g.open(desc.id);
  ASSERT_TRUE(dev) << dev.error().message;
  auto cfg_bytes = (*dev)->read_config();
  ASSERT_GE(cfg_bytes.size(), sizeof(vbus_venet_config));
  vbus_venet_config cfg{};
  std::memcpy(&cfg, cfg_bytes.data(), sizeof cfg);
  EXPECT_EQ(std::memcmp(cfg.mac, venet_.mac->data(), 6), 0);
  EXPECT_EQ(cfg.mtu, 9000);
  EXPECT_EQ(cfg.link, VENET_LINK_UP);

  // Link down, announced with DEV_CONFIG; up again.
  const auto is_config = [&](const GuestEvent& e) {
    return e.type == VBUS_EV_DEV_CONFIG && e.dev_id == desc.id;
  };
  for (bool up : {false, true}) {
    ASSERT_TRUE(d.set_link("net0", up));
    ASSERT_TRUE(g.wait_event(is_config, kTimeoutMs)) << "no DEV_CONFIG after link " << up;
    std::memcpy(&cfg, (*dev)->read_config().data(), sizeof cfg);
    EXPECT_EQ(cfg.link, up ? VENET_LINK_UP : 0);
  }
  const InstanceInfo info = d.info();
  EXPECT_EQ(info.state, InstanceState::kReady);
  ASSERT_EQ(info.devices.size(), 1U);
  EXPECT_TRUE(info.devices[0].open);
  EXPECT_EQ(info.devices[0].tap, "avmut0");

  // stop() takes the link down and interrupts.
  irq->consume();
  d.stop();
  EXPECT_TRUE(irq->wait(kTimeoutMs));
  const auto* hdr = reinterpret_cast<const vbus_bridge_header*>(region->span().data());  // NOLINT
  EXPECT_EQ(load(hdr->host_state), uint32_t{VBUS_STATE_RESET});
  EXPECT_TRUE(g.host_left());
}

TEST_F(InstanceVenetTest, AGuestThatLeavesMakesTheHostRestart) {
  Instance d(config_);
  ASSERT_TRUE(d.start());
  ASSERT_TRUE(d.attach("net0", make_dev("avmut0")));
  auto c = ivshmem::Client::connect(config_.socket_path);
  ASSERT_TRUE(c) << c.error().message;
  ASSERT_TRUE(c->handshake(config_.vectors, kTimeoutMs));
  auto region = c->map_region();
  ASSERT_TRUE(region);
  SoftGuest g(
      region->span(), [&c](uint32_t v) { (void)c->ring(ivshmem::kHostPeerId, v); },
      c->vector(c->id(), VBUS_EVQ_VECTOR));
  ASSERT_TRUE(g.handshake(kTimeoutMs));
  auto dev = g.open(g.devices()->front().id);
  ASSERT_TRUE(dev) << dev.error().message;
  const auto* hdr = reinterpret_cast<const vbus_bridge_header*>(region->span().data());  // NOLINT
  const uint32_t epoch = load(hdr->host_epoch);
  EXPECT_EQ(load(hdr->host_state), uint32_t{VBUS_STATE_RUN});

  c->close();  // QEMU went away
  // The host stores the new epoch first, then READY (release).
  for (int i = 0; i < kTimeoutMs && load(hdr->host_state) != VBUS_STATE_READY; i++) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(load(hdr->host_epoch), epoch + 1);
  EXPECT_EQ(load(hdr->host_state), uint32_t{VBUS_STATE_READY});

  // A new QEMU process gets the region and can start over.
  auto c2 = ivshmem::Client::connect(config_.socket_path);
  ASSERT_TRUE(c2) << c2.error().message;
  ASSERT_TRUE(c2->handshake(config_.vectors, kTimeoutMs));
  auto region2 = c2->map_region();
  ASSERT_TRUE(region2);
  SoftGuest g2(
      region2->span(), [&c2](uint32_t v) { (void)c2->ring(ivshmem::kHostPeerId, v); },
      c2->vector(c2->id(), VBUS_EVQ_VECTOR));
  auto hs = g2.handshake(kTimeoutMs);
  ASSERT_TRUE(hs) << hs.error().message;
  EXPECT_TRUE(g2.open(g2.devices()->front().id));
}

TEST_F(InstanceVenetTest, DevicesNeedAFreeVectorAndUniqueNames) {
  config_.vectors = 3;                       // the bridge's and two for devices
  config_.region_size = uint64_t{16} << 20;  // room for both devices' rings
  Instance d(config_);
  ASSERT_TRUE(d.start());
  ASSERT_TRUE(d.attach("a", make_dev("avmut-a")));
  EXPECT_EQ(d.attach("a", make_dev("avmut-a2")).error().code, EEXIST);
  // The refused device's TAP is gone again.
  EXPECT_FALSE(sh("ip -n " + ns_ + " link show avmut-a2"));
  ASSERT_TRUE(d.attach("b", make_dev("avmut-b")));
  EXPECT_EQ(d.free_vectors(), 0U);
  EXPECT_EQ(d.attach("c", make_dev("avmut-c")).error().code, ENOSPC);
  EXPECT_FALSE(sh("ip -n " + ns_ + " link show avmut-c"));
  // A device never opened is freed at once: its vector and TAP with it.
  ASSERT_TRUE(d.detach("a"));
  EXPECT_FALSE(d.has_device("a"));
  EXPECT_FALSE(sh("ip -n " + ns_ + " link show avmut-a"));
  EXPECT_EQ(d.free_vectors(), 1U);
  ASSERT_TRUE(d.attach("c", make_dev("avmut-c")));
  EXPECT_EQ(d.info().devices.size(), 2U);
}

}  // namespace
}  // namespace avm
