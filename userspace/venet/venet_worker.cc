// SPDX-License-Identifier: GPL-2.0
#include "venet/venet_worker.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "venet/busy_poll.h"

namespace avm {

VenetWorker::VenetWorker(EventLoop& loop, VenetTx& tx, VenetRx& rx, const EventFd* doorbell,
                         int tap_fd, VenetState& state, uint32_t busy_poll_max_us,
                         uint32_t rx_coalesce_us, SpareCoreGate::Probe spare_probe)
    : loop_(loop),
      tx_(tx),
      rx_(rx),
      doorbell_(doorbell),
      tap_fd_(tap_fd),
      st_(state),
      busy_poll_max_us_(busy_poll_max_us),
      rx_coalesce_(rx_coalesce_us),
      spare_(std::move(spare_probe)) {}

Status VenetWorker::run() {
  if (auto ok = watch(); !ok) {
    return ok;
  }
  VenetCounters& c = st_.counters;
  ShmSignal& txs = tx_.queue().to_host();
  ShmSignal& rxs = rx_.queue().to_host();
  BusyPoll busy(busy_poll_max_us_);
  TxStream stream(static_cast<bool>(timer_), c.rx_bytes.get() + c.tx_bytes.get());
  RxCoalesce coalesce(static_cast<bool>(timer_), rx_coalesce_, c.rx_bytes.get());
  bool again = true;  // one pass at start: work may be waiting
  Status result;
  while (loop_.run_once(busy.polling() || again ? 0 : -1)) {  // false: stop requested
    if (!busy.polling() && !again) {
      c.wakeups.inc();
    }
    again = false;
    bool work = false;
    if (auto ok = pass(&work); !ok) {
      result = ok;
      break;
    }
    const auto now = IoClock::now();
    stream.after_pass(now, c.rx_bytes.get() + c.tx_bytes.get());
    const RxCoalesce::Step rx = coalesce.after_pass(now, c.rx_bytes.get(), rx_.signal_pending());
    rx_.set_coalescing(rx.coalesce);
    if (rx.flush) {
      rx_.flush_signal();
    }
    if (busy.polling()) {
      c.polls.inc();
      if (work) {
        c.poll_hits.inc();
      }
    }
    switch (busy.after_pass(now, work, [&] { return spare_.may_poll(now, stream.on(now)); })) {
      case BusyPoll::Step::kStart:
        // The guest stops kicking while we look anyway.
        txs.disarm();
        rxs.disarm();
        break;
      case BusyPoll::Step::kEnd:
        c.busy_poll_us.store(busy.window_us(), std::memory_order_relaxed);
        break;
      case BusyPoll::Step::kRefused:
        c.polls_skipped_busy.inc();
        break;
      case BusyPoll::Step::kSleep:
      case BusyPoll::Step::kPoll:
        break;
    }
    if (!busy.polling()) {
      again = prepare_sleep(now, stream, coalesce);
    }
  }
  rx_.flush_signal();  // stopping or paused: nothing stays held back
  unwatch();
  return result;
}

bool VenetWorker::prepare_sleep(IoClock::time_point now, const TxStream& stream,
                                const RxCoalesce& coalesce) {
  ShmSignal& txs = tx_.queue().to_host();
  ShmSignal& rxs = rx_.queue().to_host();
  bool more = false;
  if (stream.on(now)) {
    // The next tap burst, doorbell or tick drains TX.
    txs.disarm();
    IoClock::duration wait = stream.tick(now);
    if (const auto deadline = coalesce.deadline()) {
      wait = std::min<IoClock::duration>(wait, *deadline - now);
    }
    set_timer(wait);
    st_.counters.tx_arm_deferred.inc();
  } else {
    set_timer(IoClock::duration::zero());
    more = txs.arm();
  }
  if (rx_.starved()) {
    more = rxs.arm() || more;
  } else {
    rxs.disarm();  // buffers in hand: refills need no kick
  }
  return more || rx_.can_progress();
}

Status VenetWorker::watch() {
  if (doorbell_ != nullptr) {
    if (auto ok = loop_.add(doorbell_->fd(), EPOLLIN, [this](uint32_t) { rang_ = true; }); !ok) {
      return ok;
    }
  }
  if (auto ok = loop_.add(tap_fd_, EPOLLIN | EPOLLET, [this](uint32_t) { rx_.set_tap_ready(); });
      !ok) {
    return ok;
  }
  // Without a timer (no fd left) there is no stream mode: the TX signal
  // simply stays armed.
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
  return {};
}

void VenetWorker::unwatch() {
  set_timer(IoClock::duration::zero());
  if (timer_) {
    loop_.remove(timer_.get());
    timer_.reset();
  }
  if (doorbell_ != nullptr) {
    loop_.remove(doorbell_->fd());
  }
  loop_.remove(tap_fd_);
}

void VenetWorker::set_timer(IoClock::duration d) {
  if (!timer_) {
    return;
  }
  itimerspec its{};
  if (d > IoClock::duration::zero()) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
    its.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    its.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
  } else if (!timer_armed_) {
    return;  // disarming a disarmed timer
  }
  // A zero it_value disarms.
  (void)::timerfd_settime(timer_.get(), 0, &its, nullptr);
  timer_armed_ = d > IoClock::duration::zero();
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

}  // namespace avm
