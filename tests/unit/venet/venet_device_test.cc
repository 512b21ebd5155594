// SPDX-License-Identifier: GPL-2.0
#include "venet/venet_device.h"

#include <gtest/gtest.h>

#include "log_capture.h"
#include "venet_fixture.h"

namespace avm::test {
namespace {

using VenetDeviceTest = VenetFixture;

TEST_F(VenetDeviceTest, ConfigAndNegotiation) {
  VenetConfig cfg;
  cfg.mac = {0x52, 0x54, 0x00, 1, 2, 3};
  cfg.mtu = 9000;
  Port& p = add_port("avmt0", cfg);
  ASSERT_NE(p.id, 0U);
  open_port(p, VENET_F_CSUM | VENET_F_HOST_TSO4 | VENET_F_MRG_RXBUF | (uint64_t{1} << 40));
  const vbus_venet_config c = p.net->config();
  EXPECT_EQ(std::vector<uint8_t>(c.mac, c.mac + 6), (std::vector<uint8_t>{0x52, 0x54, 0, 1, 2, 3}));
  EXPECT_EQ(c.mtu, 9000);
  EXPECT_EQ(c.max_queue_pairs, 1);
  EXPECT_EQ(c.link, VENET_LINK_UP);
  EXPECT_EQ(c.host_features, kVenetAllFeatures);
  EXPECT_EQ(granted_, VENET_F_CSUM | VENET_F_HOST_TSO4 | VENET_F_MRG_RXBUF);
  EXPECT_EQ(c.features, granted_);
  // Bad class calls are answered, not fatal.
  auto r = guest_->call(VENET_CALL_NEGOTIATE, p.id, std::vector<uint8_t>{1, 2, 3});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, uint32_t{EINVAL});
  r = guest_->call(VENET_CALL_SET_LINK, p.id, std::vector<uint8_t>{0xff, 0xff});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, uint32_t{EINVAL});
  r = guest_->call(0x1ff, p.id);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, uint32_t{EOPNOTSUPP});
}

TEST_F(VenetDeviceTest, GuestTransmitsComeOutOfTheTapByteExactWithFewerDoorbells) {
  Port& p = add_port("avmt0");
  open_port(p);
  EXPECT_EQ(current_thread_name(), current_thread_name());  // (helper linked)
  constexpr int kPackets = 64;
  std::vector<std::vector<uint8_t>> sent;
  for (int i = 0; i < kPackets; i++) {
    sent.push_back(frame(kTestType, 60 + static_cast<size_t>(i) * 23, static_cast<uint8_t>(i)));
    ASSERT_TRUE(p.net->send(sent.back()));
  }
  for (int i = 0; i < kPackets; i++) {
    auto got = wire_read(p, kTestType);
    ASSERT_TRUE(got) << "packet " << i << " never reached the tap";
    EXPECT_EQ(*got, sent[static_cast<size_t>(i)]) << "packet " << i;
  }
  ASSERT_TRUE(eventually([&] {
    p.net->reclaim_tx();
    return p.net->tx().outstanding() == 0;
  }));
  const VenetStats s = stats(p);
  EXPECT_EQ(s.tx_packets, uint64_t{kPackets});
  EXPECT_EQ(s.tx_errors, 0U);
  // Suppression: the guest only rang when the host's signal was armed.
  EXPECT_EQ(p.net->kicks + p.net->kicks_suppressed, uint64_t{kPackets} + 1);  // + the refill
  EXPECT_LT(p.net->kicks, uint64_t{kPackets});
  // Every doorbell the guest rang reached the host (eventfd counts add up);
  // when the host was busy-polling throughout, that can be none at all.
  EXPECT_TRUE(eventually([&] { return stats(p).doorbells == p.net->kicks; }))
      << "host saw " << stats(p).doorbells << " doorbells, guest rang " << p.net->kicks;
}

