// SPDX-License-Identifier: GPL-2.0
// Counters of one venet device: written by its I/O thread (and, for a few,
// by the bridge loop), read by anyone (metrics, tests) through snapshot().
//
// AVM_VENET_STATS is the one list of them (bridge/stat_table.h): VenetStats,
// VenetCounters, snapshot(), kVenetStats (API JSON, Prometheus, the stats
// line, the hand-over) and the vbus_host.ko mapping (kernel_venet.cc) are
// made from it.  Columns: name, kCounter or kGauge, whether struct
// vbus_host_stats (modules/include/uapi/linux/vbus_host.h) has it
// (module or user), help.
#pragma once

#include <atomic>
#include <cstdint>

#include "bridge/counter.h"
#include "bridge/stat_table.h"

// NOLINTBEGIN(bugprone-macro-parentheses): the columns are names, not expressions
#define AVM_VENET_STATS(X)                                                                         \
  /* guest -> tap */                                                                               \
  X(tx_packets, kCounter, module, "Packets from the guest written to the TAP.")                    \
  X(tx_bytes, kCounter, module, "Bytes from the guest written to the TAP (without headers).")      \
  X(tx_errors, kCounter, module,                                                                   \
    "Packets from the guest rejected (bad header, runt): VBUS_USED_F_ERROR.")                      \
  X(tx_dropped_link, kCounter, module, "Packets from the guest dropped while the link was down.")  \
  X(tap_write_errors, kCounter, module, "Writes to the TAP that failed.")                          \
  /* tap -> guest */                                                                               \
  X(rx_packets, kCounter, module, "Packets from the TAP given to the guest.")                      \
  X(rx_bytes, kCounter, module, "Bytes from the TAP given to the guest (without headers).")        \
  X(rx_no_buffers, kCounter, module, "Stalls: a frame waited for the guest's buffers.")            \
  X(rx_too_big, kCounter, module, "Frames dropped: larger than a guest buffer without MRG_RXBUF.") \
  X(rx_dropped_link, kCounter, module, "Frames from the TAP dropped while the link was down.")     \
  /* notifications */                                                                              \
  X(doorbells, kCounter, module, "Guest kicks received (eventfd counts).")                         \
  X(tx_signals, kCounter, module, "TX notifications sent to the guest.")                           \
  X(tx_signals_suppressed, kCounter, module,                                                       \
    "TX notifications not sent: the guest's signal said not needed.")                              \
  X(rx_signals, kCounter, module, "RX notifications sent to the guest.")                           \
  X(rx_signals_suppressed, kCounter, module,                                                       \
    "RX notifications not sent: the guest's signal said not needed.")                              \
  X(rx_signals_deferred, kCounter, user, "RX notifications held back by receive coalescing.")      \
  X(events_posted, kCounter, user, "VBUS_EV_SIGNAL events the event queue took.")                  \
  /* polling */                                                                                    \
  X(wakeups, kCounter, module, "Times the I/O thread woke from sleep.")                            \
  X(polls, kCounter, module, "Busy-poll passes.")                                                  \
  X(poll_hits, kCounter, module, "Busy-poll passes that found work.")                              \
  X(busy_poll_us, kGauge, user, "The current adaptive busy-poll window.")                          \
  X(polls_skipped_busy, kCounter, user,                                                            \
    "Times there was work but no spare core: slept instead of polling.")                           \
  X(tx_arm_deferred, kCounter, user, "Sleeps with TX disarmed (a stream flows).")                  \
  X(stream_ticks, kCounter, user, "Times the TX stream timer fired.")                              \
  /* faults and lifecycle */                                                                       \
  X(bad_descriptors, kCounter, module, "Guest faults on the rings.")                               \
  X(resets, kCounter, user, "Quarantines after a guest fault.")                                    \
  X(opens, kCounter, user, "Times the guest opened the device.")
// NOLINTEND(bugprone-macro-parentheses)

namespace avm {

struct VenetStats {
#define AVM_VENET_STAT_MEMBER(name, kind, where, help) uint64_t name = 0;
  AVM_VENET_STATS(AVM_VENET_STAT_MEMBER)
#undef AVM_VENET_STAT_MEMBER
};

inline constexpr StatField<VenetStats> kVenetStats[] = {
#define AVM_VENET_STAT_FIELD(name, kind, where, help) \
  {#name, &VenetStats::name, StatKind::kind, help},
    AVM_VENET_STATS(AVM_VENET_STAT_FIELD)
#undef AVM_VENET_STAT_FIELD
};
static_assert(covers_each_member_once(kVenetStats));

// A gauge: one writer stores, anyone loads (relaxed: a statistic).
using Gauge = std::atomic<uint64_t>;

namespace venet_stats_detail {
template <StatKind K>
struct Cell {
  using type = Counter;
};
template <>
struct Cell<StatKind::kGauge> {
  using type = Gauge;
};
inline uint64_t read(const Counter& c) {
  return c.get();
}
inline uint64_t read(const Gauge& g) {
  return g.load(std::memory_order_relaxed);
}
// A hand-over continues the counters; a gauge is measured again.
inline void continue_from(Counter& c, uint64_t v) {
  c.inc(v);
}
inline void continue_from(Gauge& /*g*/, uint64_t /*v*/) {}
}  // namespace venet_stats_detail

struct VenetCounters {
#define AVM_VENET_STAT_CELL(name, kind, where, help) \
  venet_stats_detail::Cell<StatKind::kind>::type name;
  AVM_VENET_STATS(AVM_VENET_STAT_CELL)
#undef AVM_VENET_STAT_CELL

  VenetStats snapshot() const {
    VenetStats s;
#define AVM_VENET_STAT_READ(name, kind, where, help) s.name = venet_stats_detail::read(name);
    AVM_VENET_STATS(AVM_VENET_STAT_READ)
#undef AVM_VENET_STAT_READ
    return s;
  }

  // Adds @s's counters (a previous process's, after a hand-over).
  void continue_from(const VenetStats& s) {
#define AVM_VENET_STAT_ADD(name, kind, where, help) venet_stats_detail::continue_from(name, s.name);
    AVM_VENET_STATS(AVM_VENET_STAT_ADD)
#undef AVM_VENET_STAT_ADD
  }
};

}  // namespace avm
