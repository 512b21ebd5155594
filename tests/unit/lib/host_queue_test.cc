// SPDX-License-Identifier: GPL-2.0
#include "lib/host_queue.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "queue_fixture.h"
#include "testing/guest_queue.h"

namespace avm {
namespace {

using testing::OneQueue;

constexpr uint32_t kEntries = 16;
constexpr uint32_t kBuf = 256;

class HostQueueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(q_.ok());
    view_ = std::make_unique<QueueView>(q_.view());
    guest_ = std::make_unique<GuestQueue>(*view_);
    host_ = std::make_unique<HostQueue>(*view_);
  }
  // A hostile guest: writes entry @index's slot verbatim.
  void write_raw(uint32_t index, vbus_ring_desc d) { view_->submit()[index & view_->mask()] = d; }
  vbus_ring_desc good(uint32_t index, uint32_t len = 10) const {
    return vbus_ring_desc{index + 1, 0, 0, (index & view_->mask()) * kBuf, len};
  }
  Result<size_t> poll(std::vector<HostDesc>& out) { return host_->poll(out); }

  OneQueue q_{kEntries, kBuf};
  std::unique_ptr<QueueView> view_;
  std::unique_ptr<GuestQueue> guest_;
  std::unique_ptr<HostQueue> host_;
};

TEST_F(HostQueueTest, EmptyRingYieldsNothing) {
  std::vector<HostDesc> out(8);
  auto n = poll(out);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 0U);
  EXPECT_FALSE(host_->broken());
}

TEST_F(HostQueueTest, CopiesValidatedDescriptorAndBuffer) {
  const uint8_t msg[] = {'h', 'e', 'l', 'l', 'o'};
  ASSERT_TRUE(guest_->submit(msg));
  std::vector<HostDesc> out(8);
  auto n = poll(out);
  ASSERT_TRUE(n) << n.error().message;
  ASSERT_EQ(*n, 1U);
  EXPECT_EQ(out[0].index(), 0U);
  EXPECT_EQ(out[0].len(), 5U);
  EXPECT_EQ(out[0].offset(), 0U);
  // The guest rewrites the shared entry afterwards: the copy is unaffected.
  view_->submit()[0].len = 9999;
  EXPECT_EQ(out[0].len(), 5U);
  auto buf = host_->buffer(out[0]);
  ASSERT_EQ(buf.size(), 5U);
  EXPECT_EQ(std::memcmp(buf.data(), msg, 5), 0);
}

TEST_F(HostQueueTest, BatchingAndOutstandingBound) {
  const uint8_t b = 1;
  for (uint32_t i = 0; i < kEntries; i++) {
    ASSERT_TRUE(guest_->submit({&b, 1}));
  }
  EXPECT_TRUE(guest_->full());
  EXPECT_FALSE(guest_->submit({&b, 1}));
  std::vector<HostDesc> out(5);
  EXPECT_EQ(*poll(out), 5U);  // at most the batch size
  std::vector<HostDesc> rest(64);
  EXPECT_EQ(*poll(rest), kEntries - 5);
  EXPECT_EQ(host_->outstanding(), kEntries);
  // A hostile guest publishes entry kEntries before the host completed
  // entry 0: the host must not take it (the ring would overflow).
  write_raw(kEntries, good(kEntries));
  EXPECT_EQ(*poll(rest), 0U);
  host_->complete(out[0], 1);
  ASSERT_EQ(*poll(rest), 1U);
  EXPECT_EQ(rest[0].index(), kEntries);
}

TEST_F(HostQueueTest, CompletionsReachTheGuestInOrder) {
  const uint8_t msg[4] = {1, 2, 3, 4};
  for (int i = 0; i < 4; i++) {
    ASSERT_TRUE(guest_->submit(msg));
  }
  std::vector<HostDesc> out(8);
  ASSERT_EQ(*poll(out), 4U);
  for (uint32_t i = 0; i < 4; i++) {
    host_->complete(out[i], i, i == 3 ? VBUS_USED_F_ERROR : 0);
  }
  UsedEntry used[8];
  ASSERT_EQ(guest_->poll_used(used), 4U);
  for (uint32_t i = 0; i < 4; i++) {
    EXPECT_EQ(used[i].index, i);
  }
  EXPECT_EQ(used[2].len, 2U);
  EXPECT_EQ(used[3].flags, VBUS_USED_F_ERROR);
  EXPECT_EQ(used[3].len, 0U);  // rejected entries report no bytes
  EXPECT_EQ(guest_->outstanding(), 0U);
  EXPECT_EQ(host_->counters().completed, 4U);
}

