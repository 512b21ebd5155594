// SPDX-License-Identifier: GPL-2.0
// systemd's notification protocol (sd_notify): READY=1 with a STATUS=,
// RELOADING=1 around a reload, STOPPING=1, and WATCHDOG=1 at half the
// interval systemd asks for (WATCHDOG_USEC), sent from a timerfd in the
// service loop (so a stuck loop stops the pings and systemd restarts us).
// Without NOTIFY_SOCKET every call is a no-op.
#pragma once

#include <string>

#include "bridge/event_loop.h"
#include "lib/unique_fd.h"

namespace avm {

class Notifier {
 public:
  explicit Notifier(EventLoop& loop);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void ready(const std::string& status);
  void status(const std::string& status);
  void reloading();
  void stopping();
  bool watchdog() const { return timer_.get() >= 0; }

 private:
  void ping();
  EventLoop& loop_;
  UniqueFd timer_;
};

}  // namespace avm
