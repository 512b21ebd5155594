// SPDX-License-Identifier: GPL-2.0
#include "venet/rx_coalesce.h"

#include <gtest/gtest.h>

#include <chrono>

#include "fake_clock.h"

namespace avm {
namespace {

using std::chrono::microseconds;

class RxCoalesceTest : public ::testing::Test {
 protected:
  // A pass that delivered @delivered bytes; @pending: VenetRx holds a
  // signal back.
  RxCoalesce::Step pass(uint64_t delivered, bool pending) {
    rx_bytes_ += delivered;
    return coalesce_.after_pass(clock_.now(), rx_bytes_, pending);
  }

  FakeClock clock_;
  uint64_t rx_bytes_ = 0;
  microseconds delay_{100};
  RxCoalesce coalesce_{true, delay_, 0};
};

TEST_F(RxCoalesceTest, WithoutAStreamTheSignalRunsAtOnce) {
  const auto step = pass(1500, true);
  EXPECT_FALSE(step.coalesce);
  EXPECT_TRUE(step.flush);
  EXPECT_FALSE(coalesce_.deadline());
}

TEST_F(RxCoalesceTest, AStreamDefersUntilTheDeadline) {
  auto step = pass(Stream::kMinBytes, true);
  EXPECT_TRUE(step.coalesce);
  EXPECT_FALSE(step.flush);
  ASSERT_TRUE(coalesce_.deadline());
  EXPECT_EQ(*coalesce_.deadline(), clock_.now() + delay_);
  // Later frames keep the deadline of the first one held.
  const auto deadline = *coalesce_.deadline();
  clock_.advance(delay_ - microseconds(1));
  step = pass(Stream::kMinBytes, true);
  EXPECT_TRUE(step.coalesce);
  EXPECT_FALSE(step.flush);
  EXPECT_EQ(coalesce_.deadline(), deadline);
  clock_.advance(microseconds(1));
  step = pass(0, true);
  EXPECT_TRUE(step.coalesce);
  EXPECT_TRUE(step.flush);
  EXPECT_FALSE(coalesce_.deadline());
}

TEST_F(RxCoalesceTest, TheNextHeldSignalGetsANewDeadline) {
  pass(Stream::kMinBytes, true);
  clock_.advance(delay_);
  ASSERT_TRUE(pass(0, true).flush);
  clock_.advance(microseconds(10));
  EXPECT_FALSE(pass(Stream::kMinBytes, true).flush);
  EXPECT_EQ(coalesce_.deadline(), clock_.now() + delay_);
}

TEST_F(RxCoalesceTest, NothingHeldNoDeadline) {
  pass(Stream::kMinBytes, true);
  // VenetRx ran the signal itself (the guest ran low on buffers).
  const auto step = pass(Stream::kMinBytes, false);
  EXPECT_TRUE(step.coalesce);
  EXPECT_FALSE(step.flush);
  EXPECT_FALSE(coalesce_.deadline());
}

TEST(RxCoalesce, TheEndOfTheStreamFlushesBeforeTheDeadline) {
  FakeClock clock;
  const microseconds delay = 2 * Stream::kEndsAfter;
  RxCoalesce coalesce(true, delay, 0);
  coalesce.after_pass(clock.now(), Stream::kMinBytes, true);
  clock.advance(Stream::kEndsAfter);
  const auto step = coalesce.after_pass(clock.now(), Stream::kMinBytes, true);
  EXPECT_FALSE(step.coalesce);
  EXPECT_TRUE(step.flush);
}

TEST(RxCoalesce, OffWithoutADelayOrATimer) {
  FakeClock clock;
  RxCoalesce no_delay(true, microseconds(0), 0);
  RxCoalesce no_timer(false, microseconds(100), 0);
  for (RxCoalesce* c : {&no_delay, &no_timer}) {
    const auto step = c->after_pass(clock.now(), 10 * Stream::kMinBytes, true);
    EXPECT_FALSE(step.coalesce);
    EXPECT_TRUE(step.flush);
  }
}

}  // namespace
}  // namespace avm
