// SPDX-License-Identifier: GPL-2.0
// alacrityvmd.conf (TOML, docs/control-api.md): parsed with toml++ and
// validated completely, every problem reported as
// "FILE:LINE:COLUMN: KEY: message" (unknown keys and tables included).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/spec.h"

namespace avm {

struct Config {
  std::string file;
  DaemonSettings daemon;
  MetricsSettings metrics;
  std::vector<InstanceSpec> instances;  // origin kConfig
  std::vector<DeviceSpec> devices;      // origin kConfig
};

struct ConfigResult {
  Config config;                    // valid only if errors is empty
  std::vector<std::string> errors;  // "FILE:LINE:COLUMN: KEY: message"
  bool ok() const { return errors.empty(); }
};

ConfigResult parse_config(std::string_view text, const std::string& file);
// A file that cannot be read is one error ("FILE: cannot read: ...").
ConfigResult load_config(const std::string& file);

}  // namespace avm
