// SPDX-License-Identifier: GPL-2.0
// The statistics of an instance and of a device as the outside sees them:
// one list of {key, counter or gauge, help, value} per object, made from
// the statistics tables (bridge/bridge_counters.h, venet/venet_counters.h,
// ivshmem/server_counters.h).
// The API's stats objects (docs/control-api.md), the Prometheus families
// (metrics_source.h) and the legacy SIGQUIT line are all made from it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bridge/stat_table.h"
#include "daemon/instance.h"
#include "rpc/protocol.h"

namespace avm {

struct Stat {
  std::string key;  // the API key: "tx_packets", "evq_posted", "call_errors"
  StatKind kind;
  std::string_view help;
  uint64_t value;
};

// The bridge's counters, evq_<event queue counter>, calls and call_<...>.
std::vector<Stat> instance_stats(const InstanceInfo& i);
// The instance socket's ivshmem server counters (ivshmem::kServerStats).
std::vector<Stat> ivshmem_stats(const ivshmem::ServerStats& s);
// The venet counters and gauges (kVenetStats).
std::vector<Stat> device_stats(const VenetStats& v);
// {key: value}.
rpc::Json stats_json(const std::vector<Stat>& stats);

// The legacy "stats: {json}" line's object (SIGQUIT, exit): bridge_<bridge
// counter>, the evq_ and call keys of instance_stats() and ivshmem_<key>
// (@with_bridge), and venet_<key> of @first_device (if any), flat, on one
// line.
std::string format_stats_line(const InstanceInfo& i, bool with_bridge,
                              const VenetStats* first_device);

}  // namespace avm
