// SPDX-License-Identifier: GPL-2.0
#include "testing/soft_guest.h"

#include <gtest/gtest.h>

#include "bridge_fixture.h"
#include "fake_device.h"
#include "lib/host_queue.h"

namespace avm::test {
namespace {

using SoftGuestTest = BridgeFixture;

TEST_F(SoftGuestTest, ProbeRejectsARegionWithoutMagic) {
  std::vector<uint8_t> junk(65536, 0);
  SoftGuest g(junk, [](uint32_t) {});
  auto st = g.probe();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ENODEV);
}

TEST_F(SoftGuestTest, HandshakeTimesOutWithoutAHost) {
  on_loop([&] { rt_->shutdown(); });  // host RESET, nobody answers
  auto st = guest_->handshake(50);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code, ETIMEDOUT);
}

TEST_F(SoftGuestTest, OpenGivesWorkingQueueEndpoints) {
  FakeDevice::Log& log = new_log();
  uint32_t id = 0;
  on_loop([&] {
    auto r = rt_->add_device(std::make_unique<FakeDevice>(&log));
    ASSERT_TRUE(r);
    id = *r;
  });
  ASSERT_TRUE(guest_->handshake());
  auto all = guest_->devices();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 1U);
  auto dev = guest_->open(id);
  ASSERT_TRUE(dev) << dev.error().message;
  ASSERT_EQ((*dev)->queues.size(), 2U);
  // The host side of queue 1, from the device's context.
  HostQueue host(log.ctx.queues[1]);
  GuestQueue& gq = (*dev)->queues[1];
  const std::vector<uint8_t> pkt = {0xde, 0xad, 0xbe, 0xef};
  ASSERT_TRUE(gq.submit(pkt));
  HostDesc d[4];
  auto n = host.poll(d);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, 1U);
  auto buf = host.buffer(d[0]);
  EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.end()), pkt);
  host.complete(d[0], 4);
  UsedEntry u[4];
  ASSERT_EQ(gq.poll_used(u), 1U);
  EXPECT_EQ(u[0].len, 4U);
  ASSERT_TRUE(guest_->close(id));
}

TEST_F(SoftGuestTest, CorruptEventSeqIsEPROTO) {
  ASSERT_TRUE(guest_->handshake());
  auto* evq = reinterpret_cast<vbus_evq_header*>(region_->data() + header().evq_offset);
  auto* ring = reinterpret_cast<vbus_event*>(evq + 1);
  ring[0].seq = 12345;  // a "host" gone mad
  auto r = guest_->poll_events();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, EPROTO);
}

TEST_F(SoftGuestTest, SeesOverflowsAndCatchesUp) {
  ASSERT_TRUE(guest_->handshake());
  // Flood without consuming: the queue holds 256.
  on_loop([&] {
    for (int i = 0; i < 300; i++) {
      rt_->event_queue().post(VBUS_EV_SIGNAL, 1, 0);
    }
  });
  EXPECT_EQ(rt_->event_queue().counters().overflows, 44U);
  auto n = guest_->poll_events();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 256U);
  EXPECT_EQ(guest_->overflows_seen(), 1U);
  on_loop([&] { EXPECT_TRUE(rt_->event_queue().post(VBUS_EV_SIGNAL, 1, 0)); });
  n = guest_->poll_events();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 1U);
}

}  // namespace
}  // namespace avm::test
