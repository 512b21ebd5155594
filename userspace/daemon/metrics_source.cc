// SPDX-License-Identifier: GPL-2.0
#include "daemon/metrics_source.h"

#include <map>
#include <string>

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
      b.add("alacrityvm_bridge_" + key + "_total", "counter",
            "Bridge counter " + key + " (docs/control-api.md).", {{"instance", inst}},
            v.get<double>());
    }
    for (const auto& [dev, counters] : j["devices"].items()) {
      for (const auto& [key, v] : counters.items()) {
        b.add("alacrityvm_venet_" + key + "_total", "counter",
              "venet counter " + key + " (VenetStats).", {{"instance", inst}, {"device", dev}},
              v.get<double>());
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
