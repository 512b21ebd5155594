// SPDX-License-Identifier: GPL-2.0
#include "venet/spare_core_gate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

#include "fake_clock.h"

namespace avm {
namespace {

using std::chrono::milliseconds;

class SpareCoreGateTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  long spare_ = 0;
  int probes_ = 0;
  SpareCoreGate gate_{[this] {
    probes_++;
    return spare_;
  }};
};

TEST_F(SpareCoreGateTest, NoSpareCoreRefusesPolling) {
  spare_ = 0;  // this thread has the last core
  EXPECT_FALSE(gate_.may_poll(clock_.now(), false));
}

TEST_F(SpareCoreGateTest, ASpareCoreAllowsPolling) {
  spare_ = 1;
  EXPECT_TRUE(gate_.may_poll(clock_.now(), false));
}

TEST_F(SpareCoreGateTest, AStreamMayPollOnTheLastCore) {
  spare_ = 0;
  EXPECT_TRUE(gate_.may_poll(clock_.now(), true));
}

TEST_F(SpareCoreGateTest, OversubscribedRefusesEvenAStream) {
  spare_ = -1;
  EXPECT_FALSE(gate_.may_poll(clock_.now(), true));
  EXPECT_FALSE(gate_.may_poll(clock_.now(), false));
}

TEST_F(SpareCoreGateTest, ProbesOncePerInterval) {
  spare_ = 0;
  EXPECT_FALSE(gate_.may_poll(clock_.now(), false));
  EXPECT_EQ(probes_, 1);
  // A core frees up: the gate sees it at the next probe, not before.
  spare_ = 2;
  clock_.advance(SpareCoreGate::kProbeInterval - milliseconds(1));
  EXPECT_FALSE(gate_.may_poll(clock_.now(), false));
  EXPECT_EQ(probes_, 1);
  clock_.advance(milliseconds(1));
  EXPECT_TRUE(gate_.may_poll(clock_.now(), false));
  EXPECT_EQ(probes_, 2);
  EXPECT_TRUE(gate_.may_poll(clock_.now(), false));
  EXPECT_EQ(probes_, 2);
}

TEST(SpareCores, CpusMinusRunnableTasks) {
  EXPECT_EQ(spare_cores("0.50 0.40 0.30 1/456 7890\n", 4), 3);
  EXPECT_EQ(spare_cores("0.50 0.40 0.30 2/456 7890\n", 2), 0);
  EXPECT_EQ(spare_cores("5.72 4.00 3.10 11/900 12345\n", 2), -9);
}

TEST(SpareCores, UnknownAllowsPolling) {
  for (const char* text :
       {"", "garbage", "0.50 0.40 0.30", "0.50 0.40 0.30 x/456 1", "0.50 0.40 0.30 0/456 1"}) {
    EXPECT_GE(spare_cores(text, 2), 1L << 20) << text;
  }
  EXPECT_GE(spare_cores("0.50 0.40 0.30 1/456 7890\n", 0), 1L << 20);
}

TEST(SpareCores, ThisMachinesLoadavgCountsThisThread) {
  // The calling thread is running, so at least one task is runnable.
  EXPECT_LE(spare_cores_in_loadavg(), ::sysconf(_SC_NPROCESSORS_ONLN) - 1);
}

}  // namespace
}  // namespace avm
