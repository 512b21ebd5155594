// SPDX-License-Identifier: GPL-2.0
#include "daemon/metrics_source.h"

#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/service.h"

namespace avm {

namespace {

struct Builder {
  std::map<std::string, metrics::Family> families;

  void add(const std::string& name, const char* type, const std::string& help,
           std::map<std::string, std::string> labels, double value) {
    metrics::Family& f = families[name];
    if (f.name.empty()) {
      f.name = name;
      f.type = type;
      f.help = help;
    }
    f.samples.push_back(metrics::Sample{std::move(labels), value});
  }
};

// A counter in microseconds ("busy_poll_us") is exported in the base unit
// Prometheus requires ("busy_poll_seconds_total").
std::pair<std::string, double> base_unit(const std::string& key, double value) {
  constexpr std::string_view kMicros = "_us";
  if (key.size() > kMicros.size() && key.ends_with(kMicros)) {
    return {key.substr(0, key.size() - kMicros.size()) + "_seconds", value / 1e6};
  }
  return {key, value};
}

}  // namespace

std::vector<metrics::Family> metric_families(const Service& s) {
  Builder b;
  b.add("alacrityvm_instances", "gauge", "Instances the daemon runs.", {},
        static_cast<double>(s.instance_names().size()));
  b.add("alacrityvm_devices", "gauge", "Devices the daemon knows (attached or not).", {},
        static_cast<double>(s.device_names(std::nullopt).size()));
  auto stats = s.stats(std::nullopt);
  if (!stats) {
    return {};
  }
  for (const auto& [inst, j] : (*stats)["instances"].items()) {
    const Instance* i = s.instance(inst);
    const InstanceInfo info = i->info();
    for (const char* st : {"waiting", "connected", "ready"}) {
      b.add("alacrityvm_instance_state", "gauge",
            "1 for the state the instance is in (waiting, connected, ready).",
            {{"instance", inst}, {"state", st}}, std::string(to_string(info.state)) == st ? 1 : 0);
    }
    for (const auto& [key, v] : j["bridge"].items()) {
      const auto [name, value] = base_unit(key, v.get<double>());
      b.add("alacrityvm_bridge_" + name + "_total", "counter",
            "Bridge counter " + key + " (docs/control-api.md).", {{"instance", inst}}, value);
    }
    for (const auto& [dev, counters] : j["devices"].items()) {
      for (const auto& [key, v] : counters.items()) {
        const auto [name, value] = base_unit(key, v.get<double>());
        b.add("alacrityvm_venet_" + name + "_total", "counter",
              "venet counter " + key + " (VenetStats).", {{"instance", inst}, {"device", dev}},
              value);
      }
    }
  }
  std::vector<metrics::Family> out;
  for (auto& [name, f] : b.families) {
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace avm
