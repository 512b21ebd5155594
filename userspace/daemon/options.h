// SPDX-License-Identifier: GPL-2.0
// alacrityvmd's command line (docs/control-api.md, "Paths" and the legacy
// single-instance mode).
#pragma once

#include <optional>
#include <string>

#include "daemon/instance.h"
#include "daemon/venet_option.h"

namespace avm {

struct DaemonOptions {
  // Legacy mode (--socket given): one transient instance "default".
  InstanceConfig config;
  std::optional<DeviceSpec> venet;  // its one venet device, if any
  bool legacy() const { return !config.socket_path.empty(); }

  std::string config_file;     // --config ("" = the default, unless legacy)
  std::string control_socket;  // --control-socket (overrides the file)
  std::string state_dir;       // --state-dir (overrides the file)
  bool check_config = false;   // --check-config: validate and exit
  bool takeover = false;       // --takeover: adopt a running daemon's state
  bool foreground = false;     // stay attached to the terminal (else detach once listening)
  bool verbose = false;        // debug logging
};

inline constexpr const char* kDefaultConfigFile = "/etc/alacrityvm/alacrityvmd.conf";

// Parses argv into @out.  Returns an exit status when the program should
// exit right away (--help, --version: 0; a usage error: 2, after printing
// it), nullopt to go on.
std::optional<int> parse_options(int argc, char** argv, DaemonOptions& out);

}  // namespace avm