TEST_F(HostQueueTest, CompletionMisuseAborts) {
  const uint8_t b = 1;
  ASSERT_TRUE(guest_->submit({&b, 1}));
  ASSERT_TRUE(guest_->submit({&b, 1}));
  std::vector<HostDesc> out(8);
  ASSERT_EQ(*poll(out), 2U);
  EXPECT_DEATH(host_->complete(out[1], 1), "fatal");  // out of order
  EXPECT_DEATH(host_->complete(out[0], 2), "fatal");  // more than the buffer
}

struct Malformed {
  const char* name;
  uint32_t index;  // entry number the bad descriptor claims to be
  DescFault fault;
  vbus_ring_desc (*make)(uint32_t index);
};

vbus_ring_desc base(uint32_t i) {
  return {i + 1, 0, 0, (i % kEntries) * kBuf, 10};
}

const Malformed kMalformed[] = {
    {"offset out of pool", 0, DescFault::kOffset,
     [](uint32_t i) {
       auto d = base(i);
       d.offset = kEntries * kBuf + 16;
       return d;
     }},
    {"offset far out", 0, DescFault::kOffset,
     [](uint32_t i) {
       auto d = base(i);
       d.offset = 0xfffffff0;
       return d;
     }},
    {"wrong slot buffer (next slot)", 0, DescFault::kOffset,
     [](uint32_t i) {
       auto d = base(i);
       d.offset = kBuf;
       return d;
     }},
    {"wrong slot buffer (previous slot)", 5, DescFault::kOffset,
     [](uint32_t i) {
       auto d = base(i);
       d.offset = 4 * kBuf + 200;
       return d;
     }},
    {"len past the buffer", 3, DescFault::kLength,
     [](uint32_t i) {
       auto d = base(i);
       d.len = kBuf + 1;
       return d;
     }},
    {"offset + len past the buffer", 3, DescFault::kLength,
     [](uint32_t i) {
       auto d = base(i);
       d.offset += kBuf - 4;
       d.len = 5;
       return d;
     }},
    {"len overflow", 0, DescFault::kLength,
     [](uint32_t i) {
       auto d = base(i);
       d.offset += 16;
       d.len = 0xfffffff8;  // offset + len wraps in 32 bits
       return d;
     }},
    {"unknown flag", 0, DescFault::kFlags,
     [](uint32_t i) {
       auto d = base(i);
       d.flags = 0x0002;
       return d;
     }},
    {"high flag", 2, DescFault::kFlags,
     [](uint32_t i) {
       auto d = base(i);
       d.flags = VBUS_DESC_F_NEXT | 0x8000;
       return d;
     }},
    {"reserved bits", 0, DescFault::kReserved,
     [](uint32_t i) {
       auto d = base(i);
       d.reserved = 0x0100;
       return d;
     }},
    {"seq jumps ahead", 0, DescFault::kSeq,
     [](uint32_t i) {
       auto d = base(i);
       d.seq = i + 2;
       return d;
     }},
    {"seq a lap ahead", 1, DescFault::kSeq,
     [](uint32_t i) {
       auto d = base(i);
       d.seq = i + 1 + kEntries;
       return d;
     }},
    {"seq garbage", 4, DescFault::kSeq,
     [](uint32_t i) {
       auto d = base(i);
       d.seq = 0xdeadbeef;
       return d;
     }},
};