TEST_F(VenetDeviceTest, TapFramesArriveInTheGuestIntact) {
  Port& p = add_port("avmt0");
  open_port(p);
  std::vector<std::vector<uint8_t>> sent;
  for (int i = 0; i < 16; i++) {
    sent.push_back(frame(kTestType, 100 + static_cast<size_t>(i) * 61, static_cast<uint8_t>(i)));
    ASSERT_TRUE(wire_send(p, sent.back()));
  }
  for (int i = 0; i < 16; i++) {
    auto got = guest_receive(p);
    ASSERT_TRUE(got) << "frame " << i;
    // The kernel may put its own frames (IPv6 RS, ...) on the link: skip.
    while (got && (got->frame.size() < 14 || got->frame[12] != 0x88 || got->frame[13] != 0xb5)) {
      got = guest_receive(p);
    }
    ASSERT_TRUE(got);
    EXPECT_EQ(got->frame, sent[static_cast<size_t>(i)]);
    EXPECT_EQ(got->hdr.num_buffers, 1);
    EXPECT_EQ(got->buffers, 1U);
    p.net->refill();
  }
  const VenetStats s = stats(p);
  EXPECT_GE(s.rx_packets, 16U);
  EXPECT_GE(s.rx_signals + s.rx_signals_suppressed, 1U);
}

// A TCPv4 frame with IPv4 and TCP headers, @payload bytes of data.
std::vector<uint8_t> tcp_frame(size_t payload) {
  std::vector<uint8_t> f(14 + 20 + 20 + payload, 0);
  const uint8_t mac[12] = {0x52, 0x54, 0, 0, 0, 2, 0x52, 0x54, 0, 0, 0, 1};
  std::memcpy(f.data(), mac, 12);
  f[12] = 0x08;
  uint8_t* ip = f.data() + 14;
  const size_t tot = 40 + payload;
  ip[0] = 0x45;
  ip[2] = static_cast<uint8_t>(tot >> 8);
  ip[3] = static_cast<uint8_t>(tot);
  ip[8] = 64;
  ip[9] = 6;  // TCP
  const uint8_t addrs[8] = {10, 99, 0, 1, 10, 99, 0, 2};
  std::memcpy(ip + 12, addrs, 8);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) {
    sum += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
  }
  while ((sum >> 16) != 0) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  ip[10] = static_cast<uint8_t>(~sum >> 8);
  ip[11] = static_cast<uint8_t>(~sum);
  uint8_t* tcp = ip + 20;
  tcp[0] = 0x30;
  tcp[1] = 0x39;
  tcp[2] = 0x30;
  tcp[3] = 0x3a;
  tcp[12] = 5 << 4;
  tcp[13] = 0x18;  // PSH ACK
  tcp[14] = 0xff;
  tcp[15] = 0xff;
  for (size_t i = 0; i < payload; i++) {
    tcp[20 + i] = static_cast<uint8_t>(i * 13);
  }
  return f;
}

// @f (from tcp_frame) behind the virtio_net_hdr (10 bytes) the wire
// socket takes on send: TCPv4 GSO, MSS 1448, checksum to fill in.
std::vector<uint8_t> with_gso_hdr(const std::vector<uint8_t>& f) {
  vbus_venet_hdr h{};
  h.flags = VENET_HDR_F_NEEDS_CSUM;
  h.gso_type = VENET_HDR_GSO_TCPV4;
  h.hdr_len = 54;
  h.gso_size = 1448;
  h.csum_start = 34;
  h.csum_offset = 16;
  std::vector<uint8_t> out(10 + f.size());
  std::memcpy(out.data(), &h, 10);
  std::memcpy(out.data() + 10, f.data(), f.size());
  return out;
}

