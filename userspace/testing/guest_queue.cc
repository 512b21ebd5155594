// SPDX-License-Identifier: GPL-2.0
#include "testing/guest_queue.h"

#include <cstring>

#include "lib/shared_word.h"

namespace avm {

GuestQueue::GuestQueue(const QueueView& view)
    : view_(view), to_host_(view.to_host()), to_guest_(view.to_guest()) {}

std::span<uint8_t> GuestQueue::next_buffer() const {
  AVM_CHECK(!full());
  return view_.buffer(next_submit_ & view_.mask());
}

void GuestQueue::post(uint32_t len, uint16_t flags, uint32_t start) {
  AVM_CHECK(!full());
  AVM_CHECK(start <= view_.buf_size() && len <= view_.buf_size() - start);
  const uint32_t slot = next_submit_ & view_.mask();
  vbus_ring_desc& d = view_.submit()[slot];
  write_once(d.flags, flags);
  write_once(d.reserved, uint16_t{0});
  write_once(d.offset, slot * view_.buf_size() + start);
  write_once(d.len, len);
  // Body and buffer first, seq last (smp_store_release in the kernel
  // driver): pairs with the host's acquire load of seq.
  std::atomic_ref<uint32_t>(d.seq).store(next_submit_ + 1, std::memory_order_release);
  next_submit_++;
}

bool GuestQueue::submit(std::span<const uint8_t> data, uint16_t flags) {
  if (full() || data.size() > view_.buf_size()) {
    return false;
  }
  std::memcpy(next_buffer().data(), data.data(), data.size());
  post(static_cast<uint32_t>(data.size()), flags);
  return true;
}

size_t GuestQueue::poll_used(std::span<UsedEntry> out) {
  size_t got = 0;
  while (got < out.size() && outstanding() > 0) {
    vbus_ring_used& u = view_.used()[next_used_ & view_.mask()];
    // Acquire: pairs with the host's release store of the used seq, so the
    // body (and the buffer, for receives) is the host's.
    if (std::atomic_ref<uint32_t>(u.seq).load(std::memory_order_acquire) != next_used_ + 1) {
      break;
    }
    out[got++] = UsedEntry{next_used_, read_once(u.flags), read_once(u.len)};
    next_used_++;
  }
  return got;
}

}  // namespace avm
