// SPDX-License-Identifier: GPL-2.0
// avm::SpareCoreGate: whether a venet I/O thread may start busy polling.
// Polling needs spare cores, counted by a probe (in production
// spare_cores_in_loadavg(): online CPUs minus /proc/loadavg's runnable
// tasks, this thread included) at most every kProbeInterval.  During a
// stream the core this thread runs on may be the last one spare (0);
// otherwise (request/response, sparse traffic) one more must stay spare for
// QEMU's main loop, which relays our interrupts, and for the peers, or
// polling delays the very answer it waits for.  Without them a spinning I/O
// thread only takes time from the vCPUs (polls_skipped_busy counts the
// refusals).
#pragma once

#include <chrono>
#include <functional>
#include <string_view>
#include <utility>

#include "venet/io_clock.h"

namespace avm {

class SpareCoreGate {
 public:
  static constexpr std::chrono::milliseconds kProbeInterval{50};

  // Cores left spare while this thread runs (negative: oversubscribed).
  using Probe = std::function<long()>;

  explicit SpareCoreGate(Probe probe) : probe_(std::move(probe)) {}

  // Whether polling may start now; @streaming: TxStream::on().
  bool may_poll(IoClock::time_point now, bool streaming);

 private:
  Probe probe_;
  long spare_ = 1;
  IoClock::time_point next_probe_{};
};

// The production probe: online CPUs minus the runnable tasks of
// /proc/loadavg; a large number when either is unknown (polling allowed).
long spare_cores_in_loadavg();

// The same from @loadavg's text ("0.50 0.40 0.30 R/T LAST": R runnable
// tasks right now) and @cpus online.
long spare_cores(std::string_view loadavg, long cpus);

}  // namespace avm
