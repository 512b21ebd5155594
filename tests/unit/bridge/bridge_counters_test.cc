// SPDX-License-Identifier: GPL-2.0
// The bridge's statistics tables (bridge/bridge_counters.h): each names
// every member of its struct once, and each entry goes through the live
// counters, the hand-over JSON and the hand-over's add_counters()
// unchanged.  The tests walk the tables: a new entry is tested without a
// test edit.
#include "bridge/bridge_counters.h"

#include <gtest/gtest.h>

#include <array>
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

// The hand-over adds a predecessor's counters to the event queue's and
// the call channel's: every row of their tables, twice to see it adds.
TEST(BridgeCountersTest, AddCountersAddsEveryRow) {
  alignas(64) std::array<uint8_t, sizeof(vbus_evq_header) + 8 * sizeof(vbus_event)> evq_mem{};
  EventQueue evq(reinterpret_cast<vbus_evq_header*>(evq_mem.data()), 8);  // NOLINT: the layout
  const EventQueueCounters e = distinct(kEventQueueStats);
  evq.add_counters(e);
  evq.add_counters(e);
  const EventQueueCounters e2 = evq.counters();
  for (const StatField<EventQueueCounters>& f : kEventQueueStats) {
    EXPECT_EQ(e2.*f.member, 2 * (e.*f.member)) << "EventQueue::add_counters: " << f.name;
  }

  std::array<vbus_call_slot, 2> slots{};
  CallServer calls(slots.data(), slots.size(), evq,
                   [](const CallRequest&) { return CallResult{}; });
  const CallCounters c = distinct(kCallStats);
  calls.add_counters(c);
  calls.add_counters(c);
  for (const StatField<CallCounters>& f : kCallStats) {
    EXPECT_EQ(calls.counters().*f.member, 2 * (c.*f.member))
        << "CallServer::add_counters: " << f.name;
  }
}

TEST(BridgeCountersTest, CallKeysKeepTheirApiNames) {
  EXPECT_EQ(call_key("calls"), "calls");
  EXPECT_EQ(call_key("errors"), "call_errors");
  EXPECT_EQ(call_key("bad_len"), "call_bad_len");
}

}  // namespace
}  // namespace avm
