// SPDX-License-Identifier: GPL-2.0
#include "daemon/notify.h"

#include <spdlog/spdlog.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdint>
#include <ctime>

namespace avm {

Notifier::Notifier(EventLoop& loop) : loop_(loop) {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) {
    return;
  }
  timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer_) {
    spdlog::error("watchdog: timerfd_create failed");
    return;
  }
  constexpr uint64_t kUsecPerSec = 1000000;
  constexpr uint64_t kNsecPerUsec = 1000;
  const uint64_t half = usec / 2;
  itimerspec its{};
  its.it_interval.tv_sec = static_cast<time_t>(half / kUsecPerSec);
  its.it_interval.tv_nsec = static_cast<long>((half % kUsecPerSec) * kNsecPerUsec);
  its.it_value = its.it_interval;
  if (::timerfd_settime(timer_.get(), 0, &its, nullptr) < 0 ||
      !loop_.add(timer_.get(), EPOLLIN, [this](uint32_t) { ping(); })) {
    spdlog::error("watchdog: cannot arm the timer");
    timer_.reset();
    return;
  }
  spdlog::info("watchdog: every {} ms", half / 1000);
}

Notifier::~Notifier() {
  if (timer_) {
    loop_.remove(timer_.get());
  }
}

void Notifier::ping() {
  // Only drains the timerfd: a short or failed read just means no
  // expiration was pending (glibc's fortified read() must be checked).
  uint64_t n = 0;
  if (::read(timer_.get(), &n, sizeof n) != static_cast<ssize_t>(sizeof n)) {
    n = 0;
  }
  (void)sd_notify(0, "WATCHDOG=1");
}

void Notifier::ready(const std::string& status) {
  (void)sd_notifyf(0, "READY=1\nSTATUS=%s", status.c_str());
}

void Notifier::status(const std::string& status) {
  (void)sd_notifyf(0, "STATUS=%s", status.c_str());
}

void Notifier::reloading() {
  timespec ts{};
  (void)::clock_gettime(CLOCK_MONOTONIC, &ts);
  constexpr uint64_t kUsecPerSec = 1000000;
  constexpr uint64_t kNsecPerUsec = 1000;
  const uint64_t now = static_cast<uint64_t>(ts.tv_sec) * kUsecPerSec +
                       static_cast<uint64_t>(ts.tv_nsec) / kNsecPerUsec;
  (void)sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", static_cast<unsigned long long>(now));
}

void Notifier::stopping() {
  (void)sd_notify(0, "STOPPING=1");
}

}  // namespace avm
