// SPDX-License-Identifier: GPL-2.0
#include "testing/guest_queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "lib/host_queue.h"
#include "queue_fixture.h"

namespace avm {
namespace {

using testing::OneQueue;

TEST(GuestQueue, FullAndEmpty) {
  OneQueue q(4, 64);
  ASSERT_TRUE(q.ok());
  QueueView v = q.view();
  GuestQueue guest(v);
  HostQueue host(v);
  EXPECT_EQ(guest.free_slots(), 4U);
  EXPECT_EQ(guest.outstanding(), 0U);
  UsedEntry used[8];
  EXPECT_EQ(guest.poll_used(used), 0U);  // nothing outstanding
  const uint8_t b = 3;
  for (int i = 0; i < 4; i++) {
    EXPECT_TRUE(guest.submit({&b, 1}));
  }
  EXPECT_TRUE(guest.full());
  EXPECT_FALSE(guest.submit({&b, 1}));
  EXPECT_DEATH(guest.post(1), "fatal");
  // Oversized data is refused, not truncated.
  std::vector<HostDesc> out(8);
  ASSERT_EQ(*host.poll(out), 4U);
  EXPECT_EQ(guest.poll_used(used), 0U);  // host has not completed yet
  host.complete(out[0], 1);
  host.complete(out[1], 1);
  EXPECT_EQ(guest.poll_used(used), 2U);
  EXPECT_EQ(guest.free_slots(), 2U);
  const std::vector<uint8_t> big(65, 0);
  EXPECT_FALSE(guest.submit(big));
}

TEST(GuestQueue, ReceiveRoundTripAcrossWrap) {
  // rx direction: the guest posts empty buffers, the host fills them.
  OneQueue q(4, 128);
  ASSERT_TRUE(q.ok());
  QueueView v = q.view();
  GuestQueue guest(v);
  HostQueue host(v);
  std::vector<HostDesc> out(4);
  UsedEntry used[4];
  for (uint32_t round = 0; round < 10; round++) {
    guest.post(128);
    ASSERT_EQ(*host.poll(out), 1U);
    auto buf = host.buffer(out[0]);
    ASSERT_EQ(buf.size(), 128U);
    const uint32_t len = 1 + round * 7;
    std::memset(buf.data(), static_cast<int>(round), len);
    host.complete(out[0], len);
    ASSERT_EQ(guest.poll_used(used), 1U);
    EXPECT_EQ(used[0].index, round);
    EXPECT_EQ(used[0].len, len);
    auto data = guest.buffer(used[0].index);
    for (uint32_t i = 0; i < len; i++) {
      ASSERT_EQ(data[i], round);
    }
  }
}

TEST(GuestQueue, KickIsSuppressedWhileHostPolls) {
  OneQueue q(8, 64);
  ASSERT_TRUE(q.ok());
  QueueView v = q.view();
  GuestQueue guest(v);
  HostQueue host(v);
  const uint8_t b = 1;
  ASSERT_TRUE(guest.submit({&b, 1}));
  EXPECT_FALSE(guest.kick());  // host not armed
  EXPECT_TRUE(host.to_host().arm());
  std::vector<HostDesc> out(8);
  host.to_host().handle([&] { ASSERT_EQ(*host.poll(out), 1U); });
  ASSERT_TRUE(guest.submit({&b, 1}));
  EXPECT_TRUE(guest.kick());
  ASSERT_TRUE(guest.submit({&b, 1}));
  EXPECT_FALSE(guest.kick());  // one doorbell is pending already
  EXPECT_EQ(guest.to_host().counters().sent, 1U);
  EXPECT_EQ(guest.to_host().counters().suppressed, 2U);
}

}  // namespace
}  // namespace avm
