// SPDX-License-Identifier: GPL-2.0
#include "testing/soft_guest.h"

#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include "lib/shared_word.h"
#include "testing/guest_readers.h"

namespace avm {
namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point deadline_in(int ms) {
  return Clock::now() + std::chrono::milliseconds(ms);
}

}  // namespace

SoftGuest::SoftGuest(std::span<uint8_t> region, Doorbell doorbell, const EventFd* irq)
    : region_(region), doorbell_(std::move(doorbell)), irq_(irq) {}

vbus_bridge_header& SoftGuest::shared_header() const {
  return *reinterpret_cast<vbus_bridge_header*>(region_.data());  // NOLINT: checked by probe()
}

Status SoftGuest::probe() {
  auto h = read_header(region_);
  if (!h) {
    return tl::unexpected(h.error());
  }
  hdr_ = *h;
  // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): offsets validated by read_header
  evq_ = reinterpret_cast<vbus_evq_header*>(region_.data() + hdr_.evq_offset);
  ring_ = reinterpret_cast<vbus_event*>(evq_ + 1);
  calls_ = reinterpret_cast<vbus_call_slot*>(region_.data() + hdr_.call_offset);
  // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
  evq_signal_.emplace(&evq_->signal);
  call_seq_.assign(hdr_.call_slots, 0);
  probed_ = true;
  return {};
}

void SoftGuest::wait_a_bit(int ms) const {
  if (irq_ != nullptr) {
    if (irq_->wait(ms)) {
      irq_->consume();
    }
  } else {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }
}

bool SoftGuest::wait_until(const std::function<bool()>& cond, int timeout_ms) {
  const auto end = deadline_in(timeout_ms);
  for (;;) {
    if (cond()) {
      return true;
    }
    if (Clock::now() >= end) {
      return false;
    }
    wait_a_bit(1);
  }
}

Status SoftGuest::handshake(int timeout_ms, uint64_t features) {
  if (auto ok = probe(); !ok) {
    return ok;
  }
  vbus_bridge_header& h = shared_header();
  auto host_state = [&] {
    // Acquire: pairs with the host's release store of host_state, so what
    // it set up for that state (features, reset queues) is visible.
    return std::atomic_ref<uint32_t>(h.host_state).load(std::memory_order_acquire);
  };
  const auto end = deadline_in(timeout_ms);
  auto left = [&] {
    return static_cast<int>(
        std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count());
  };
  for (;;) {
    epoch_ = read_once(h.host_epoch);
    if (host_state() == VBUS_STATE_RUN) {
      // The host's RUN may be an old one: take it out of RUN first.
      std::atomic_ref<uint32_t>(h.guest_state).store(VBUS_STATE_RESET, std::memory_order_release);
      doorbell_(VBUS_BRIDGE_VECTOR);
      if (!wait_until([&] { return host_state() != VBUS_STATE_RUN; }, std::max(left(), 0))) {
        return make_error(ETIMEDOUT, "soft guest: host stayed RUN after our RESET");
      }
      continue;
    }
    write_once(h.guest_features, features & hdr_.host_features);
    write_once(h.guest_epoch, epoch_);
    // Release: guest_features and guest_epoch before guest_state; pairs
    // with the host's acquire load of guest_state.
    std::atomic_ref<uint32_t>(h.guest_state).store(VBUS_STATE_INIT, std::memory_order_release);
    doorbell_(VBUS_BRIDGE_VECTOR);
    bool restart = false;
    const bool ok = wait_until(
        [&] {
          const uint32_t st = host_state();
          if (read_once(h.host_epoch) != epoch_) {
            restart = true;  // the host restarted meanwhile
            return true;
          }
          return st == VBUS_STATE_RUN;
        },
        std::max(left(), 0));
    if (!ok) {
      return make_error(ETIMEDOUT, "soft guest: host did not reach RUN");
    }
    if (!restart) {
      break;
    }
  }
  // The host reset the event queue and the call channel on INIT.
  evq_next_ = 0;
  overflows_ = read_once(evq_->overflows);
  std::fill(call_seq_.begin(), call_seq_.end(), 0U);
  events_.clear();
  std::atomic_ref<uint32_t>(h.guest_state).store(VBUS_STATE_RUN, std::memory_order_release);
  doorbell_(VBUS_BRIDGE_VECTOR);
  // Arm the event queue; anything already posted is picked up right away.
  if (evq_signal_->arm()) {
    auto r = poll_events();
    if (!r) {
      return tl::unexpected(r.error());
    }
  }
  return {};
}

