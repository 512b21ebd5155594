// SPDX-License-Identifier: GPL-2.0
// The venet statistics table (venet/venet_counters.h): every VenetStats
// member is in kVenetStats once, and each entry goes through the live
// counters, the snapshot and the hand-over JSON unchanged.  The tests walk
// the table: a new entry is tested without a test edit.
#include "venet/venet_counters.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace avm {
namespace {

// A different value for every entry (@i: its index).
uint64_t value_of(size_t i) {
  return 1000003 * (i + 1);
}

VenetStats distinct_stats() {
  VenetStats s;
  for (size_t i = 0; i < std::size(kVenetStats); i++) {
    s.*kVenetStats[i].member = value_of(i);
  }
  return s;
}

TEST(VenetCountersTest, EveryMemberIsInTheTableOnce) {
  EXPECT_EQ(sizeof(VenetStats), std::size(kVenetStats) * sizeof(uint64_t));
  std::set<std::string> names;
  for (size_t i = 0; i < std::size(kVenetStats); i++) {
    const StatField<VenetStats>& f = kVenetStats[i];
    EXPECT_TRUE(names.insert(std::string(f.name)).second) << f.name;
    EXPECT_FALSE(f.help.empty()) << f.name;
    for (size_t j = 0; j < i; j++) {
      EXPECT_NE(kVenetStats[j].member, f.member) << f.name;
    }
  }
}

// busy_poll_us is the current budget: it goes down as well as up.
TEST(VenetCountersTest, TheBusyPollBudgetIsAGauge) {
  for (const StatField<VenetStats>& f : kVenetStats) {
    EXPECT_EQ(f.kind == StatKind::kGauge, f.name == "busy_poll_us") << f.name;
  }
}

TEST(VenetCountersTest, EveryCounterReachesTheSnapshot) {
  const VenetStats want = distinct_stats();
  VenetCounters c;
  c.continue_from(want);
  c.busy_poll_us.store(want.busy_poll_us, std::memory_order_relaxed);
  const VenetStats got = c.snapshot();
  for (const StatField<VenetStats>& f : kVenetStats) {
    EXPECT_EQ(got.*f.member, want.*f.member) << f.name;
  }
}

// What VenetDevice::runtime_state() exports and resume() adds back.
TEST(VenetCountersTest, EveryCounterSurvivesTheHandOver) {
  VenetCounters old;
  old.continue_from(distinct_stats());
  old.busy_poll_us.store(77, std::memory_order_relaxed);
  const nlohmann::json wire =
      nlohmann::json::parse(stats_to_json(old.snapshot(), kVenetStats, true).dump());
  VenetCounters taken;
  taken.continue_from(counters_from_json(wire, kVenetStats));
  const VenetStats want = old.snapshot();
  const VenetStats got = taken.snapshot();
  for (const StatField<VenetStats>& f : kVenetStats) {
    if (f.kind == StatKind::kCounter) {
      EXPECT_EQ(got.*f.member, want.*f.member) << f.name;
    } else {
      EXPECT_FALSE(wire.contains(std::string(f.name))) << f.name;
      EXPECT_EQ(got.*f.member, 0U) << f.name << ": a gauge is measured again";
    }
  }
}

// A state from an older daemon lacks the newer counters: they start at 0.
TEST(VenetCountersTest, AnOlderStateLacksCountersThatStartAtZero) {
  const nlohmann::json old = nlohmann::json::parse(R"({"tx_packets": 5, "stream_ticks": "x"})");
  const VenetStats s = counters_from_json(old, kVenetStats);
  EXPECT_EQ(s.tx_packets, 5U);
  EXPECT_EQ(s.stream_ticks, 0U);
  EXPECT_EQ(s.opens, 0U);
  EXPECT_EQ(counters_from_json(nlohmann::json(), kVenetStats).tx_packets, 0U);
}

}  // namespace
}  // namespace avm
