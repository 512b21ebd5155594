// SPDX-License-Identifier: GPL-2.0
// A statistics table: the one list of an object's statistics (name,
// member, counter or gauge, help) from which its snapshot, its JSON (API
// and hand-over), its Prometheus families and its stats line are made
// (docs/control-api.md).  A counter only goes up, also
// across a hand-over; a gauge is a current value (it can go down, and a
// new process measures it again).
//
// An object's statistics are a struct of uint64_t, and its table names
// each member once; covers_each_member_once() checks that at compile time.
// Both are made from one X-macro of rows X(name, kCounter or kGauge, help),
// so adding a statistic is one row (call_server.h):
//
//   #define AVM_CALL_STATS(X) X(calls, kCounter, "...") X(errors, ...)
//   struct CallCounters { AVM_CALL_STATS(AVM_STAT_MEMBER) };
//   inline constexpr StatField<CallCounters> kCallStats[] = {
//   #define AVM_CALL_STAT_FIELD(name, kind, help) AVM_STAT_FIELD(CallCounters, name, kind, help)
//       AVM_CALL_STATS(AVM_CALL_STAT_FIELD)};
//   static_assert(covers_each_member_once(kCallStats));
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace avm {

// NOLINTBEGIN(bugprone-macro-parentheses): the columns are names, not expressions
// A row's member and its table entry.
#define AVM_STAT_MEMBER(name, kind, help) uint64_t name = 0;
#define AVM_STAT_FIELD(Stats, name, kind, help) {#name, &Stats::name, ::avm::StatKind::kind, help},
// NOLINTEND(bugprone-macro-parentheses)

enum class StatKind { kCounter, kGauge };

template <class Stats>
struct StatField {
  std::string_view name;  // the JSON key (API and hand-over)
  uint64_t Stats::*member;
  StatKind kind;
  std::string_view help;  // one sentence, for # HELP and the docs
};

// True if @table has one entry per uint64_t of Stats: as many entries as
// the struct has words, no member twice, no name twice.
template <class Stats, size_t N>
constexpr bool covers_each_member_once(const StatField<Stats> (&table)[N]) {
  if (sizeof(Stats) != N * sizeof(uint64_t)) {
    return false;
  }
  for (size_t i = 0; i < N; i++) {
    for (size_t j = i + 1; j < N; j++) {
      if (table[i].member == table[j].member || table[i].name == table[j].name) {
        return false;
      }
    }
  }
  return true;
}

// {name: value} of every entry (@counters_only: of the counters).
template <class Stats, size_t N>
nlohmann::json stats_to_json(const Stats& s, const StatField<Stats> (&table)[N],
                             bool counters_only = false) {
  nlohmann::json j = nlohmann::json::object();
  for (const StatField<Stats>& f : table) {
    if (!counters_only || f.kind == StatKind::kCounter) {
      j[std::string(f.name)] = s.*f.member;
    }
  }
  return j;
}

// Adds @from's counters to @to (a predecessor's, after a hand-over);
// gauges stay as they are (the new process measures them).
template <class Stats, size_t N>
void add_each_counter(Stats& to, const Stats& from, const StatField<Stats> (&table)[N]) {
  for (const StatField<Stats>& f : table) {
    if (f.kind == StatKind::kCounter) {
      to.*f.member += from.*f.member;
    }
  }
}

// The counters of @j (stats_to_json's), for a hand-over: a counter that
// is missing or not a number (a state from an older daemon) is 0, and
// gauges are 0 (the new process measures them).
template <class Stats, size_t N>
Stats counters_from_json(const nlohmann::json& j, const StatField<Stats> (&table)[N]) {
  Stats s{};
  if (!j.is_object()) {
    return s;
  }
  for (const StatField<Stats>& f : table) {
    auto it = j.find(std::string(f.name));
    if (f.kind == StatKind::kCounter && it != j.end() && it->is_number_unsigned()) {
      s.*f.member = it->template get<uint64_t>();
    }
  }
  return s;
}

}  // namespace avm