void SoftGuest::reset() {
  std::atomic_ref<uint32_t>(shared_header().guest_state)
      .store(VBUS_STATE_RESET, std::memory_order_release);
  doorbell_(VBUS_BRIDGE_VECTOR);
}

bool SoftGuest::host_left() const {
  const vbus_bridge_header& h = shared_header();
  return std::atomic_ref<const uint32_t>(h.host_state).load(std::memory_order_acquire) !=
             VBUS_STATE_RUN ||
         std::atomic_ref<const uint32_t>(h.host_epoch).load(std::memory_order_relaxed) != epoch_;
}

uint64_t SoftGuest::negotiated_features() const {
  return std::atomic_ref<const __u64>(shared_header().features).load(std::memory_order_relaxed);
}

Status SoftGuest::drain(uint32_t* got) {
  const uint32_t n = hdr_.evq_entries;
  const uint32_t ov = read_once(evq_->overflows);
  if (ov != overflows_) {
    overflows_ = ov;
    overflows_seen_++;
  }
  for (;;) {
    vbus_event& e = ring_[evq_next_ & (n - 1)];
    // Acquire: pairs with the host's release store of seq after the body.
    const uint32_t seq = std::atomic_ref<uint32_t>(e.seq).load(std::memory_order_acquire);
    if (seq != evq_next_ + 1) {
      if (seq == evq_next_ + 1 - n || (seq == 0 && evq_next_ < n)) {
        break;  // not written yet
      }
      return make_error(EPROTO, "soft guest: event " + std::to_string(evq_next_) + " has seq " +
                                    std::to_string(seq));
    }
    GuestEvent ev;
    ev.type = read_once(e.type);
    ev.dev_id = read_once(e.dev_id);
    ev.data = read_once(e.data);
    events_.push_back(ev);
    evq_next_++;
    (*got)++;
  }
  // Release: we finished reading the entries before the host may reuse
  // them; pairs with its acquire load of consumed.
  std::atomic_ref<uint32_t>(evq_->consumed).store(evq_next_, std::memory_order_release);
  return {};
}

Result<size_t> SoftGuest::poll_events() {
  if (!probed_) {
    return make_error(ENOTCONN, "soft guest: not probed");
  }
  uint32_t got = 0;
  Status st;
  evq_signal_->handle([&] {
    if (st) {
      st = drain(&got);
    }
  });
  if (!st) {
    return tl::unexpected(st.error());
  }
  return got;
}

std::optional<GuestEvent> SoftGuest::wait_event(const std::function<bool(const GuestEvent&)>& pred,
                                                int timeout_ms) {
  std::optional<GuestEvent> found;
  wait_until(
      [&] {
        if (!poll_events()) {
          return false;
        }
        for (auto it = events_.begin(); it != events_.end(); ++it) {
          if (pred(*it)) {
            found = *it;
            events_.erase(it);
            return true;
          }
        }
        return false;
      },
      timeout_ms);
  return found;
}

Result<CallResult> SoftGuest::call(uint32_t op, uint32_t dev_id, std::span<const uint8_t> req,
                                   int timeout_ms) {
  if (req.size() > VBUS_CALL_DATA_SIZE) {
    return make_error(EINVAL, "soft guest: call request too long");
  }
  return call_raw(op, dev_id, static_cast<uint32_t>(req.size()), req, timeout_ms);
}

