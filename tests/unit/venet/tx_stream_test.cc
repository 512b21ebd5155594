// SPDX-License-Identifier: GPL-2.0
#include "venet/tx_stream.h"

#include <gtest/gtest.h>

#include <chrono>

#include "fake_clock.h"

namespace avm {
namespace {

using std::chrono::microseconds;

TEST(TxStream, SmallPassesLeaveItOff) {
  FakeClock clock;
  TxStream tx(true, 0);
  uint64_t bytes = 0;
  for (int i = 0; i < 100; i++) {
    clock.advance(microseconds(10));
    tx.after_pass(clock.now(), bytes += 1500);
    EXPECT_FALSE(tx.on(clock.now()));
  }
}

TEST(TxStream, EngagesAtTheThresholdAndTicks) {
  FakeClock clock;
  TxStream tx(true, 0);
  tx.after_pass(clock.now(), Stream::kMinBytes);
  ASSERT_TRUE(tx.on(clock.now()));
  EXPECT_EQ(tx.tick(clock.now()), TxStream::kTick);
}

TEST(TxStream, DisengagesWhenTheStreamEnds) {
  FakeClock clock;
  TxStream tx(true, 0);
  tx.after_pass(clock.now(), Stream::kMinBytes);
  // The last tick before the end is shorter: the signal is armed on time.
  clock.advance(Stream::kEndsAfter - microseconds(50));
  tx.after_pass(clock.now(), Stream::kMinBytes + 60);
  ASSERT_TRUE(tx.on(clock.now()));
  EXPECT_EQ(tx.tick(clock.now()), microseconds(50));
  clock.advance(microseconds(50));
  EXPECT_FALSE(tx.on(clock.now()));
}

TEST(TxStream, NoTimerNoStreamMode) {
  FakeClock clock;
  TxStream tx(false, 0);
  tx.after_pass(clock.now(), 100 * Stream::kMinBytes);
  EXPECT_FALSE(tx.on(clock.now()));
}

}  // namespace
}  // namespace avm
