// SPDX-License-Identifier: GPL-2.0
#include "bridge/event_queue.h"

#include <gtest/gtest.h>

#include <array>
#include <thread>
#include <vector>

#include "bridge_fixture.h"

namespace avm::test {
namespace {

// The producer alone, over a plain buffer, the guest played by the test.
class EventQueueTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kEntries = 8;
  void SetUp() override {
    hdr_ = reinterpret_cast<vbus_evq_header*>(mem_.data());
    evq_ = std::make_unique<EventQueue>(hdr_, kEntries);
    evq_->reset();
    evq_->set_enabled(true);
    evq_->set_sink([this] { raised_++; });
    hdr_->signal.enabled = 1;  // the guest is armed
  }
  vbus_event& entry(uint32_t i) { return reinterpret_cast<vbus_event*>(hdr_ + 1)[i % kEntries]; }

  alignas(64) std::array<uint8_t, sizeof(vbus_evq_header) + kEntries * sizeof(vbus_event)> mem_{};
  vbus_evq_header* hdr_ = nullptr;
  std::unique_ptr<EventQueue> evq_;
  int raised_ = 0;
};

TEST_F(EventQueueTest, PostWritesBodyAndSeqAndRaisesOnce) {
  ASSERT_TRUE(evq_->post(VBUS_EV_SIGNAL, 5, 1));
  ASSERT_TRUE(evq_->post(VBUS_EV_SIGNAL, 5, 0));
  EXPECT_EQ(entry(0).seq, 1U);
  EXPECT_EQ(entry(0).type, VBUS_EV_SIGNAL);
  EXPECT_EQ(entry(0).dev_id, 5U);
  EXPECT_EQ(entry(0).data, 1U);
  EXPECT_EQ(entry(1).seq, 2U);
  EXPECT_EQ(raised_, 1);  // pending stays set until the guest handles it
  auto c = evq_->counters();
  EXPECT_EQ(c.posted, 2U);
  EXPECT_EQ(c.interrupts, 1U);
  EXPECT_EQ(c.suppressed, 1U);
}

TEST_F(EventQueueTest, FullRingDropsAndCountsOverflows) {
  for (uint32_t i = 0; i < kEntries; i++) {
    ASSERT_TRUE(evq_->post(VBUS_EV_SIGNAL, 1, i));
  }
  EXPECT_FALSE(evq_->post(VBUS_EV_SIGNAL, 1, 99));
  EXPECT_FALSE(evq_->post(VBUS_EV_SIGNAL, 1, 99));
  EXPECT_EQ(evq_->counters().overflows, 2U);
  EXPECT_EQ(hdr_->overflows, 2U);
  hdr_->consumed = 3;  // the guest read three
  EXPECT_TRUE(evq_->post(VBUS_EV_SIGNAL, 1, 8));
  EXPECT_EQ(entry(8).seq, 9U);
}

TEST_F(EventQueueTest, GarbageConsumedIsAFaultNotACrash) {
  ASSERT_TRUE(evq_->post(VBUS_EV_SIGNAL, 1, 0));
  hdr_->consumed = 0x80000000U;  // far ahead of what was produced
  EXPECT_FALSE(evq_->post(VBUS_EV_SIGNAL, 1, 1));
  hdr_->consumed = 5;  // ahead by 4
  EXPECT_FALSE(evq_->post(VBUS_EV_SIGNAL, 1, 1));
  EXPECT_EQ(evq_->counters().bad_consumed, 2U);
  hdr_->consumed = 1;  // sane again
  EXPECT_TRUE(evq_->post(VBUS_EV_SIGNAL, 1, 1));
}

TEST_F(EventQueueTest, DisarmedGuestGetsNoInterrupt) {
  hdr_->signal.enabled = 0;  // guest polling
  for (int i = 0; i < 4; i++) {
    evq_->post(VBUS_EV_SIGNAL, 1, 0);
  }
  EXPECT_EQ(raised_, 0);
  EXPECT_EQ(evq_->counters().suppressed, 4U);
  EXPECT_EQ(hdr_->signal.dirty, 1U);
}

TEST_F(EventQueueTest, NoSinkIsNormal) {
  evq_->clear_sink();
  EXPECT_FALSE(evq_->has_sink());
  EXPECT_TRUE(evq_->post(VBUS_EV_DEV_ADD, 1, 0));
  EXPECT_EQ(evq_->counters().interrupts_no_sink, 1U);
  EXPECT_EQ(evq_->counters().interrupts, 0U);
}

TEST_F(EventQueueTest, DisabledDropsAndResetZeroes) {
  evq_->set_enabled(false);
  EXPECT_FALSE(evq_->post(VBUS_EV_DEV_ADD, 1, 0));
  EXPECT_EQ(evq_->counters().disabled_drops, 1U);
  evq_->set_enabled(true);
  ASSERT_TRUE(evq_->post(VBUS_EV_DEV_ADD, 1, 0));
  hdr_->consumed = 1;
  evq_->reset();
  EXPECT_EQ(evq_->produced(), 0U);
  EXPECT_EQ(hdr_->consumed, 0U);
  EXPECT_EQ(entry(0).seq, 0U);
  EXPECT_EQ(hdr_->signal.enabled, 0U);
}

TEST_F(EventQueueTest, SinkFdIsWritten) {
  auto e = EventFd::create();
  ASSERT_TRUE(e);
  UniqueFd dup(::fcntl(e->fd(), F_DUPFD_CLOEXEC, 0));
  evq_->set_sink_fd(std::move(dup));
  evq_->interrupt();
  EXPECT_EQ(e->consume(), 1U);
}

TEST_F(EventQueueTest, ConcurrentProducersLoseNothing) {
  evq_ = std::make_unique<EventQueue>(hdr_, kEntries);
  evq_->reset();
  evq_->set_enabled(true);
  // A consumer that keeps up: a big enough queue is simpler; here each
  // producer posts until accepted while the test thread consumes.
  std::atomic<bool> done{false};
  std::vector<int> seen(2, 0);
  std::thread consumer([&] {
    uint32_t next = 0;
    while (!done.load() || next < 200) {
      vbus_event& e = entry(next);
      if (std::atomic_ref<uint32_t>(e.seq).load(std::memory_order_acquire) == next + 1) {
        seen.at(e.dev_id)++;
        next++;
        std::atomic_ref<uint32_t>(hdr_->consumed).store(next, std::memory_order_release);
      }
    }
  });
  auto produce = [&](uint32_t dev) {
    for (int i = 0; i < 100; i++) {
      while (!evq_->post(VBUS_EV_SIGNAL, dev, 0)) {
        std::this_thread::yield();
      }
    }
  };
  std::thread p0(produce, 0);
  std::thread p1(produce, 1);
  p0.join();
  p1.join();
  done = true;
  consumer.join();
  EXPECT_EQ(seen[0], 100);
  EXPECT_EQ(seen[1], 100);
}

}  // namespace
}  // namespace avm::test