TEST_F(VenetDeviceTest, GsoFromTheTapReachesTheGuestAsOneChainedPacket) {
  Port& p = add_port("avmt0", {}, /*vnet_wire=*/true);
  open_port(p);
  ASSERT_NE(granted_ & VENET_F_GUEST_TSO4, 0U);
  ASSERT_NE(granted_ & VENET_F_MRG_RXBUF, 0U);
  const std::vector<uint8_t> f = tcp_frame(20000);
  const std::vector<uint8_t> out = with_gso_hdr(f);
  ASSERT_TRUE(wire_send(p, out));
  std::optional<RxPacket> got;
  for (int i = 0; i < 20; i++) {
    got = guest_receive(p);
    if (!got || (got->frame.size() > 13 && got->frame[12] == 0x08)) {
      break;
    }
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(got->hdr.gso_type & ~VENET_HDR_GSO_ECN, VENET_HDR_GSO_TCPV4);
  EXPECT_EQ(got->hdr.gso_size, 1448);
  EXPECT_EQ(got->hdr.hdr_len, 54);
  EXPECT_EQ(got->hdr.flags & VENET_HDR_F_NEEDS_CSUM, VENET_HDR_F_NEEDS_CSUM);
  EXPECT_EQ(got->hdr.csum_start, 34);
  EXPECT_EQ(got->hdr.csum_offset, 16);
  EXPECT_EQ(got->frame.size(), f.size());
  EXPECT_EQ(std::vector<uint8_t>(got->frame.begin() + 54, got->frame.end()),
            std::vector<uint8_t>(f.begin() + 54, f.end()));
  EXPECT_GT(got->buffers, 1U);
  EXPECT_EQ(got->hdr.num_buffers, got->buffers);
}

TEST_F(VenetDeviceTest, GsoFromTheGuestLeavesTheTapWithItsHeader) {
  Port& p = add_port("avmt0", {}, /*vnet_wire=*/true);
  open_port(p);
  const std::vector<uint8_t> f = tcp_frame(30000);
  vbus_venet_hdr h{};
  h.flags = VENET_HDR_F_NEEDS_CSUM;
  h.gso_type = VENET_HDR_GSO_TCPV4;
  h.hdr_len = 54;
  h.gso_size = 1448;
  h.csum_start = 34;
  h.csum_offset = 16;
  ASSERT_TRUE(p.net->send(f, h));
  std::vector<uint8_t> vnet;
  auto got = wire_read(p, 0x0800, 5000, &vnet);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), f.size());
  EXPECT_EQ(std::vector<uint8_t>(got->begin() + 54, got->end()),
            std::vector<uint8_t>(f.begin() + 54, f.end()));
  vbus_venet_hdr back{};
  std::memcpy(&back, vnet.data(), 10);
  EXPECT_EQ(back.gso_type & ~VENET_HDR_GSO_ECN, VENET_HDR_GSO_TCPV4);
  EXPECT_EQ(back.gso_size, 1448);
  // The I/O thread counts the frame after its write to the TAP returned,
  // which can be after the read above.
  EXPECT_TRUE(eventually([&] { return stats(p).tx_packets == 1U; }));
}

TEST_F(VenetDeviceTest, GsoWithoutTheFeatureIsAnErrorNotAFault) {
  VenetConfig cfg;
  cfg.buf_size = 2048;  // the frame below spans two entries
  Port& p = add_port("avmt0", cfg);
  open_port(p, VENET_F_CSUM | VENET_F_SG);  // no HOST_TSO4
  vbus_venet_hdr h{};
  h.gso_type = VENET_HDR_GSO_TCPV4;
  h.gso_size = 1448;
  ASSERT_TRUE(p.net->send(tcp_frame(3000), h));
  ASSERT_TRUE(eventually([&] {
    p.net->reclaim_tx();
    return p.net->tx_errors == 2;  // both entries of the chain
  }));
  EXPECT_EQ(stats(p).tx_errors, 1U);
  EXPECT_EQ(stats(p).bad_descriptors, 0U);
  // Still serving.
  const auto ok = frame(kTestType, 80, 1);
  ASSERT_TRUE(p.net->send(ok));
  auto got = wire_read(p, kTestType);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, ok);
}