Result<CallResult> SoftGuest::call_raw(uint32_t op, uint32_t dev_id, uint32_t req_len,
                                       std::span<const uint8_t> data, int timeout_ms) {
  if (!probed_ || call_seq_.empty()) {
    return make_error(ENOTCONN, "soft guest: no call channel");
  }
  const uint32_t i = next_slot_++ % static_cast<uint32_t>(call_seq_.size());
  vbus_call_slot& s = calls_[i];
  const uint32_t seq = ++call_seq_[i];
  write_once(s.op, op);
  write_once(s.dev_id, dev_id);
  write_once(s.req_len, req_len);
  std::memset(s.req_data, 0, sizeof s.req_data);
  if (!data.empty()) {  // an empty span's data() may be null: UB for memcpy
    std::memcpy(s.req_data, data.data(), std::min<size_t>(data.size(), sizeof s.req_data));
  }
  // Release: the request before req_seq; pairs with the host's acquire.
  std::atomic_ref<uint32_t>(s.req_seq).store(seq, std::memory_order_release);
  doorbell_(VBUS_BRIDGE_VECTOR);
  auto answered = [&] {
    // Acquire: pairs with the host's release store of resp_seq.
    return std::atomic_ref<uint32_t>(s.resp_seq).load(std::memory_order_acquire) == seq;
  };
  if (!wait_until(
          [&] {
            (void)poll_events();  // keeps the event queue moving
            return answered();
          },
          timeout_ms)) {
    return make_error(ETIMEDOUT, "soft guest: call " + std::to_string(op) + " timed out");
  }
  CallResult r;
  r.status = read_once(s.status);
  const uint32_t len = read_once(s.resp_len);
  if (len > VBUS_CALL_DATA_SIZE || r.status >= 4096) {
    return make_error(EPROTO, "soft guest: corrupt call response");
  }
  r.data.assign(s.resp_data, s.resp_data + len);
  return r;
}

Result<std::vector<vbus_dev_desc>> SoftGuest::devices() const {
  std::vector<vbus_dev_desc> out;
  for (uint32_t slot = 0; slot < hdr_.devtab_slots; slot++) {
    auto d = read_device(region_, hdr_, slot);
    if (!d) {
      return tl::unexpected(d.error());
    }
    if (d->state != VBUS_DEV_EMPTY) {
      out.push_back(*d);
    }
  }
  return out;
}

Result<vbus_dev_desc> SoftGuest::find_device(uint32_t id) const {
  auto all = devices();
  if (!all) {
    return tl::unexpected(all.error());
  }
  for (const vbus_dev_desc& d : *all) {
    if (d.id == id) {
      return d;
    }
  }
  return make_error(ENODEV, "soft guest: no device " + std::to_string(id));
}

Result<std::unique_ptr<GuestDevice>> SoftGuest::open(uint32_t id, int timeout_ms) {
  auto desc = find_device(id);
  if (!desc) {
    return tl::unexpected(desc.error());
  }
  if (desc->state != VBUS_DEV_PRESENT) {
    return make_error(ENODEV, "soft guest: device " + std::to_string(id) + " is being removed");
  }
  auto dev = std::make_unique<GuestDevice>();
  dev->desc = *desc;
  dev->config = region_.subspan(desc->area_offset + desc->config_offset, desc->config_size);
  for (uint32_t q = 0; q < desc->num_queues; q++) {
    auto view = guest_queue_view(region_, *desc, q);
    if (!view) {
      return tl::unexpected(view.error());
    }
    // vbus_ring_init(): our submit ring and our receive signal start at
    // zero; the host reads them only after the DEV_OPEN below, whose
    // release store of req_seq orders these stores.
    std::memset(static_cast<void*>(view->submit()), 0,
                size_t{view->num_entries()} * sizeof(vbus_ring_desc));
    std::memset(static_cast<void*>(view->to_guest()), 0, sizeof(vbus_shm_signal));
    dev->queues.emplace_back(*view);
  }
  auto r = call(VBUS_CALL_DEV_OPEN, id, {}, timeout_ms);
  if (!r) {
    return tl::unexpected(r.error());
  }
  if (r->status != 0) {
    return make_error(static_cast<int>(r->status),
                      "soft guest: DEV_OPEN " + std::to_string(id) + " refused");
  }
  for (const GuestQueue& q : dev->queues) {
    for (uint32_t i = 0; i < q.view().num_entries(); i++) {
      if (read_once(q.view().used()[i].seq) != 0) {
        return make_error(EIO, "soft guest: host did not reset the used ring on open");
      }
    }
  }
  return dev;
}

Status SoftGuest::close(uint32_t id, int timeout_ms) {
  auto r = call(VBUS_CALL_DEV_CLOSE, id, {}, timeout_ms);
  if (!r) {
    return tl::unexpected(r.error());
  }
  if (r->status != 0) {
    return make_error(static_cast<int>(r->status), "soft guest: DEV_CLOSE refused");
  }
  return {};
}

}  // namespace avm
