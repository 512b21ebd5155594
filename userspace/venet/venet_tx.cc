// SPDX-License-Identifier: GPL-2.0
#include "venet/venet_tx.h"

#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>

#include "venet/venet_features.h"

namespace avm {
namespace {

constexpr size_t kBatch = 64;
constexpr uint64_t kMaxChainBytes = uint64_t{kVenetHdrLen} + kVenetMaxFrame;
constexpr uint32_t kEthHlen = 14;

// Entries a maximal frame may span with @buf_size buffers.
uint32_t max_chain(const QueueView& v) {
  const uint64_t n = (kMaxChainBytes + v.buf_size() - 1) / v.buf_size();
  return static_cast<uint32_t>(std::min<uint64_t>(n, v.num_entries()));
}

}  // namespace

VenetTx::VenetTx(const QueueView& view, int tap_fd, VenetState& state, uint32_t signal_batch)
    : q_(view, max_chain(view)),
      tap_fd_(tap_fd),
      st_(state),
      signal_batch_(std::max<uint32_t>(signal_batch, 1)),
      iov_(size_t{max_chain(view)} + 1) {}

Result<size_t> VenetTx::process() {
  size_t packets = 0;
  std::array<HostDesc, kBatch> batch;
  for (;;) {
    auto n = q_.poll(batch);
    if (!n) {
      st_.counters.bad_descriptors.inc();
      return tl::unexpected(n.error());
    }
    if (*n == 0) {
      break;
    }
    for (size_t i = 0; i < *n; i++) {
      chain_.push_back(batch[i]);
      chain_bytes_ += batch[i].len();
      if (chain_bytes_ > kMaxChainBytes) {
        st_.counters.bad_descriptors.inc();
        return make_error(EPROTO, "tx chain of " + std::to_string(chain_bytes_) +
                                      "+ bytes exceeds a 64 KiB frame plus header");
      }
      if (!batch[i].has_next()) {
        transmit_chain();
        packets++;
      }
    }
  }
  if (since_signal_ > 0) {
    signal_guest();
  }
  return packets;
}

void VenetTx::transmit_chain() {
  // The header, gathered from the start of the chain into private memory.
  vbus_venet_hdr hdr{};
  auto* hp = reinterpret_cast<uint8_t*>(&hdr);  // NOLINT: a byte view of a POD
  size_t got = 0;
  for (const HostDesc& d : chain_) {
    if (got == sizeof hdr) {
      break;
    }
    auto buf = q_.buffer(d);
    const size_t n = std::min(buf.size(), sizeof hdr - got);
    std::memcpy(hp + got, buf.data(), n);
    got += n;
  }
  uint16_t flags = 0;
  const uint64_t frame = chain_bytes_ > kVenetHdrLen ? chain_bytes_ - kVenetHdrLen : 0;
  if (got < sizeof hdr || frame < kEthHlen || !venet_tx_header_ok(hdr, st_.feat())) {
    st_.counters.tx_errors.inc();
    flags = VBUS_USED_F_ERROR;
  } else if (!st_.link_active()) {
    st_.counters.tx_dropped_link.inc();
  } else {
    hdr.num_buffers = 0;             // transmit: always 0 (ours, not the guest's)
    std::vector<iovec>& iov = iov_;  // header + one piece per entry at most
    size_t niov = 0;
    iov[niov++] = {&hdr, sizeof hdr};
    size_t skip = sizeof hdr;
    bool fits = true;
    for (const HostDesc& d : chain_) {
      auto buf = q_.buffer(d);
      const size_t s = std::min(skip, buf.size());
      skip -= s;
      if (buf.size() == s) {
        continue;
      }
      if (niov == iov.size()) {
        fits = false;
        break;
      }
      iov[niov++] = {buf.data() + s, buf.size() - s};
    }
    const ssize_t w = fits ? ::writev(tap_fd_, iov.data(), static_cast<int>(niov)) : -1;
    if (w < 0) {
      st_.counters.tap_write_errors.inc();
    } else {
      st_.counters.tx_packets.inc();
      st_.counters.tx_bytes.inc(frame);
    }
  }
  for (const HostDesc& d : chain_) {
    q_.complete(d, (flags & VBUS_USED_F_ERROR) != 0 ? 0 : d.len(), flags);
  }
  since_signal_ += static_cast<uint32_t>(chain_.size());
  chain_.clear();
  chain_bytes_ = 0;
  if (since_signal_ >= signal_batch_) {
    signal_guest();
  }
}

void VenetTx::signal_guest() {
  since_signal_ = 0;
  if (q_.notify_guest()) {
    st_.counters.tx_signals.inc();
    if (st_.signal_guest && st_.signal_guest(1)) {
      st_.counters.events_posted.inc();
    }
  } else {
    st_.counters.tx_signals_suppressed.inc();
  }
}

}  // namespace avm
