// SPDX-License-Identifier: GPL-2.0
#include "venet/busy_poll.h"

#include <gtest/gtest.h>

#include <chrono>

#include "fake_clock.h"

namespace avm {
namespace {

using std::chrono::microseconds;
using Step = BusyPoll::Step;

class BusyPollTest : public ::testing::Test {
 protected:
  Step after_pass(bool work, bool consent = true) {
    return poll_.after_pass(clock_.now(), work, [&] {
      asked_++;
      return consent;
    });
  }
  // One polling phase: a pass with work starts it, @hits more passes find
  // work (1 µs apart), @misses find none, then the window passes.
  void phase(int hits, int misses) {
    ASSERT_EQ(after_pass(true), Step::kStart);
    for (int i = 0; i < hits; i++) {
      clock_.advance(microseconds(1));
      ASSERT_EQ(after_pass(true), Step::kPoll);
    }
    for (int i = 0; i < misses; i++) {
      ASSERT_EQ(after_pass(false), Step::kPoll);
    }
    clock_.advance(microseconds(poll_.window_us()));
    ASSERT_EQ(after_pass(false), Step::kEnd);
    ASSERT_FALSE(poll_.polling());
  }

  FakeClock clock_;
  BusyPoll poll_{50};
  int asked_ = 0;
};

TEST_F(BusyPollTest, StartsAtTheMaximumWindow) {
  EXPECT_EQ(poll_.window_us(), 50U);
  EXPECT_FALSE(poll_.polling());
}

TEST_F(BusyPollTest, WorkStartsAPhaseWithConsent) {
  EXPECT_EQ(after_pass(false), Step::kSleep);
  EXPECT_EQ(asked_, 0);
  EXPECT_EQ(after_pass(true), Step::kStart);
  EXPECT_TRUE(poll_.polling());
  EXPECT_EQ(asked_, 1);
  // Polling goes on without asking again.
  EXPECT_EQ(after_pass(true, false), Step::kPoll);
  EXPECT_EQ(after_pass(false, false), Step::kPoll);
  EXPECT_EQ(asked_, 1);
}

TEST_F(BusyPollTest, WorkWithoutConsentSleeps) {
  EXPECT_EQ(after_pass(true, false), Step::kRefused);
  EXPECT_FALSE(poll_.polling());
  EXPECT_EQ(after_pass(false, false), Step::kSleep);
}

TEST_F(BusyPollTest, ThePhaseEndsAWindowAfterTheLastWork) {
  ASSERT_EQ(after_pass(true), Step::kStart);
  clock_.advance(microseconds(30));
  ASSERT_EQ(after_pass(true), Step::kPoll);  // the window restarts here
  clock_.advance(microseconds(49));
  EXPECT_EQ(after_pass(false), Step::kPoll);
  clock_.advance(microseconds(1));
  EXPECT_EQ(after_pass(false), Step::kEnd);
  EXPECT_FALSE(poll_.polling());
}

TEST_F(BusyPollTest, MissesShrinkTheWindowDownToItsMinimum) {
  for (const uint32_t want : {25U, 12U, 6U, 3U, BusyPoll::kMinWindowUs, BusyPoll::kMinWindowUs}) {
    phase(0, 40);
    EXPECT_EQ(poll_.window_us(), want);
  }
}

TEST_F(BusyPollTest, HitsGrowTheWindowUpToTheMaximum) {
  phase(0, 40);
  phase(0, 40);
  ASSERT_EQ(poll_.window_us(), 12U);
  for (const uint32_t want : {24U, 48U, 50U, 50U}) {
    phase(5, 0);  // 5 hits in 6 polls
    EXPECT_EQ(poll_.window_us(), want);
  }
}

TEST_F(BusyPollTest, TheRatiosBound) {
  phase(0, 40);
  ASSERT_EQ(poll_.window_us(), 25U);
  // 1 hit in 16 polls: neither 1 in kGrowRatio nor below 1 in kShrinkRatio.
  phase(1, 14);
  EXPECT_EQ(poll_.window_us(), 25U);
  // 1 hit in kGrowRatio polls exactly: grows.
  phase(1, 6);
  EXPECT_EQ(poll_.window_us(), 50U);
  // 1 hit in kShrinkRatio polls exactly: stays; one poll more: shrinks.
  phase(1, 30);
  EXPECT_EQ(poll_.window_us(), 50U);
  phase(1, 31);
  EXPECT_EQ(poll_.window_us(), 25U);
}

TEST(BusyPoll, AZeroWindowNeverPollsNorAsks) {
  FakeClock clock;
  BusyPoll poll(0);
  bool asked = false;
  EXPECT_EQ(poll.after_pass(clock.now(), true, [&] { return asked = true; }), Step::kSleep);
  EXPECT_FALSE(asked);
  EXPECT_FALSE(poll.polling());
}

}  // namespace
}  // namespace avm
