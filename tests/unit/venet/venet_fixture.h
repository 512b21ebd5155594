// SPDX-License-Identifier: GPL-2.0
// A bridge runtime with venet devices whose taps live in a per-test
// network namespace, a software guest driving them, and a raw AF_PACKET
// socket on each tap inside the namespace (the "wire").
#pragma once

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>

#include "bridge_fixture.h"
#include "netns.h"
#include "testing/guest_net.h"
#include "venet/venet_device.h"

namespace avm::test {

class VenetFixture : public BridgeFixture {
 protected:
  struct Port {
    uint32_t id = 0;
    VenetDevice* dev = nullptr;  // owned by the runtime
    UniqueFd wire;               // AF_PACKET socket on the tap, in the namespace
    int ifindex = 0;
    std::unique_ptr<GuestNet> net;
  };

  void SetUp() override {
    region_size_ = uint64_t{8} << 20;  // two devices of 2 x 256 x 7.5 KiB
    ns_ = std::make_unique<NetNs>();
    ASSERT_TRUE(ns_->ok()) << "ip netns add failed";
    BridgeFixture::SetUp();
  }
  void TearDown() override {
    ports_.clear();
    BridgeFixture::TearDown();  // the runtime (and the devices) go first
    ns_.reset();                // then the namespace, even after a failure
  }

  // Creates tap @tap in the namespace (up), a venet device on it, adds it
  // to the runtime; with @vnet_wire the wire socket gets PACKET_VNET_HDR.
  Port& add_port(const std::string& tap, VenetConfig cfg = {}, bool vnet_wire = false) {
    Port& p = ports_.emplace_back();
    std::optional<Tap> t;
    EXPECT_TRUE(ns_->run([&] {
      auto r = Tap::open(tap);
      EXPECT_TRUE(r) << r.error().message;
      if (r) {
        t.emplace(std::move(*r));
      }
      p.ifindex = static_cast<int>(::if_nametoindex(tap.c_str()));
      p.wire.reset(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, htons(ETH_P_ALL)));
    }));
    EXPECT_TRUE(t.has_value());
    EXPECT_TRUE(p.wire.valid());
    EXPECT_TRUE(ns_->ip("link set " + tap + " up"));
    if (vnet_wire) {
      int on = 1;
      EXPECT_EQ(::setsockopt(p.wire.get(), SOL_PACKET, PACKET_VNET_HDR, &on, sizeof on), 0);
    }
    sockaddr_ll sll{};
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = p.ifindex;
    EXPECT_EQ(::bind(p.wire.get(), reinterpret_cast<sockaddr*>(&sll), sizeof sll), 0);
    if (!t) {
      return p;
    }
    cfg.tap_name = tap;
    auto dev = VenetDevice::create(cfg, std::move(*t));
    EXPECT_TRUE(dev) << dev.error().message;
    p.dev = dev->get();
    p.dev->bind_region(rt_->layout(), *region_);  // backend kernel / auto
    on_loop([&] {
      auto id = rt_->add_device(std::move(*dev));
      EXPECT_TRUE(id) << id.error().message;
      p.id = id.value_or(0);
    });
    return p;
  }

  // Guest side: handshake (once), open, negotiate @wanted, link up, refill.
  void open_port(Port& p, uint64_t wanted = kVenetAllFeatures) {
    if (header().guest_state != VBUS_STATE_RUN || guest_->host_left()) {
      ASSERT_TRUE(guest_->handshake());
    }
    auto dev = guest_->open(p.id);
    ASSERT_TRUE(dev) << dev.error().message;
    p.net = std::make_unique<GuestNet>(*guest_, std::move(*dev));
    granted_ = p.net->negotiate(wanted);
    ASSERT_TRUE(p.net->set_link(true));
    p.net->refill();
  }

  // Reads one frame from the wire (skipping what the kernel itself sends,
  // e.g. IPv6 router solicitations: only frames with @ethertype count).
  std::optional<std::vector<uint8_t>> wire_read(Port& p, uint16_t ethertype, int timeout_ms = 5000,
                                                std::vector<uint8_t>* vnet = nullptr) {
    std::vector<uint8_t> buf(70000);
    for (int waited = 0; waited < timeout_ms; waited += 10) {
      pollfd pfd{p.wire.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 10) <= 0) {
        continue;
      }
      const ssize_t n = ::recv(p.wire.get(), buf.data(), buf.size(), 0);
      if (n <= 0) {
        continue;
      }
      const size_t skip = vnet != nullptr ? 10 : 0;  // virtio_net_hdr
      if (static_cast<size_t>(n) < skip + 14) {
        continue;
      }
      const uint16_t type = static_cast<uint16_t>(buf[skip + 12] << 8 | buf[skip + 13]);
      if (type != ethertype) {
        continue;
      }
      if (vnet != nullptr) {
        vnet->assign(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(skip));
      }
      return std::vector<uint8_t>(buf.begin() + static_cast<ptrdiff_t>(skip), buf.begin() + n);
    }
    return std::nullopt;
  }

  // Sends @frame out of the tap (the host stack "transmits" to our fd).
  bool wire_send(Port& p, const std::vector<uint8_t>& frame) {
    return ::send(p.wire.get(), frame.data(), frame.size(), 0) ==
           static_cast<ssize_t>(frame.size());
  }

  // Waits for a received packet on @p, servicing events meanwhile.
  std::optional<RxPacket> guest_receive(Port& p, int timeout_ms = 5000) {
    std::optional<RxPacket> got;
    eventually([&] {
      (void)guest_->poll_events();
      got = p.net->receive();
      return got.has_value();
    });
    (void)timeout_ms;
    return got;
  }

  static std::vector<uint8_t> frame(uint16_t ethertype, size_t payload, uint8_t seed) {
    std::vector<uint8_t> f(14 + payload);
    const uint8_t dst[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const uint8_t src[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, seed};
    std::memcpy(f.data(), dst, 6);
    std::memcpy(f.data() + 6, src, 6);
    f[12] = static_cast<uint8_t>(ethertype >> 8);
    f[13] = static_cast<uint8_t>(ethertype);
    for (size_t i = 0; i < payload; i++) {
      f[14 + i] = static_cast<uint8_t>(seed + i * 7);
    }
    return f;
  }

  VenetStats stats(const Port& p) {
    VenetStats s;
    on_loop([&] { s = p.dev->stats(); });
    return s;
  }

  static constexpr uint16_t kTestType = 0x88b5;  // IEEE local experimental
  std::unique_ptr<NetNs> ns_;
  std::deque<Port> ports_;
  uint64_t granted_ = 0;
};

}  // namespace avm::test
