// SPDX-License-Identifier: GPL-2.0
#include "venet/venet_worker.h"

#include <fcntl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace avm {

VenetWorker::VenetWorker(EventLoop& loop, VenetTx& tx, VenetRx& rx, const EventFd* doorbell,
                         int tap_fd, VenetState& state, uint32_t busy_poll_max_us,
                         uint32_t rx_coalesce_us)
    : loop_(loop),
      tx_(tx),
      rx_(rx),
      doorbell_(doorbell),
      tap_fd_(tap_fd),
      st_(state),
      max_us_(busy_poll_max_us),
      coalesce_(rx_coalesce_us),
      spare_probe_(&VenetWorker::spare_cores) {}

long VenetWorker::spare_cores() {
  // "0.50 0.40 0.30 R/T LAST": R runnable tasks right now, this thread
  // (which is running) included.  Unknown: assume cores are idle.
  constexpr long kUnknown = 1L << 20;
  const UniqueFd fd(::open("/proc/loadavg", O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return kUnknown;
  }
  std::array<char, 128> buf{};
  const ssize_t n = ::read(fd.get(), buf.data(), buf.size() - 1);
  if (n <= 0) {
    return kUnknown;
  }
  const char* p = buf.data();
  for (int field = 0; field < 3; field++) {
    p = std::strchr(p, ' ');
    if (p == nullptr) {
      return kUnknown;
    }
    p++;
  }
  const long runnable = std::strtol(p, nullptr, 10);
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  if (runnable <= 0 || cpus <= 0) {
    return kUnknown;
  }
  return cpus - runnable;
}

bool VenetWorker::may_poll(Clock::time_point now, bool streaming) {
  if (now >= next_probe_) {
    spare_ = spare_probe_ ? spare_probe_() : 1;
    next_probe_ = now + std::chrono::milliseconds(kIdleProbeMs);
  }
  return spare_ >= (streaming ? 0 : 1);
}

void VenetWorker::set_timer(Clock::duration d) {
  if (!timer_) {
    return;
  }
  itimerspec its{};
  if (d > Clock::duration::zero()) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    its.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    its.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  } else if (!timer_armed_) {
    return;  // disarming a disarmed timer
  }
  // A zero it_value disarms.
  (void)::timerfd_settime(timer_.get(), 0, &its, nullptr);
  timer_armed_ = d > Clock::duration::zero();
}

Status VenetWorker::pass(bool* work) {
  if (rang_) {
    rang_ = false;
    st_.counters.doorbells.inc(doorbell_->consume());
  }
  Status fault;
  // The receiver loops clear dirty before and pending after each pass, so
  // a kick that raced with us either shows up as dirty (another pass) or
  // as a new doorbell.
  tx_.queue().to_host().handle([&] {
    if (fault) {
      auto r = tx_.process();
      if (!r) {
        fault = tl::unexpected(r.error());
      } else if (*r > 0) {
        *work = true;
      }
    }
  });
  rx_.queue().to_host().handle([&] {
    if (fault) {
      auto r = rx_.process();
      if (!r) {
        fault = tl::unexpected(r.error());
      } else if (*r > 0) {
        *work = true;
      }
    }
  });
  return fault;
}