TEST_F(VenetDeviceTest, MalformedDescriptorQuarantinesOnlyThatDevice) {
  Port& a = add_port("avmt0");
  Port& b = add_port("avmt1");
  open_port(a);
  open_port(b);
  // A descriptor whose offset points into another slot's buffer.
  GuestQueue& tx = a.net->tx();
  tx.post(64, 0, 0);
  vbus_ring_desc& d = tx.view().submit()[0];
  d.offset = tx.view().buf_size() * 3;  // not slot 0's buffer
  a.net->kick_if_needed(tx);
  guest_->kick(a.net->dev());
  auto ev = guest_->wait_event(
      [&](const GuestEvent& e) { return e.type == VBUS_EV_DEV_CONFIG && e.dev_id == a.id; });
  ASSERT_TRUE(ev) << "no DEV_CONFIG after the fault";
  EXPECT_EQ(a.net->config().link, 0);
  bool quarantined = false;
  on_loop([&] { quarantined = rt_->device_quarantined(a.id); });
  EXPECT_TRUE(quarantined);
  const VenetStats sa = stats(a);
  EXPECT_EQ(sa.bad_descriptors, 1U);
  EXPECT_EQ(sa.resets, 1U);
  EXPECT_FALSE(a.dev->serving());
  // The other device is untouched.
  const auto f = frame(kTestType, 200, 9);
  ASSERT_TRUE(b.net->send(f));
  auto got = wire_read(b, kTestType);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, f);
  EXPECT_EQ(stats(b).bad_descriptors, 0U);
  // The guest reopening the device brings it back.
  a.net.reset();
  open_port(a);
  EXPECT_EQ(a.net->config().link, VENET_LINK_UP);
  ASSERT_TRUE(a.net->send(f));
  EXPECT_TRUE(wire_read(a, kTestType).has_value());
}

// The capture is a member: installed before SetUp() starts the loop.
class VenetLogTest : public VenetFixture {
 protected:
  LogCapture log_;
};

TEST_F(VenetLogTest, AResetStormLogsABoundedNumberOfLinesNamingTheInstance) {
  on_loop([&] { rt_->set_log_name("vm3"); });
  const size_t unnamed = log_.lines().size();  // SetUp()'s start, before the name
  Port& a = add_port("avmt0");
  open_port(a);
  // A guest that faults and re-opens at will.
  fault_storm(a.id, kLogStorm);
  ASSERT_TRUE(eventually([&] { return stats(a).resets == uint64_t{kLogStorm}; }))
      << stats(a).resets;
  const std::string line = "vm3: venet " + std::to_string(a.id) +
                           " (avmt0): quarantined until the guest opens it again: storm";
  expect_throttled(log_.lines("venet " + std::to_string(a.id) + " (avmt0): quarantined"), line);
  // Every line since names the instance: the bridge's (its quarantine
  // lines throttled alike) and venet's, the open too.
  const auto all = log_.lines();
  for (size_t i = unnamed; i < all.size(); i++) {
    EXPECT_EQ(all[i].rfind("vm3: ", 0), 0U) << all[i];
  }
  expect_throttled(
      log_.lines("vm3: bridge: device " + std::to_string(a.id) + " (venet:avmt0) quarantined"),
      "vm3: bridge: device " + std::to_string(a.id) + " (venet:avmt0) quarantined: storm");
  EXPECT_EQ(log_.lines("vm3: venet " + std::to_string(a.id) + ": open on tap avmt0").size(), 1U);
}

TEST_F(VenetDeviceTest, LinkDownAndUpShowInConfigWithEvents) {
  Port& p = add_port("avmt0");
  open_port(p);
  on_loop([&] { ASSERT_TRUE(rt_->set_link(p.id, false)); });
  auto ev = guest_->wait_event(
      [&](const GuestEvent& e) { return e.type == VBUS_EV_DEV_CONFIG && e.dev_id == p.id; });
  ASSERT_TRUE(ev);
  EXPECT_EQ(p.net->config().link, 0);
  // Link down: transmits complete but are dropped, nothing reaches the tap.
  ASSERT_TRUE(p.net->send(frame(kTestType, 100, 1)));
  ASSERT_TRUE(eventually([&] { return stats(p).tx_dropped_link == 1; }));
  EXPECT_FALSE(wire_read(p, kTestType, 100).has_value());
  on_loop([&] { ASSERT_TRUE(rt_->set_link(p.id, true)); });
  ev = guest_->wait_event(
      [&](const GuestEvent& e) { return e.type == VBUS_EV_DEV_CONFIG && e.dev_id == p.id; });
  ASSERT_TRUE(ev);
  EXPECT_EQ(p.net->config().link, VENET_LINK_UP);
  const auto f = frame(kTestType, 100, 2);
  ASSERT_TRUE(p.net->send(f));
  auto got = wire_read(p, kTestType);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, f);
}

