// SPDX-License-Identifier: GPL-2.0
// avmctl: one subcommand per control-API method (docs/control-api.md,
// "avmctl").  The whole CLI is run() so tests drive it in-process.
#pragma once

#include <ostream>

namespace avm::avmctl {

// Exit codes (docs/control-api.md).
enum Exit : int {
  kExitOk = 0,
  kExitDaemonError = 1,  // the daemon answered with an error
  kExitUsage = 2,        // bad command line
  kExitUnreachable = 3,  // no daemon on the socket, or no valid answer
  kExitDenied = 4,       // permission denied on the socket
};

// Parses @argv, calls the daemon, prints the result to @out and any error
// (as "avmctl: ...") to @err; returns the exit code.
int run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace avm::avmctl