Status VenetWorker::run() {
  if (doorbell_ != nullptr) {
    if (auto ok = loop_.add(doorbell_->fd(), EPOLLIN, [this](uint32_t) { rang_ = true; }); !ok) {
      return ok;
    }
  }
  if (auto ok = loop_.add(tap_fd_, EPOLLIN | EPOLLET, [this](uint32_t) { rx_.set_tap_ready(); });
      !ok) {
    return ok;
  }
  // Without a timer (no fd left) the TX signal simply stays armed.
  timer_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (timer_) {
    auto ok = loop_.add(timer_.get(), EPOLLIN, [this](uint32_t) {
      // Only drains the timerfd (a failed read: no expiration pending);
      // checked, as the packages' _FORTIFY_SOURCE requires.
      uint64_t expirations = 0;
      if (::read(timer_.get(), &expirations, sizeof expirations) < 0) {
        expirations = 0;
      }
      timer_armed_ = false;
      st_.counters.stream_ticks.inc();
    });
    if (!ok) {
      timer_.reset();
    }
  }
  ShmSignal& txs = tx_.queue().to_host();
  ShmSignal& rxs = rx_.queue().to_host();
  uint32_t budget_us = max_us_;
  bool polling = false;
  uint64_t phase_polls = 0;
  uint64_t phase_hits = 0;
  bool again = true;  // one pass at start: work may be waiting
  Clock::time_point deadline;
  Clock::time_point stream_until;     // streaming: TX signal stays disarmed
  Clock::time_point rx_stream_until;  // streaming to the guest: RX coalescing
  Clock::time_point coalesce_deadline;
  bool coalescing = false;  // a held-back RX signal has a deadline
  uint64_t moved = st_.counters.rx_bytes.get() + st_.counters.tx_bytes.get();
  uint64_t rx_moved = st_.counters.rx_bytes.get();
  Status result;
  for (;;) {
    if (!loop_.run_once(polling || again ? 0 : -1)) {
      break;  // stop requested
    }
    if (!polling && !again) {
      st_.counters.wakeups.inc();
    }
    again = false;
    bool work = false;
    if (auto ok = pass(&work); !ok) {
      result = ok;
      break;
    }
    const auto now = Clock::now();
    const uint64_t moved_now = st_.counters.rx_bytes.get() + st_.counters.tx_bytes.get();
    if (timer_ && moved_now - moved >= kStreamBytes) {
      stream_until = now + kStreamWindow;
    }
    moved = moved_now;
    const uint64_t rx_moved_now = st_.counters.rx_bytes.get();
    if (timer_ && coalesce_.count() > 0 && rx_moved_now - rx_moved >= kStreamBytes) {
      rx_stream_until = now + kStreamWindow;
    }
    rx_moved = rx_moved_now;
    const bool rx_stream = now < rx_stream_until;
    rx_.set_coalescing(rx_stream);
    if (!rx_.signal_pending()) {
      coalescing = false;
    } else if (!coalescing) {
      coalescing = true;
      coalesce_deadline = now + coalesce_;
    }
    if (coalescing && (!rx_stream || now >= coalesce_deadline)) {
      rx_.flush_signal();
      coalescing = false;
    }
    if (polling) {
      st_.counters.polls.inc();
      phase_polls++;
      if (work) {
        st_.counters.poll_hits.inc();
        phase_hits++;
      }
    }
    if (work && budget_us > 0 && (polling || may_poll(now, now < stream_until))) {
      if (!polling) {
        // Start polling: the guest stops kicking while we look anyway.
        polling = true;
        phase_polls = 0;
        phase_hits = 0;
        txs.disarm();
        rxs.disarm();
      }
      deadline = now + std::chrono::microseconds(budget_us);
    } else if (polling && now >= deadline) {
      polling = false;
      // Adapt to the hit ratio: polling that mostly finds nothing is CPU
      // the guest's vCPU did not get.
      if (phase_hits * kGoodRatio >= phase_polls && phase_hits > 0) {
        budget_us = std::min(max_us_, budget_us * 2);
      } else if (phase_hits * kBadRatio < phase_polls) {
        budget_us = std::max(kMinBudgetUs, budget_us / 2);
      }
      st_.counters.busy_poll_us.store(budget_us, std::memory_order_relaxed);
    } else if (work && budget_us > 0 && !polling) {
      st_.counters.polls_skipped_busy.inc();
    }
    if (!polling) {
      // Going to sleep: arm what should wake us, with the final re-check.
      bool more = false;
      if (now < stream_until) {
        // A stream: the next tap burst, doorbell or tick drains TX.
        txs.disarm();
        Clock::duration wait = std::min<Clock::duration>(kTick, stream_until - now);
        if (coalescing) {
          wait = std::min<Clock::duration>(wait, coalesce_deadline - now);
        }
        set_timer(wait);
        st_.counters.tx_arm_deferred.inc();
      } else {
        set_timer(Clock::duration::zero());
        more = txs.arm();
      }
      if (rx_.starved()) {
        more = rxs.arm() || more;
      } else {
        rxs.disarm();  // buffers in hand: refills need no kick
      }
      again = more || rx_.can_progress();
    }
  }
  rx_.flush_signal();  // stopping or paused: nothing stays held back
  set_timer(Clock::duration::zero());
  if (timer_) {
    loop_.remove(timer_.get());
    timer_.reset();
  }
  if (doorbell_ != nullptr) {
    loop_.remove(doorbell_->fd());
  }
  loop_.remove(tap_fd_);
  return result;
}

}  // namespace avm