TEST_F(VenetDeviceTest, NoRxBuffersHoldsTheFrameUntilTheRefillWakesTheHost) {
  Port& p = add_port("avmt0");
  ASSERT_TRUE(guest_->handshake());
  auto dev = guest_->open(p.id);
  ASSERT_TRUE(dev);
  p.net = std::make_unique<GuestNet>(*guest_, std::move(*dev));
  p.net->negotiate(kVenetAllFeatures);
  ASSERT_TRUE(p.net->set_link(true));
  // No buffers posted: the host counts the stall and keeps the frame.
  const auto first = frame(kTestType, 100, 1);
  ASSERT_TRUE(wire_send(p, first));
  ASSERT_TRUE(eventually([&] { return stats(p).rx_no_buffers >= 1; }));
  EXPECT_EQ(stats(p).rx_packets, 0U);
  // The host armed the rx to_host signal: the refill rings the doorbell,
  // and the frame that waited is delivered, not lost.
  const uint64_t kicks = p.net->kicks;
  p.net->refill();
  EXPECT_EQ(p.net->kicks, kicks + 1);
  std::optional<RxPacket> got;
  do {
    got = guest_receive(p);
  } while (got && got->frame != first);
  ASSERT_TRUE(got) << "the frame that arrived without buffers was dropped";
  EXPECT_EQ(stats(p).rx_too_big, 0U);
}

TEST_F(VenetDeviceTest, TransmitsDuringAStreamGoOutWithoutADoorbell) {
  Port& p = add_port("avmt0", {}, /*vnet_wire=*/true);
  open_port(p);
  // A GSO frame (more than kStreamBytes in one pass) makes the host
  // leave the TX signal disarmed for a while after delivering it.
  const std::vector<uint8_t> big = tcp_frame(20000);
  const std::vector<uint8_t> out = with_gso_hdr(big);
  for (int round = 0; round < 3; round++) {
    ASSERT_TRUE(wire_send(p, out));
    std::optional<RxPacket> got;
    for (int i = 0; i < 20; i++) {
      got = guest_receive(p);
      if (!got || got->frame.size() == big.size()) {
        break;
      }
    }
    ASSERT_TRUE(got) << "round " << round;
    p.net->refill();
    // The "ACK": sent right away, kicked only if the host asks for it.
    // Whether or not the signal was disarmed, it must leave the tap.
    const auto ack = frame(kTestType, 60, static_cast<uint8_t>(round));
    ASSERT_TRUE(p.net->send(ack));
    std::vector<uint8_t> vnet;
    auto back = wire_read(p, kTestType, 5000, &vnet);
    ASSERT_TRUE(back) << "round " << round << ": a transmit was stranded; deferred "
                      << stats(p).tx_arm_deferred << " ticks " << stats(p).stream_ticks << " tx "
                      << stats(p).tx_packets << " doorbells " << stats(p).doorbells << " wakeups "
                      << stats(p).wakeups;
    EXPECT_EQ(*back, ack);
  }
  const VenetStats s = stats(p);
  EXPECT_GE(s.tx_arm_deferred, 1U);
  // After the stream window the signal is armed again: after it a transmit kicks.
  ASSERT_TRUE(eventually([&] { return stats(p).stream_ticks >= 1; }));
  ASSERT_TRUE(eventually([&] { return p.net->tx().to_host().enabled(); }));
  const uint64_t kicks = p.net->kicks;
  const auto last = frame(kTestType, 80, 9);
  ASSERT_TRUE(p.net->send(last));
  EXPECT_EQ(p.net->kicks, kicks + 1);
  std::vector<uint8_t> vnet;
  auto back = wire_read(p, kTestType, 5000, &vnet);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, last);
}

