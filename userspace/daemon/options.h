// SPDX-License-Identifier: GPL-2.0
// alacrityvmd's command line (docs/control-api.md, "Paths" and the legacy
// single-instance mode), from one table of flags: daemon_flags() drives
// parsing, --help, the range and path errors, and the docs test
// (tests/system/test_avmctl_docs.py) checks alacrityvmd(8) against --help.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

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
  // The legacy hand-over (legacy.h): listen for a successor, or take the
  // instance over from a predecessor.
  std::string handover_listen;  // --handover-listen
  std::string takeover_from;    // --takeover-from
};

inline constexpr const char* kDefaultConfigFile = "/etc/alacrityvm/alacrityvmd.conf";

// How a flag's value is read and checked.
enum class FlagKind {
  kSwitch,      // no value: sets a bool
  kText,        // any text without control characters (names.h)
  kPath,        // an absolute path (names.h)
  kSocketPath,  // an absolute path short enough for a UNIX socket
  kUint,        // an integer in [min, max]
  kSize,        // bytes: an integer or "4M", "16MiB" (size.h)
  kMode,        // file permissions, octal, at most 07777
  kVenet,       // a --venet device spec (venet_option.h)
};

// Where a flag's value goes in a DaemonOptions.
using FlagTarget =
    std::variant<bool*, std::string*, unsigned*, uint64_t*, std::optional<DeviceSpec>*>;

struct DaemonFlag {
  std::string_view name;  // "--vectors"; "-v,--verbose" with a short name
  FlagKind kind = FlagKind::kSwitch;
  uint64_t min = 0;  // kUint: the range
  uint64_t max = 0;
  std::string_view value_name;  // "N", "PATH"... ("" for a switch)
  std::string_view help;        // one line; "" = not in --help (legacy hand-over)
  FlagTarget (*member)(DaemonOptions&) = nullptr;
  std::string_view shown_default;  // --help's default when the member's is not it
};

// Every flag of alacrityvmd but --help and --version, in --help's order.
const std::vector<DaemonFlag>& daemon_flags();

// @f's value in @o as people write it ("" for a switch or an unset value).
std::string flag_text(const DaemonFlag& f, DaemonOptions& o);

// Parses argv into @out.  Returns an exit status when the program should
// exit right away (--help, --version: 0; a usage error: 2, after printing
// it), nullopt to go on.
std::optional<int> parse_options(int argc, char** argv, DaemonOptions& out);

}  // namespace avm
