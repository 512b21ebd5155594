// SPDX-License-Identifier: GPL-2.0
// The statistics alacrityvmd exports (daemon/stats_export.h,
// daemon/metrics_source.h), walked from the tables: every entry reaches
// the API JSON, the Prometheus text with the type its name says (a
// counter ends in _total, a gauge does not) and the SIGQUIT line; the
// ivshmem server's too.
#include "daemon/metrics_source.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "bridge/bridge_counters.h"
#include "daemon/stats_export.h"

namespace avm {
namespace {

template <class Stats, size_t N>
void fill(Stats& s, const StatField<Stats> (&table)[N], uint64_t& next) {
  for (const StatField<Stats>& f : table) {
    s.*f.member = next += 1000003;
  }
}

InstanceInfo distinct_instance() {
  InstanceInfo i;
  uint64_t next = 0;
  fill(i.bridge, kBridgeStats, next);
  fill(i.evq, kEventQueueStats, next);
  fill(i.call, kCallStats, next);
  fill(i.ivshmem, ivshmem::kServerStats, next);
  AttachedDevice d;
  d.name = "net0";
  fill(d.stats, kVenetStats, next);
  i.devices.push_back(d);
  return i;
}

size_t instance_entries() {
  return std::size(kBridgeStats) + std::size(kEventQueueStats) + std::size(kCallStats);
}

TEST(StatsExportTest, EveryEntryReachesTheApiJsonOnce) {
  const InstanceInfo info = distinct_instance();
  for (const std::vector<Stat>& stats : {instance_stats(info), ivshmem_stats(info.ivshmem),
                                         device_stats(info.devices.front().stats)}) {
    const rpc::Json j = stats_json(stats);
    EXPECT_EQ(j.size(), stats.size()) << "a key twice";
    for (const Stat& s : stats) {
      EXPECT_EQ(j[s.key].get<uint64_t>(), s.value) << s.key;
    }
  }
  EXPECT_EQ(instance_stats(info).size(), instance_entries());
  EXPECT_EQ(ivshmem_stats(info.ivshmem).size(), std::size(ivshmem::kServerStats));
  EXPECT_EQ(device_stats(info.devices.front().stats).size(), std::size(kVenetStats));
  const rpc::Json inst = stats_json(instance_stats(info));
  for (const char* key : {"doorbells", "evq_posted", "calls", "call_errors", "call_bad_len"}) {
    EXPECT_TRUE(inst.contains(key)) << key;
  }
}

TEST(StatsExportTest, EveryMetricHasTheTypeItsNameSays) {
  const InstanceInfo info = distinct_instance();
  std::set<std::string> names;
  auto check = [&names](std::string_view object, const Stat& s) {
    const MetricOf m = metric_of(object, s);
    EXPECT_TRUE(names.insert(m.name).second) << m.name;
    EXPECT_EQ(m.name.ends_with("_total"), s.kind == StatKind::kCounter) << m.name;
    EXPECT_STREQ(m.type, s.kind == StatKind::kCounter ? "counter" : "gauge") << m.name;
    EXPECT_FALSE(m.name.find("_us") != std::string::npos) << m.name << ": not in base units";
    if (s.key.ends_with("_us")) {
      EXPECT_DOUBLE_EQ(m.value, static_cast<double>(s.value) / 1e6) << m.name;
    } else {
      EXPECT_DOUBLE_EQ(m.value, static_cast<double>(s.value)) << m.name;
    }
  };
  for (const Stat& s : instance_stats(info)) {
    check("bridge", s);
  }
  for (const Stat& s : ivshmem_stats(info.ivshmem)) {
    check("ivshmem", s);
  }
  for (const Stat& s : device_stats(info.devices.front().stats)) {
    check("venet", s);
  }
  // The names tests and dashboards use.
  EXPECT_TRUE(names.contains("alacrityvm_venet_rx_packets_total"));
  EXPECT_TRUE(names.contains("alacrityvm_bridge_doorbells_total"));
  EXPECT_TRUE(names.contains("alacrityvm_bridge_evq_posted_total"));
  EXPECT_TRUE(names.contains("alacrityvm_venet_busy_poll_seconds"));
  EXPECT_TRUE(names.contains("alacrityvm_ivshmem_joined_total"));
}

TEST(StatsExportTest, TheStatsLineHasEveryEntry) {
  const InstanceInfo info = distinct_instance();
  const VenetStats& v = info.devices.front().stats;
  const std::string line = format_stats_line(info, true, &v);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const rpc::Json j = rpc::Json::parse(line);
  EXPECT_EQ(j.size(),
            instance_entries() + std::size(ivshmem::kServerStats) + std::size(kVenetStats));
  for (const StatField<BridgeCounters>& f : kBridgeStats) {
    EXPECT_EQ(j["bridge_" + std::string(f.name)], info.bridge.*f.member) << f.name;
  }
  for (const StatField<EventQueueCounters>& f : kEventQueueStats) {
    EXPECT_EQ(j["evq_" + std::string(f.name)], info.evq.*f.member) << f.name;
  }
  for (const StatField<CallCounters>& f : kCallStats) {
    EXPECT_EQ(j[call_key(f.name)], info.call.*f.member) << f.name;
  }
  for (const StatField<ivshmem::ServerStats>& f : ivshmem::kServerStats) {
    EXPECT_EQ(j["ivshmem_" + std::string(f.name)], info.ivshmem.*f.member) << f.name;
  }
  for (const StatField<VenetStats>& f : kVenetStats) {
    EXPECT_EQ(j["venet_" + std::string(f.name)], v.*f.member) << f.name;
  }
  // Without a bridge or a device, only what there is.
  EXPECT_EQ(rpc::Json::parse(format_stats_line(info, false, nullptr)).size(), 0U);
  EXPECT_EQ(rpc::Json::parse(format_stats_line(info, false, &v)).size(), std::size(kVenetStats));
}

}  // namespace
}  // namespace avm