TEST_F(HostQueueTest, MalformedDescriptorsAreRejected) {
  for (const Malformed& m : kMalformed) {
    SCOPED_TRACE(m.name);
    OneQueue q(kEntries, kBuf);
    ASSERT_TRUE(q.ok());
    QueueView v = q.view();
    GuestQueue guest(v);
    HostQueue host(v);
    // Good entries before the bad one are handed over first.
    const uint8_t b = 7;
    for (uint32_t i = 0; i < m.index; i++) {
      ASSERT_TRUE(guest.submit({&b, 1}));
    }
    v.submit()[m.index & v.mask()] = m.make(m.index);
    std::vector<HostDesc> out(32);
    auto first = host.poll(out);
    if (m.index > 0) {
      ASSERT_TRUE(first);
      EXPECT_EQ(*first, m.index);
      first = host.poll(out);
    }
    ASSERT_FALSE(first);
    EXPECT_EQ(first.error().code, EPROTO);
    EXPECT_NE(first.error().message.find(to_string(m.fault)), std::string::npos)
        << first.error().message;
    EXPECT_TRUE(host.broken());
    EXPECT_EQ(host.fault(), m.fault);
    EXPECT_EQ(host.counters().faults, 1U);
    EXPECT_EQ(host.counters().consumed, m.index);
    // Quarantined: even a repaired entry is not taken until a reset.
    v.submit()[m.index & v.mask()] = base(m.index);
    EXPECT_FALSE(host.poll(out));
  }
}

TEST_F(HostQueueTest, StaleSeqFromTwoLapsAgoIsAFault) {
  // Run two full laps, then put the seq of entry i - 2n into slot i.
  const uint8_t b = 1;
  std::vector<HostDesc> out(kEntries);
  UsedEntry used[kEntries];
  for (int lap = 0; lap < 2; lap++) {
    for (uint32_t i = 0; i < kEntries; i++) {
      ASSERT_TRUE(guest_->submit({&b, 1}));
    }
    ASSERT_EQ(*poll(out), kEntries);
    for (auto& d : out) {
      host_->complete(d, 1);
    }
    ASSERT_EQ(guest_->poll_used(used), kEntries);
  }
  const uint32_t i = 2 * kEntries;
  // Slot still holds entry i - n: "not yet written".
  EXPECT_EQ(*poll(out), 0U);
  auto d = good(i);
  d.seq = i + 1 - 2 * kEntries;
  write_raw(i, d);
  auto r = poll(out);
  ASSERT_FALSE(r);
  EXPECT_EQ(host_->fault(), DescFault::kSeq);
}

TEST_F(HostQueueTest, ZeroLengthAndFullBufferAreValid) {
  guest_->post(0);
  guest_->post(kBuf);
  guest_->post(1, 0, kBuf - 1);
  std::vector<HostDesc> out(8);
  ASSERT_EQ(*poll(out), 3U);
  EXPECT_EQ(host_->buffer(out[0]).size(), 0U);
  EXPECT_EQ(host_->buffer(out[1]).size(), kBuf);
  EXPECT_EQ(host_->buffer(out[2]).data(), view_->buffer(2).data() + kBuf - 1);
}

TEST(HostQueueChain, ChainsUpToTheLimitOnly) {
  OneQueue q(kEntries, kBuf);
  ASSERT_TRUE(q.ok());
  QueueView v = q.view();
  GuestQueue guest(v);
  HostQueue host(v, /*max_chain=*/4);
  // A chain of 4 is fine.
  guest.post(1, VBUS_DESC_F_NEXT);
  guest.post(1, VBUS_DESC_F_NEXT);
  guest.post(1, VBUS_DESC_F_NEXT);
  guest.post(1, 0);
  std::vector<HostDesc> out(16);
  auto n = host.poll(out);
  ASSERT_TRUE(n);
  ASSERT_EQ(*n, 4U);
  EXPECT_TRUE(out[0].has_next());
  EXPECT_FALSE(out[3].has_next());
  // A chain of 5 is not.
  for (int i = 0; i < 5; i++) {
    guest.post(1, VBUS_DESC_F_NEXT);
  }
  n = host.poll(out);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 3U);  // the first three of the chain are fine
  n = host.poll(out);
  ASSERT_FALSE(n);
  EXPECT_EQ(host.fault(), DescFault::kChain);
}

TEST(HostQueueChain, EndlessChainCannotWedgeTheRing) {
  // Default limit: a chain may not fill the whole ring without ending.
  OneQueue q(8, 64);
  ASSERT_TRUE(q.ok());
  QueueView v = q.view();
  GuestQueue guest(v);
  HostQueue host(v);
  for (int i = 0; i < 8; i++) {
    guest.post(1, VBUS_DESC_F_NEXT);
  }
  std::vector<HostDesc> out(16);
  auto n = host.poll(out);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 7U);
  EXPECT_FALSE(host.poll(out));
  EXPECT_EQ(host.fault(), DescFault::kChain);
}

}  // namespace
}  // namespace avm
