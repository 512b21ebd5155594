// SPDX-License-Identifier: GPL-2.0
// alacrityvmd's command line.
#pragma once

#include <optional>

#include "daemon/daemon.h"

namespace avm {

struct DaemonOptions {
  DaemonConfig config;
  bool foreground = false;  // stay attached to the terminal (else detach once listening)
  bool verbose = false;     // debug logging
};

// Parses argv into @out.  Returns an exit status when the program should
// exit right away (--help, --version: 0; a usage error: 2, after printing
// it), nullopt to go on.
std::optional<int> parse_options(int argc, char** argv, DaemonOptions& out);

}  // namespace avm
