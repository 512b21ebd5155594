// SPDX-License-Identifier: GPL-2.0
// The bridge's statistics tables (bridge/bridge_counters.h): each names
// every member of its struct once, and each entry goes through the live
// counters and the hand-over JSON unchanged.  The tests walk the tables:
// a new entry is tested without a test edit.
#include "bridge/bridge_counters.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace avm {
namespace {

template <class Stats, size_t N>
Stats distinct(const StatField<Stats> (&table)[N]) {
  Stats s{};
  for (size_t i = 0; i < N; i++) {
    s.*table[i].member = 1000003 * (i + 1);
  }
  return s;
}

template <class Stats, size_t N>
void expect_table_sound(const StatField<Stats> (&table)[N]) {
  EXPECT_EQ(sizeof(Stats), N * sizeof(uint64_t));
  std::set<std::string> names;
  for (size_t i = 0; i < N; i++) {
    EXPECT_TRUE(names.insert(std::string(table[i].name)).second) << table[i].name;
    EXPECT_FALSE(table[i].help.empty()) << table[i].name;
    // Everything the bridge counts only goes up.
    EXPECT_EQ(table[i].kind, StatKind::kCounter) << table[i].name;
    for (size_t j = 0; j < i; j++) {
      EXPECT_NE(table[j].member, table[i].member) << table[i].name;
    }
  }
}

template <class Stats, size_t N>
void expect_json_round_trip(const StatField<Stats> (&table)[N]) {
  const Stats want = distinct(table);
  const nlohmann::json wire = nlohmann::json::parse(stats_to_json(want, table).dump());
  const Stats got = counters_from_json(wire, table);
  for (const StatField<Stats>& f : table) {
    EXPECT_EQ(got.*f.member, want.*f.member) << f.name;
  }
  const Stats empty = counters_from_json(nlohmann::json::object(), table);
  for (const StatField<Stats>& f : table) {
    EXPECT_EQ(empty.*f.member, 0U) << f.name << ": missing in an older state";
  }
}

TEST(BridgeCountersTest, EveryTableCoversItsStructOnce) {
  expect_table_sound(kBridgeStats);
  expect_table_sound(kEventQueueStats);
  expect_table_sound(kCallStats);
}

TEST(BridgeCountersTest, EveryCounterSurvivesTheHandOverJson) {
  expect_json_round_trip(kBridgeStats);
  expect_json_round_trip(kEventQueueStats);
  expect_json_round_trip(kCallStats);
}

TEST(BridgeCountersTest, TheLiveCountersContinueFromAHandOver) {
  const BridgeCounters want = distinct(kBridgeStats);
  BridgeCounterSet live;
  live.continue_from(want);
  live.doorbells.inc();
  const BridgeCounters got = live.snapshot();
  for (const StatField<BridgeCounters>& f : kBridgeStats) {
    EXPECT_EQ(got.*f.member, want.*f.member + (f.name == "doorbells" ? 1 : 0)) << f.name;
  }
}

TEST(BridgeCountersTest, CallKeysKeepTheirApiNames) {
  EXPECT_EQ(call_key("calls"), "calls");
  EXPECT_EQ(call_key("errors"), "call_errors");
  EXPECT_EQ(call_key("bad_len"), "call_bad_len");
}

}  // namespace
}  // namespace avm
