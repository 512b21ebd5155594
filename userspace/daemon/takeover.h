// SPDX-License-Identifier: GPL-2.0
// Hand-over for the legacy single-instance mode (docs/handover.md; a
// service hands over with `--takeover`, service_handover.cc, or through
// systemd's FD store, service_fdstore.cc):
//
//   old:  alacrityvmd --foreground --socket S ... --handover-listen H
//   new:  alacrityvmd --foreground --takeover-from H
//
// The old process accepts one taker at a time on H (a SOCK_SEQPACKET
// socket, same uid or root) and runs handover::give() with the instance
// "default" (instance_handover.h).  When the taker serves, the old process
// lets go of everything quietly and stops as if sent SIGTERM, without a
// RESET.  If the taker fails or dies at any step before it serves, the old
// process simply serves on.  The new process serves the adopted instance
// (signals as in legacy mode: TERM/INT stop it with a RESET, USR1/USR2
// host link of its first device, QUIT stats) and, with --handover-listen,
// can itself be replaced the same way.
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "daemon/instance.h"
#include "lib/error.h"
#include "lib/eventfd.h"
#include "lib/unique_fd.h"

namespace avm {

struct TakeoverOptions {
  std::string listen;  // --handover-listen PATH
  std::string from;    // --takeover-from PATH
};

// Takes --handover-listen PATH and --takeover-from PATH (or =PATH) out of
// argv (so the regular option parser never sees them).
TakeoverOptions extract_takeover_options(int& argc, char** argv);

// Old side: accepts takers on its own thread.  @inst must outlive it.
class HandoverListener {
 public:
  static Result<std::unique_ptr<HandoverListener>> start(const std::string& path, Instance* inst);
  ~HandoverListener();
  HandoverListener(const HandoverListener&) = delete;
  HandoverListener& operator=(const HandoverListener&) = delete;
  // A taker serves now: the instance is abandoned.
  bool handed_over() const { return done_.load(); }

 private:
  HandoverListener() = default;
  void run();

  std::string path_;
  Instance* inst_ = nullptr;
  UniqueFd listen_;
  std::optional<EventFd> stop_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// New side: everything for `--takeover-from`: connect, take over, serve
// until a signal (or a further hand-over).  Returns the exit status.
int takeover_main(const TakeoverOptions& opts, int signal_fd);

}  // namespace avm
