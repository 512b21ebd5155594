// SPDX-License-Identifier: GPL-2.0
#include "bridge/event_queue.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "bridge/bridge_counters.h"
#include "bridge/counter.h"
#include "lib/shared_word.h"

namespace avm {
namespace {

vbus_event* ring_of(vbus_evq_header* hdr) {
  // The entries follow the header (vbus.h); BridgeLayout placed both.
  return reinterpret_cast<vbus_event*>(hdr + 1);  // NOLINT: laid out there
}

}  // namespace

EventQueue::EventQueue(vbus_evq_header* hdr, uint32_t entries)
    : hdr_(hdr), ring_(ring_of(hdr)), entries_(entries), signal_(&hdr->signal) {
  AVM_CHECK(entries != 0 && (entries & (entries - 1)) == 0);
}

void EventQueue::reset() {
  std::lock_guard lock(mu_);
  std::memset(static_cast<void*>(hdr_), 0, sizeof(*hdr_) + size_t{entries_} * sizeof(vbus_event));
  produced_ = 0;
  overflows_ = 0;
}

void EventQueue::set_log_prefix(std::string prefix) {
  std::lock_guard lock(mu_);
  log_prefix_ = std::move(prefix);
}

void EventQueue::set_enabled(bool on) {
  std::lock_guard lock(mu_);
  enabled_ = on;
}

bool EventQueue::post(uint16_t type, uint32_t dev_id, uint32_t data) {
  std::lock_guard lock(mu_);
  if (!enabled_) {
    c_.disabled_drops++;
    return false;
  }
  // Acquire: pairs with the guest's smp_store_release() of consumed after
  // it finished reading those entries, so we never overwrite an entry the
  // guest is still reading.
  const uint32_t consumed =
      std::atomic_ref<uint32_t>(hdr_->consumed).load(std::memory_order_acquire);
  const uint32_t in_flight = produced_ - consumed;  // modulo 2^32
  bool stored = false;
  if (in_flight > entries_) {
    // Ahead of what we produced, or further behind than the ring holds.
    c_.bad_consumed++;
    if (log_worthy(c_.bad_consumed)) {
      spdlog::warn(
          "{}bridge: guest wrote event queue consumed {} (produced {}); event dropped ({} so "
          "far)",
          log_prefix_, consumed, produced_, c_.bad_consumed);
    }
  } else if (in_flight == entries_) {
    c_.overflows++;
    // From our own count: the guest can write the shared word too.
    write_once(hdr_->overflows, ++overflows_);
  } else {
    vbus_event& e = ring_[produced_ & (entries_ - 1)];
    write_once(e.type, type);
    write_once(e.reserved, uint16_t{0});
    write_once(e.dev_id, dev_id);
    write_once(e.data, data);
    // Body first, seq last: pairs with the guest's smp_load_acquire() of
    // seq before it reads the body.
    std::atomic_ref<uint32_t>(e.seq).store(produced_ + 1, std::memory_order_release);
    produced_++;
    c_.posted++;
    stored = true;
  }
  // The sender side of the queue's shm-signal (fence A inside notify()):
  // a dropped event still signals, so the guest sees the overflow.
  if (signal_.notify()) {
    raise_locked();
  } else {
    c_.suppressed++;
  }
  return stored;
}

void EventQueue::interrupt() {
  std::lock_guard lock(mu_);
  raise_locked();
}

void EventQueue::raise_locked() {
  if (sink_fd_) {
    const uint64_t one = 1;
    // EAGAIN: the counter is saturated, the guest is being interrupted
    // anyway.  Other errors: the guest went away; the owner will clear
    // the sink.  Neither is fatal on the data path.
    if (::write(sink_fd_.get(), &one, sizeof one) < 0 && errno != EAGAIN) {
      c_.interrupts_no_sink++;
      return;
    }
    c_.interrupts++;
  } else if (sink_) {
    sink_();
    c_.interrupts++;
  } else {
    c_.interrupts_no_sink++;
  }
}

void EventQueue::set_sink_fd(UniqueFd fd) {
  std::lock_guard lock(mu_);
  sink_fd_ = std::move(fd);
  sink_ = nullptr;
}

void EventQueue::set_sink(Sink sink) {
  std::lock_guard lock(mu_);
  sink_fd_.reset();
  sink_ = std::move(sink);
}

void EventQueue::clear_sink() {
  std::lock_guard lock(mu_);
  sink_fd_.reset();
  sink_ = nullptr;
}

bool EventQueue::has_sink() const {
  std::lock_guard lock(mu_);
  return sink_fd_.valid() || static_cast<bool>(sink_);
}

EventQueueCounters EventQueue::counters() const {
  std::lock_guard lock(mu_);
  return c_;
}

EventQueue::Position EventQueue::position() const {
  std::lock_guard lock(mu_);
  return Position{produced_, overflows_, enabled_};
}

void EventQueue::resume(const Position& p) {
  std::lock_guard lock(mu_);
  produced_ = p.produced;
  overflows_ = p.overflows;
  enabled_ = p.enabled;
}

void EventQueue::add_counters(const EventQueueCounters& c) {
  std::lock_guard lock(mu_);
  add_each_counter(c_, c, kEventQueueStats);
}

uint32_t EventQueue::produced() const {
  std::lock_guard lock(mu_);
  return produced_;
}

}  // namespace avm
