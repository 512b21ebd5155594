// SPDX-License-Identifier: GPL-2.0
// The software guest's side of a venet device, the way vbus_enet drives
// it: negotiate, SET_LINK, keep the RX ring full of whole buffers, send
// packets as header + frame chains (kicking only when the to_host signal
// says so), and take received chains back.
#pragma once

#include <linux/vbus_venet.h>

#include <cstring>
#include <optional>
#include <vector>

#include "testing/soft_guest.h"

namespace avm::test {

struct RxPacket {
  vbus_venet_hdr hdr{};
  std::vector<uint8_t> frame;
  uint32_t buffers = 0;
};

class GuestNet {
 public:
  GuestNet(SoftGuest& g, std::unique_ptr<GuestDevice> dev) : g_(g), dev_(std::move(dev)) {}

  GuestDevice& dev() { return *dev_; }
  GuestQueue& rx() { return dev_->queues[0]; }
  GuestQueue& tx() { return dev_->queues[1]; }
  uint64_t kicks = 0;
  uint64_t kicks_suppressed = 0;

  // VENET_CALL_NEGOTIATE; returns the granted set (0 on failure).
  uint64_t negotiate(uint64_t wanted) {
    std::vector<uint8_t> req(8);
    std::memcpy(req.data(), &wanted, 8);
    auto r = g_.call(VENET_CALL_NEGOTIATE, dev_->id(), req);
    if (!r || r->status != 0 || r->data.size() != 8) {
      return 0;
    }
    uint64_t got = 0;
    std::memcpy(&got, r->data.data(), 8);
    return got;
  }
  bool set_link(bool up) {
    const uint16_t v = up ? VENET_LINK_UP : 0;
    std::vector<uint8_t> req(2);
    std::memcpy(req.data(), &v, 2);
    auto r = g_.call(VENET_CALL_SET_LINK, dev_->id(), req);
    return r && r->status == 0;
  }
  vbus_venet_config config() const {
    vbus_venet_config c{};
    auto bytes = dev_->read_config();
    std::memcpy(&c, bytes.data(), std::min(bytes.size(), sizeof c));
    return c;
  }

  void kick_if_needed(GuestQueue& q) {
    if (q.kick()) {
      kicks++;
      g_.kick(*dev_);
    } else {
      kicks_suppressed++;
    }
  }

  // Posts every free rx slot as a whole buffer, then notifies.
  void refill() {
    const uint32_t n = rx().free_slots();
    for (uint32_t i = 0; i < n; i++) {
      rx().post(rx().view().buf_size());
    }
    if (n > 0) {
      kick_if_needed(rx());
    }
  }

  // Sends header + frame, split over pool buffers (a chain if needed).
  bool send(const std::vector<uint8_t>& frame, const vbus_venet_hdr& hdr = {}, bool kick = true) {
    std::vector<uint8_t> all(sizeof hdr + frame.size());
    std::memcpy(all.data(), &hdr, sizeof hdr);
    std::memcpy(all.data() + sizeof hdr, frame.data(), frame.size());
    const uint32_t bs = tx().view().buf_size();
    const uint32_t slots = static_cast<uint32_t>((all.size() + bs - 1) / bs);
    reclaim_tx();
    if (tx().free_slots() < slots) {
      return false;
    }
    for (uint32_t i = 0; i < slots; i++) {
      const size_t off = size_t{i} * bs;
      const size_t len = std::min<size_t>(bs, all.size() - off);
      std::memcpy(tx().next_buffer().data(), all.data() + off, len);
      tx().post(static_cast<uint32_t>(len), i + 1 < slots ? VBUS_DESC_F_NEXT : 0);
    }
    if (kick) {
      kick_if_needed(tx());
    }
    return true;
  }

  size_t reclaim_tx() {
    UsedEntry u[64];
    size_t total = 0;
    for (;;) {
      const size_t n = tx().poll_used(u);
      for (size_t i = 0; i < n; i++) {
        tx_errors += (u[i].flags & VBUS_USED_F_ERROR) != 0 ? 1 : 0;
      }
      total += n;
      if (n == 0) {
        return total;
      }
    }
  }
  uint64_t tx_errors = 0;

  // One received packet if a complete chain is there.
  std::optional<RxPacket> receive() {
    // The host publishes a chain's entries in order: take entries until
    // one without NEXT.
    RxPacket p;
    std::vector<uint8_t> bytes;
    for (;;) {
      UsedEntry u[1];
      if (rx().poll_used(u) == 0) {
        if (p.buffers == 0) {
          return std::nullopt;
        }
        continue;  // rest of the chain is being written
      }
      auto buf = rx().buffer(u[0].index);
      bytes.insert(bytes.end(), buf.begin(),
                   buf.begin() + static_cast<ptrdiff_t>(std::min<size_t>(u[0].len, buf.size())));
      p.buffers++;
      if ((u[0].flags & VBUS_USED_F_NEXT) == 0) {
        break;
      }
    }
    if (bytes.size() < sizeof p.hdr) {
      return std::nullopt;
    }
    std::memcpy(&p.hdr, bytes.data(), sizeof p.hdr);
    p.frame.assign(bytes.begin() + static_cast<ptrdiff_t>(sizeof p.hdr), bytes.end());
    return p;
  }

 private:
  SoftGuest& g_;
  std::unique_ptr<GuestDevice> dev_;
};

}  // namespace avm::test
