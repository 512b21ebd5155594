// SPDX-License-Identifier: GPL-2.0
#include "venet/venet_worker.h"

#include <algorithm>
#include <chrono>

namespace avm {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint32_t kMinBudgetUs = 2;

}  // namespace

VenetWorker::VenetWorker(EventLoop& loop, VenetTx& tx, VenetRx& rx, const EventFd* doorbell,
                         int tap_fd, VenetState& state, uint32_t busy_poll_max_us)
    : loop_(loop),
      tx_(tx),
      rx_(rx),
      doorbell_(doorbell),
      tap_fd_(tap_fd),
      st_(state),
      max_us_(busy_poll_max_us) {}

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
  ShmSignal& txs = tx_.queue().to_host();
  ShmSignal& rxs = rx_.queue().to_host();
  uint32_t budget_us = max_us_;
  bool polling = false;
  bool phase_hit = false;
  bool again = true;  // one pass at start: work may be waiting
  Clock::time_point deadline;
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
    if (polling) {
      st_.counters.polls.inc();
      if (work) {
        st_.counters.poll_hits.inc();
        phase_hit = true;
      }
    }
    if (work && budget_us > 0) {
      if (!polling) {
        // Start polling: the guest stops kicking while we look anyway.
        polling = true;
        phase_hit = false;
        txs.disarm();
        rxs.disarm();
      }
      deadline = now + std::chrono::microseconds(budget_us);
    } else if (polling && now >= deadline) {
      polling = false;
      // Adapt: polling that found work is worth more time next burst.
      budget_us =
          phase_hit ? std::min(max_us_, budget_us * 2) : std::max(kMinBudgetUs, budget_us / 2);
      st_.counters.busy_poll_us.store(budget_us, std::memory_order_relaxed);
    }
    if (!polling) {
      // Going to sleep: arm what should wake us, with the final re-check.
      bool more = txs.arm();
      if (rx_.starved()) {
        more = rxs.arm() || more;
      } else {
        rxs.disarm();  // buffers in hand: refills need no kick
      }
      again = more || rx_.tap_ready();
    }
  }
  if (doorbell_ != nullptr) {
    loop_.remove(doorbell_->fd());
  }
  loop_.remove(tap_fd_);
  return result;
}

}  // namespace avm
