// SPDX-License-Identifier: GPL-2.0
#include "venet/stream.h"

#include <gtest/gtest.h>

#include <chrono>

#include "fake_clock.h"

namespace avm {
namespace {

using std::chrono::microseconds;

TEST(Stream, APassOfKMinBytesStartsIt) {
  FakeClock clock;
  Stream s(true, 1000);
  s.after_pass(clock.now(), 1000 + Stream::kMinBytes - 1);
  EXPECT_FALSE(s.flowing(clock.now()));
  // Counted per pass, not in total.
  s.after_pass(clock.now(), 1000 + 2 * Stream::kMinBytes - 2);
  EXPECT_FALSE(s.flowing(clock.now()));
  s.after_pass(clock.now(), 1000 + 3 * Stream::kMinBytes - 2);
  EXPECT_TRUE(s.flowing(clock.now()));
  EXPECT_EQ(s.ends(), clock.now() + Stream::kEndsAfter);
}

TEST(Stream, EndsKEndsAfterTheLastBigPass) {
  FakeClock clock;
  uint64_t bytes = 0;
  Stream s(true, bytes);
  s.after_pass(clock.now(), bytes += Stream::kMinBytes);
  clock.advance(microseconds(1500));
  s.after_pass(clock.now(), bytes += Stream::kMinBytes);  // keeps it going
  clock.advance(microseconds(1000));
  s.after_pass(clock.now(), bytes += 100);  // a small pass does not
  EXPECT_TRUE(s.flowing(clock.now()));
  clock.advance(Stream::kEndsAfter - microseconds(1001));
  EXPECT_TRUE(s.flowing(clock.now()));
  clock.advance(microseconds(1));
  EXPECT_FALSE(s.flowing(clock.now()));
}

}  // namespace
}  // namespace avm
