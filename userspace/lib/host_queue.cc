// SPDX-License-Identifier: GPL-2.0
#include "lib/host_queue.h"

#include <string>

#include "lib/shared_word.h"

namespace avm {
namespace {

constexpr uint16_t kKnownDescFlags = VBUS_DESC_F_NEXT;
constexpr uint16_t kKnownUsedFlags = VBUS_USED_F_NEXT | VBUS_USED_F_ERROR;

}  // namespace

const char* to_string(DescFault f) {
  switch (f) {
    case DescFault::kNone:
      return "none";
    case DescFault::kSeq:
      return "bad seq";
    case DescFault::kFlags:
      return "unknown flags";
    case DescFault::kReserved:
      return "reserved field not zero";
    case DescFault::kOffset:
      return "offset outside the slot's pool buffer";
    case DescFault::kLength:
      return "length runs past the slot's pool buffer";
    case DescFault::kChain:
      return "chain too long";
  }
  return "?";
}

HostQueue::HostQueue(const QueueView& view, uint32_t max_chain)
    : view_(view),
      to_host_(view.to_host()),
      to_guest_(view.to_guest()),
      max_chain_(max_chain == 0 ? view.num_entries() : max_chain) {
  AVM_CHECK(max_chain_ <= view.num_entries());
}

DescFault HostQueue::check(const vbus_ring_desc& copy, uint32_t index, bool* ready) const {
  const uint32_t n = view_.num_entries();
  // The slot holds entry index - n until the guest writes entry index; in
  // the first lap it holds the zero the host laid out.
  const uint32_t old_seq = lap_ < n ? 0 : index + 1 - n;
  *ready = false;
  if (copy.seq == old_seq) {
    return DescFault::kNone;
  }
  if (copy.seq != index + 1) {
    return DescFault::kSeq;
  }
  *ready = true;
  if ((copy.flags & ~kKnownDescFlags) != 0) {
    return DescFault::kFlags;
  }
  if (copy.reserved != 0) {
    return DescFault::kReserved;
  }
  const uint64_t buf = view_.buf_size();
  const uint64_t start = uint64_t{index & view_.mask()} * buf;
  if (copy.offset < start || copy.offset - start >= buf) {
    return DescFault::kOffset;
  }
  // 64-bit sum of two 32-bit values: cannot overflow.
  if (uint64_t{copy.offset} + copy.len > start + buf) {
    return DescFault::kLength;
  }
  if ((copy.flags & VBUS_DESC_F_NEXT) != 0 && chain_len_ + 1 >= max_chain_) {
    return DescFault::kChain;
  }
  return DescFault::kNone;
}

tl::unexpected<Error> HostQueue::fault_error() const {
  return make_error(EPROTO, std::string("guest fault on submit entry ") +
                                std::to_string(fault_index_) + ": " + to_string(fault_));
}

Result<size_t> HostQueue::poll(std::span<HostDesc> out) {
  if (broken()) {
    return fault_error();
  }
  size_t got = 0;
  while (got < out.size() && outstanding() < view_.num_entries()) {
    const uint32_t index = next_submit_;
    vbus_ring_desc& shared = view_.submit()[index & view_.mask()];
    // The private copy.  seq first, with acquire: pairs with the guest's
    // smp_store_release() of seq, so the body read below is the one
    // written before that seq.  Each field is read exactly once.
    vbus_ring_desc copy;
    copy.seq = std::atomic_ref<uint32_t>(shared.seq).load(std::memory_order_acquire);
    copy.flags = read_once(shared.flags);
    copy.reserved = read_once(shared.reserved);
    copy.offset = read_once(shared.offset);
    copy.len = read_once(shared.len);
    bool ready = false;
    const DescFault f = check(copy, index, &ready);
    if (f != DescFault::kNone) {
      fault_ = f;
      fault_index_ = index;
      counters_.faults++;
      if (got > 0) {
        break;  // hand over the good ones first; the next poll reports it
      }
      return fault_error();
    }
    if (!ready) {
      break;
    }
    HostDesc& d = out[got++];
    d.index_ = index;
    d.flags_ = copy.flags;
    d.offset_ = copy.offset;
    d.len_ = copy.len;
    chain_len_ = d.has_next() ? chain_len_ + 1 : 0;
    next_submit_++;
    lap_++;
  }
  counters_.consumed += got;
  if (got > 0) {
    counters_.polls++;
  }
  return got;
}

void HostQueue::complete(const HostDesc& d, uint32_t len, uint16_t flags) {
  AVM_CHECK(d.index_ == next_used_ && outstanding() > 0);
  AVM_CHECK(len <= d.len_);
  AVM_CHECK((flags & ~kKnownUsedFlags) == 0);
  vbus_ring_used& u = view_.used()[d.index_ & view_.mask()];
  write_once(u.flags, flags);
  write_once(u.reserved, uint16_t{0});
  write_once(u.len, (flags & VBUS_USED_F_ERROR) != 0 ? 0U : len);
  write_once(u.reserved2, 0U);
  // Body first, seq last: pairs with the guest's smp_load_acquire() of the
  // used seq.  Also orders our earlier reads of the submit entry and of its
  // buffer before the guest can reuse the slot.
  std::atomic_ref<uint32_t>(u.seq).store(d.index_ + 1, std::memory_order_release);
  next_used_++;
  counters_.completed++;
}

}  // namespace avm
