// SPDX-License-Identifier: GPL-2.0
// The Prometheus families alacrityvmd exports: per instance (state,
// bridge and event-queue counters) and per device (venet counters),
// labelled instance= and device=.
#pragma once

#include <vector>

#include "metrics/metrics.h"

namespace avm {

class Service;

std::vector<metrics::Family> metric_families(const Service& s);

}  // namespace avm
