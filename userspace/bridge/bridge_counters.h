// SPDX-License-Identifier: GPL-2.0
// The statistics of a bridge instance (bridge/stat_table.h): the bridge
// state machine's (BridgeCounters, AVM_BRIDGE_STATS below), the event
// queue's (EventQueueCounters, AVM_EVENT_QUEUE_STATS in event_queue.h) and
// the call channel's (CallCounters, AVM_CALL_STATS in call_server.h).
// Each X-macro makes its struct and its table, which the API JSON,
// Prometheus, the stats line and the hand-over (export, and
// EventQueue/CallServer::add_counters) are made from; the struct is
// checked against the table at compile time.
#pragma once

#include <cstdint>

#include "bridge/call_server.h"
#include "bridge/counter.h"
#include "bridge/event_queue.h"
#include "bridge/stat_table.h"

// NOLINTBEGIN(bugprone-macro-parentheses): the columns are names, not expressions
#define AVM_BRIDGE_STATS(X)                                                        \
  X(doorbells, kCounter, "Bridge vector wake-ups handled.")                        \
  X(inits, kCounter, "Guest INITs that brought the link to RUN.")                  \
  X(guest_resets, kCounter, "Guest RESETs that took the link down.")               \
  X(stale_inits, kCounter, "Guest INITs ignored: guest_epoch was not the host's.") \
  X(bad_guest_state, kCounter, "Times guest_state held a value that is no state.") \
  X(restarts, kCounter, "Host restarts (host_epoch bumps).")                       \
  X(device_faults, kCounter, "Devices quarantined.")                               \
  X(devices_added, kCounter, "Devices added to the bridge.")                       \
  X(devices_removed, kCounter, "Devices removed from the bridge.")
// NOLINTEND(bugprone-macro-parentheses)

namespace avm {

struct BridgeCounters {
  AVM_BRIDGE_STATS(AVM_STAT_MEMBER)
};

inline constexpr StatField<BridgeCounters> kBridgeStats[] = {
#define AVM_BRIDGE_STAT_FIELD(name, kind, help) AVM_STAT_FIELD(BridgeCounters, name, kind, help)
    AVM_BRIDGE_STATS(AVM_BRIDGE_STAT_FIELD)
#undef AVM_BRIDGE_STAT_FIELD
};
static_assert(covers_each_member_once(kBridgeStats));

// The live counters (the runtime's loop thread writes them).
struct BridgeCounterSet {
#define AVM_BRIDGE_STAT_CELL(name, kind, help) Counter name;
  AVM_BRIDGE_STATS(AVM_BRIDGE_STAT_CELL)
#undef AVM_BRIDGE_STAT_CELL

  BridgeCounters snapshot() const {
    BridgeCounters b;
#define AVM_BRIDGE_STAT_READ(name, kind, help) b.name = this->name.get();
    AVM_BRIDGE_STATS(AVM_BRIDGE_STAT_READ)
#undef AVM_BRIDGE_STAT_READ
    return b;
  }
  // Adds a previous process's counters (hand-over).
  void continue_from(const BridgeCounters& b) {
#define AVM_BRIDGE_STAT_ADD(name, kind, help) name.inc(b.name);
    AVM_BRIDGE_STATS(AVM_BRIDGE_STAT_ADD)
#undef AVM_BRIDGE_STAT_ADD
  }
};

// The event queue's (AVM_EVENT_QUEUE_STATS, event_queue.h).
inline constexpr StatField<EventQueueCounters> kEventQueueStats[] = {
#define AVM_EVQ_STAT_FIELD(name, kind, help) AVM_STAT_FIELD(EventQueueCounters, name, kind, help)
    AVM_EVENT_QUEUE_STATS(AVM_EVQ_STAT_FIELD)
#undef AVM_EVQ_STAT_FIELD
};
static_assert(covers_each_member_once(kEventQueueStats));

// The call channel's (AVM_CALL_STATS, call_server.h).
inline constexpr StatField<CallCounters> kCallStats[] = {
#define AVM_CALL_STAT_FIELD(name, kind, help) AVM_STAT_FIELD(CallCounters, name, kind, help)
    AVM_CALL_STATS(AVM_CALL_STAT_FIELD)
#undef AVM_CALL_STAT_FIELD
};
static_assert(covers_each_member_once(kCallStats));

// The API key of a kCallStats entry: "calls", "call_errors", "call_bad_len".
inline std::string call_key(std::string_view name) {
  return name == "calls" ? std::string(name) : "call_" + std::string(name);
}

}  // namespace avm
