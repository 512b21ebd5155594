// SPDX-License-Identifier: GPL-2.0
// The Prometheus families alacrityvmd exports: per instance (state,
// bridge, event-queue and call-channel counters, the ivshmem server's
// counters) and per device (venet counters and gauges), labelled
// instance= and device=; made from the statistics tables (stats_export.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/stats_export.h"
#include "metrics/metrics.h"

namespace avm {

class Service;

std::vector<metrics::Family> metric_families(const Service& s);

// How one statistic is exported: alacrityvm_<object>_<key>, in base units
// ("_us" becomes "_seconds", the value / 1e6), "_total" and type counter
// for a counter, type gauge for a gauge.
struct MetricOf {
  std::string name;
  const char* type;
  double value;
};
MetricOf metric_of(std::string_view object, const Stat& s);

}  // namespace avm