TEST_F(VenetDeviceTest, ReceiveSignalsWaitWhileAStreamFlowsButAreNeverStranded) {
  VenetConfig cfg;
  cfg.rx_coalesce_us = 3000;
  Port& p = add_port("avmt0", cfg, /*vnet_wire=*/true);
  // No IPv6 on the tap: the kernel's own frames (DAD, router and MLD
  // messages) would raise signals of their own.
  bool quiet = false;
  ASSERT_TRUE(ns_->run([&] {
    const UniqueFd fd(::open("/proc/sys/net/ipv6/conf/avmt0/disable_ipv6", O_WRONLY | O_CLOEXEC));
    quiet = fd && ::write(fd.get(), "1", 1) == 1;
  }));
  ASSERT_TRUE(quiet);
  open_port(p);
  // The guest's RX to_guest signal.  The host's notify() sets dirty even
  // when it does not interrupt, so clearing dirty before a frame and
  // seeing it set after the frame arrived shows the frame was signalled.
  ShmSignal& sig = p.net->rx().to_guest();
  const auto receive = [&](size_t size) {
    for (int i = 0; i < 20; i++) {
      auto got = guest_receive(p);
      if (!got || got->frame.size() == size) {
        return got.has_value();
      }
    }
    return false;
  };
  // Not a stream: a small frame is signalled at once, nothing held back.
  std::vector<uint8_t> small(10, 0);  // an empty virtio_net_hdr
  const auto f = frame(kTestType, 100, 1);
  small.insert(small.end(), f.begin(), f.end());
  sig.handle([] {});
  ASSERT_TRUE(wire_send(p, small));
  ASSERT_TRUE(receive(f.size()));
  ASSERT_TRUE(eventually([&] { return sig.dirty(); }));
  EXPECT_EQ(stats(p).rx_signals_deferred, 0U);
  p.net->refill();
  // A stream of 20 KB GSO frames: once it is seen, signals wait for the
  // coalescing delay, but every frame's signal does come.  (A round that
  // starts after the stream window has closed is signalled at once; under
  // load that can happen, so rounds go on until one was held back.)
  const std::vector<uint8_t> big = with_gso_hdr(tcp_frame(20000));
  for (int round = 0; round < 40 && stats(p).rx_signals_deferred == 0; round++) {
    sig.handle([] {});
    (void)sig.arm();
    ASSERT_TRUE(wire_send(p, big));
    ASSERT_TRUE(receive(big.size() - 10)) << "round " << round;
    ASSERT_TRUE(eventually([&] { return sig.dirty(); }))
        << "round " << round << ": the RX signal was stranded; deferred "
        << stats(p).rx_signals_deferred << " signals " << stats(p).rx_signals;
    p.net->refill();
  }
  EXPECT_GE(stats(p).rx_signals_deferred, 1U);
}

TEST_F(VenetDeviceTest, RestartsCleanlyOnCloseOpenAndGuestReInit) {
  Port& p = add_port("avmt0");
  for (int round = 0; round < 3; round++) {
    open_port(p);
    const auto f = frame(kTestType, 120, static_cast<uint8_t>(round));
    ASSERT_TRUE(p.net->send(f));
    auto got = wire_read(p, kTestType);
    ASSERT_TRUE(got) << "round " << round;
    EXPECT_EQ(*got, f);
    if (round == 1) {
      // The guest resets the bridge: the device stops, a new open works.
      ASSERT_TRUE(guest_->handshake());
      EXPECT_FALSE(p.dev->serving());
    } else {
      ASSERT_TRUE(guest_->close(p.id));
      EXPECT_FALSE(p.dev->serving());
    }
    p.net.reset();
  }
  EXPECT_EQ(stats(p).opens, 3U);
}

TEST(VenetFeaturesTest, GrantDropsNonsenseCombinations) {
  EXPECT_EQ(venet_grant(VENET_F_HOST_TSO4, kVenetAllFeatures, 2048), 0U);  // no CSUM
  EXPECT_EQ(venet_grant(VENET_F_GUEST_CSUM | VENET_F_GUEST_TSO4, kVenetAllFeatures, 2048),
            uint64_t{VENET_F_GUEST_CSUM});  // 64 KiB cannot fit without MRG
  EXPECT_EQ(venet_grant(VENET_F_GUEST_CSUM | VENET_F_GUEST_TSO4, kVenetAllFeatures, 70000),
            uint64_t{VENET_F_GUEST_CSUM | VENET_F_GUEST_TSO4});
  EXPECT_EQ(venet_grant(kVenetAllFeatures, VENET_F_CSUM, 2048), uint64_t{VENET_F_CSUM});
}

}  // namespace
}  // namespace avm::test
