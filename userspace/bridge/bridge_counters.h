// SPDX-License-Identifier: GPL-2.0
// The statistics of a bridge instance (bridge/stat_table.h): the bridge
// state machine's (BridgeCounters, made from AVM_BRIDGE_STATS), the event
// queue's (EventQueueCounters) and the call channel's (CallCounters).
// Each has one table the API JSON, Prometheus, the stats line and the
// hand-over are made from; the struct is checked against it at compile time.
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
#define AVM_BRIDGE_STAT_MEMBER(name, kind, help) uint64_t name = 0;
  AVM_BRIDGE_STATS(AVM_BRIDGE_STAT_MEMBER)
#undef AVM_BRIDGE_STAT_MEMBER
};

inline constexpr StatField<BridgeCounters> kBridgeStats[] = {
#define AVM_BRIDGE_STAT_FIELD(name, kind, help) \
  {#name, &BridgeCounters::name, StatKind::kind, help},
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

// Names as in the hand-over state; the API and Prometheus say evq_<name>.
inline constexpr StatField<EventQueueCounters> kEventQueueStats[] = {
    {"posted", &EventQueueCounters::posted, StatKind::kCounter, "Events written to the ring."},
    {"overflows", &EventQueueCounters::overflows, StatKind::kCounter,
     "Events dropped: the ring was full."},
    {"bad_consumed", &EventQueueCounters::bad_consumed, StatKind::kCounter,
     "Events dropped: the guest's consumed index was garbage."},
    {"disabled_drops", &EventQueueCounters::disabled_drops, StatKind::kCounter,
     "Events dropped: the bridge was not RUN."},
    {"interrupts", &EventQueueCounters::interrupts, StatKind::kCounter, "Interrupts raised."},
    {"interrupts_no_sink", &EventQueueCounters::interrupts_no_sink, StatKind::kCounter,
     "Interrupts the signal asked for with no guest connected."},
    {"suppressed", &EventQueueCounters::suppressed, StatKind::kCounter,
     "Interrupts not raised: the signal said no need."},
};
static_assert(covers_each_member_once(kEventQueueStats));

// Names as in the hand-over state; the API and Prometheus say calls,
// call_errors, call_bad_len (call_key()).
inline constexpr StatField<CallCounters> kCallStats[] = {
    {"calls", &CallCounters::calls, StatKind::kCounter, "Call-channel requests answered."},
    {"errors", &CallCounters::errors, StatKind::kCounter,
     "Call-channel requests answered with a non-zero status."},
    {"bad_len", &CallCounters::bad_len, StatKind::kCounter,
     "Call-channel requests with req_len over VBUS_CALL_DATA_SIZE."},
};
static_assert(covers_each_member_once(kCallStats));

// The API key of a kCallStats entry: "calls", "call_errors", "call_bad_len".
inline std::string call_key(std::string_view name) {
  return name == "calls" ? std::string(name) : "call_" + std::string(name);
}

}  // namespace avm
