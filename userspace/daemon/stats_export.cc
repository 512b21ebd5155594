// SPDX-License-Identifier: GPL-2.0
#include "daemon/stats_export.h"

#include "bridge/bridge_counters.h"

namespace avm {

namespace {

template <class Stats, size_t N>
void append(std::vector<Stat>& out, const Stats& s, const StatField<Stats> (&table)[N],
            std::string_view prefix) {
  for (const StatField<Stats>& f : table) {
    out.push_back(Stat{std::string(prefix) + std::string(f.name), f.kind, f.help, s.*f.member});
  }
}

}  // namespace

std::vector<Stat> instance_stats(const InstanceInfo& i) {
  std::vector<Stat> out;
  append(out, i.bridge, kBridgeStats, "");
  append(out, i.evq, kEventQueueStats, "evq_");
  for (const StatField<CallCounters>& f : kCallStats) {
    out.push_back(Stat{call_key(f.name), f.kind, f.help, i.call.*f.member});
  }
  return out;
}

std::vector<Stat> ivshmem_stats(const ivshmem::ServerStats& s) {
  std::vector<Stat> out;
  append(out, s, ivshmem::kServerStats, "");
  return out;
}

std::vector<Stat> device_stats(const VenetStats& v) {
  std::vector<Stat> out;
  append(out, v, kVenetStats, "");
  return out;
}

rpc::Json stats_json(const std::vector<Stat>& stats) {
  rpc::Json j = rpc::Json::object();
  for (const Stat& s : stats) {
    j[s.key] = s.value;
  }
  return j;
}

std::string format_stats_line(const InstanceInfo& i, bool with_bridge,
                              const VenetStats* first_device) {
  // nlohmann::ordered_json keeps the table's order on the line.
  nlohmann::ordered_json j = nlohmann::ordered_json::object();
  if (with_bridge) {
    const size_t bridge_keys = std::size(kBridgeStats);
    const std::vector<Stat> inst = instance_stats(i);
    for (size_t k = 0; k < inst.size(); k++) {
      j[(k < bridge_keys ? "bridge_" : "") + inst[k].key] = inst[k].value;
    }
    for (const Stat& s : ivshmem_stats(i.ivshmem)) {
      j["ivshmem_" + s.key] = s.value;
    }
  }
  if (first_device != nullptr) {
    for (const Stat& s : device_stats(*first_device)) {
      j["venet_" + s.key] = s.value;
    }
  }
  return j.dump();
}

}  // namespace avm
