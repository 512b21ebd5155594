// SPDX-License-Identifier: GPL-2.0
#include "venet/venet_rx.h"

#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "venet/venet_features.h"

namespace avm {
namespace {

constexpr size_t kFrameBuf = size_t{kVenetHdrLen} + kVenetMaxFrame + 4096;  // and some slack
constexpr size_t kPollBatch = 64;

}  // namespace

VenetRx::VenetRx(const QueueView& view, int tap_fd, VenetState& state)
    : q_(view, 1), tap_fd_(tap_fd), st_(state), frame_(kFrameBuf) {}

Status VenetRx::refill() {
  std::array<HostDesc, kPollBatch> batch;
  for (;;) {
    auto n = q_.poll(batch);
    if (!n) {
      st_.counters.bad_descriptors.inc();
      return tl::unexpected(n.error());
    }
    for (size_t i = 0; i < *n; i++) {
      // HostQueue checked bounds (max_chain 1 already rejects F_NEXT);
      // an rx buffer must at least hold the header.
      if (batch[i].len() < kVenetHdrLen) {
        st_.counters.bad_descriptors.inc();
        return make_error(EPROTO, "rx entry " + std::to_string(batch[i].index()) + " of " +
                                      std::to_string(batch[i].len()) +
                                      " bytes cannot hold the header");
      }
      avail_.push_back(batch[i]);
    }
    if (*n < batch.size()) {
      return {};
    }
  }
}

bool VenetRx::read_frame(size_t* len) {
  for (;;) {
    const ssize_t n = ::read(tap_fd_, frame_.data(), frame_.size());
    if (n >= 0) {
      *len = static_cast<size_t>(n);
      return true;
    }
    if (errno == EINTR) {
      continue;
    }
    // EAGAIN: drained.  Anything else (the tap went away): stop reading;
    // the next edge retries.
    tap_ready_ = false;
    return false;
  }
}

Result<size_t> VenetRx::process() {
  size_t delivered = 0;
  for (size_t i = 0; i < kBudget; i++) {
    if (auto ok = refill(); !ok) {
      return tl::unexpected(ok.error());
    }
    // A frame held back for lack of buffers goes first; while one is held
    // no other is read, so that frames wait in the tap's queue
    // (backpressure to the sender) instead of being dropped.
    size_t len = held_;
    if (len == 0) {
      if (!tap_ready_) {
        break;
      }
      if (!read_frame(&len)) {
        break;
      }
    }
    held_ = 0;
    if (!st_.link_active()) {
      st_.counters.rx_dropped_link.inc();
      continue;
    }
    if (len < kVenetHdrLen + 14) {
      continue;  // the tap never writes runts; nothing to deliver
    }
    const uint64_t f = st_.feat();
    const bool mrg = (f & VENET_F_MRG_RXBUF) != 0;
    // Buffers the frame needs, from the oldest posted one on.
    size_t need = 0;
    size_t room = 0;
    while (room < len && need < avail_.size() && (mrg || need == 0)) {
      room += avail_[need++].len();
    }
    if (room < len) {
      // Too big for what the guest can ever post at once (one buffer
      // without MRG_RXBUF, the whole ring with it): drop.  Otherwise keep
      // it and wait for the guest's refill.
      const bool never = mrg ? avail_.size() >= q_.view().num_entries() : !avail_.empty();
      if (never) {
        st_.counters.rx_too_big.inc();
        continue;
      }
      st_.counters.rx_no_buffers.inc();
      held_ = len;
      break;
    }
    // num_buffers is ours to fill (the tap skips it): private copy.
    auto* hdr = reinterpret_cast<vbus_venet_hdr*>(frame_.data());  // NOLINT: byte buffer
    hdr->num_buffers = static_cast<uint16_t>(need);
    size_t off = 0;
    for (size_t k = 0; k < need; k++) {
      const HostDesc d = avail_.front();
      avail_.pop_front();
      auto buf = q_.buffer(d);
      const size_t chunk = std::min(buf.size(), len - off);
      std::memcpy(buf.data(), frame_.data() + off, chunk);
      off += chunk;
      q_.complete(d, static_cast<uint32_t>(chunk), k + 1 < need ? VBUS_USED_F_NEXT : 0);
    }
    st_.counters.rx_packets.inc();
    st_.counters.rx_bytes.inc(len - kVenetHdrLen);
    delivered++;
  }
  // Pick up buffers posted meanwhile, so starved() is current.
  if (auto ok = refill(); !ok) {
    return tl::unexpected(ok.error());
  }
  if (delivered > 0) {
    pending_frames_ += delivered;
    // Coalescing holds the signal back only while the guest has no reason
    // to hurry: it still has at least half a ring of buffers posted, no
    // frame waits for more, and fewer than kCoalesceFrames are unseen.
    const bool low = avail_.size() * 2 < q_.view().num_entries();
    if (!coalescing_ || held_ != 0 || low || pending_frames_ >= kCoalesceFrames) {
      flush_signal();
    } else {
      st_.counters.rx_signals_deferred.inc();
    }
  }
  return delivered;
}

void VenetRx::flush_signal() {
  if (pending_frames_ == 0) {
    return;
  }
  pending_frames_ = 0;
  signal_guest();
}

void VenetRx::signal_guest() {
  if (q_.notify_guest()) {
    st_.counters.rx_signals.inc();
    if (st_.signal_guest && st_.signal_guest(0)) {
      st_.counters.events_posted.inc();
    }
  } else {
    st_.counters.rx_signals_suppressed.inc();
  }
}

}  // namespace avm
