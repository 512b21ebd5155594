// SPDX-License-Identifier: GPL-2.0
// The legacy single-instance command line as a service config: the one
// avm::Service runs it (docs/handover.md, docs/man/alacrityvmd.8.scd).
//
//   alacrityvmd --socket S [--venet tap=...] [--handover-listen H]
//     one transient instance "default" on S with its --venet device
//     (ServiceOptions::legacy); a successor may take over on H.
//   alacrityvmd --takeover-from H [--handover-listen H2]
//     the service takes the old process's instance and devices over
//     (service_handover.cc, the same hand-over `--takeover` uses) and
//     runs them as its legacy objects.
#pragma once

#include <string>

#include "daemon/options.h"
#include "daemon/service.h"
#include "lib/error.h"

namespace avm {

struct TakeoverOptions {
  std::string listen;  // --handover-listen PATH
  std::string from;    // --takeover-from PATH
};

// Takes --handover-listen PATH and --takeover-from PATH (or =PATH) out of
// argv (so the regular option parser never sees them).
TakeoverOptions extract_takeover_options(int& argc, char** argv);

// The instance "default" (and its device) of the legacy flags in @o, the
// hand-over paths of @t, into @so.
void add_legacy_objects(const DaemonOptions& o, const TakeoverOptions& t, ServiceOptions& so);

// The legacy objects continuing one handed-over instance (the state
// InstanceHandover::export_state() wrote): the instance's spec and one
// device spec per attached device, origin kLegacy.
Result<LegacyObjects> legacy_objects_from_handover(const nlohmann::json& instance_state);

}  // namespace avm
