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

}  // namespace

MetricOf metric_of(std::string_view object, const Stat& s) {
  constexpr std::string_view kMicros = "_us";
  std::string name = "alacrityvm_" + std::string(object) + "_" + s.key;
  auto value = static_cast<double>(s.value);
  if (name.ends_with(kMicros)) {
    name.resize(name.size() - kMicros.size());
    name += "_seconds";
    value /= 1e6;
  }
  if (s.kind == StatKind::kCounter) {
    return {name + "_total", "counter", value};
  }
  return {name, "gauge", value};
}

std::vector<metrics::Family> metric_families(const Service& s) {
  Builder b;
  b.add("alacrityvm_instances", "gauge", "Instances the daemon runs.", {},
        static_cast<double>(s.instance_names().size()));
  b.add("alacrityvm_devices", "gauge", "Devices the daemon knows (attached or not).", {},
        static_cast<double>(s.device_names(std::nullopt).size()));
  for (const std::string& inst : s.instance_names()) {
    const InstanceInfo info = s.instance(inst)->info();
    for (const char* st : {"waiting", "connected", "ready"}) {
      b.add("alacrityvm_instance_state", "gauge",
            "1 for the state the instance is in (waiting, connected, ready).",
            {{"instance", inst}, {"state", st}}, std::string(to_string(info.state)) == st ? 1 : 0);
    }
    for (const auto& [object, stats] : {std::pair{"bridge", instance_stats(info)},
                                        std::pair{"ivshmem", ivshmem_stats(info.ivshmem)}}) {
      for (const Stat& st : stats) {
        const MetricOf m = metric_of(object, st);
        b.add(m.name, m.type, std::string(st.help), {{"instance", inst}}, m.value);
      }
    }
    for (const AttachedDevice& d : info.devices) {
      for (const Stat& st : device_stats(d.stats)) {
        const MetricOf m = metric_of("venet", st);
        b.add(m.name, m.type, std::string(st.help), {{"instance", inst}, {"device", d.name}},
              m.value);
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
