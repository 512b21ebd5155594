// SPDX-License-Identifier: GPL-2.0
// The statistics of an ivshmem server (bridge/stat_table.h): one row each
// in AVM_IVSHMEM_STATS, from which ServerStats, kServerStats and so the
// hand-over's "stats" object, the API's per-instance "ivshmem" stats,
// the alacrityvm_ivshmem_* Prometheus families and the stats line's
// ivshmem_* keys are made (docs/control-api.md).  The server runs on one
// thread and counts in ServerStats directly.
#pragma once

#include <cstdint>

#include "bridge/stat_table.h"

// NOLINTBEGIN(bugprone-macro-parentheses): the columns are names, not expressions
#define AVM_IVSHMEM_STATS(X)                                                                 \
  X(accepted, kCounter, "Connections accepted on the instance's socket.")                    \
  X(joined, kCounter, "Clients that got their full handshake (sent or queued).")             \
  X(left, kCounter, "Clients removed after joining.")                                        \
  X(refused, kCounter, "Connections refused: too many clients, no free id or no eventfds.")  \
  X(handshake_failed, kCounter, "Clients that vanished while their handshake was sent.")     \
  X(dropped_slow, kCounter, "Clients dropped for not reading their messages.")               \
  X(unexpected_input, kCounter, "Reads of data a client should never send.")                 \
  X(delayed_messages, kCounter, "Messages that had to wait for space in a client's socket.") \
  X(accept_errors, kCounter, "accept() failures other than nothing pending.")
// NOLINTEND(bugprone-macro-parentheses)

namespace avm::ivshmem {

struct ServerStats {
  AVM_IVSHMEM_STATS(AVM_STAT_MEMBER)
};

inline constexpr StatField<ServerStats> kServerStats[] = {
#define AVM_IVSHMEM_STAT_FIELD(name, kind, help) AVM_STAT_FIELD(ServerStats, name, kind, help)
    AVM_IVSHMEM_STATS(AVM_IVSHMEM_STAT_FIELD)
#undef AVM_IVSHMEM_STAT_FIELD
};
static_assert(covers_each_member_once(kServerStats));

}  // namespace avm::ivshmem
